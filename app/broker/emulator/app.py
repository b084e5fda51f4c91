"""The emulator's FastAPI app: Alpaca's REST v2 routes and the `/_emulator/` admin routes,
thin over one EmulatorState. Faults and the rate limit sit in front of it (FaultGate).

Alpaca routes (keys in APCA-API-KEY-ID / APCA-API-SECRET-KEY): /v2/account, /v2/clock,
/v2/calendar, /v2/assets[/{symbol_or_id}], /v2/positions[/{symbol_or_id}] (GET, DELETE =
close), /v2/orders (POST, GET, DELETE = cancel all, 207), /v2/orders/{id} (GET, DELETE),
/v2/orders:by_client_order_id, /v2/stocks/bars, /v2/stocks/bars/latest,
/v2/account/activities[/{type}] (DIV, SPLIT) and /v1/corporate-actions (see corporate.py).

Admin routes (same keys; never faulted): POST /_emulator/advance?minutes=N[&until=T],
GET /_emulator/state, POST /_emulator/faults?spec=... (or {"spec": ...}; "" clears),
POST /_emulator/reset, GET /_emulator/orders (every order ever accepted, in order),
GET /_emulator/fills, GET /_emulator/refusals (every refused submit, with its answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.broker.emulator.bars import parse_time
from app.broker.emulator.errors import AlpacaError, unauthorized, unprocessable
from app.broker.emulator.faults import parse_faults
from app.broker.emulator.gate import FaultGate
from app.broker.emulator.models import asset_json, bar_json, calendar_json, clock_json
from app.broker.emulator.queries import parse_bar_query, parse_order_filter
from app.broker.emulator.state import EmulatorState

Json = dict[str, Any]


class EmulatorApp(FastAPI):
    """A FastAPI app whose outermost layer is the fault gate (it may drop connections)."""

    gate: FaultGate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.gate(scope, receive, send, super().__call__)


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


async def require_keys(request: Request) -> None:
    """Alpaca's key headers must match the configured pair (async: no thread hop per call)."""
    config = _state(request).config
    key = request.headers.get("APCA-API-KEY-ID", "")
    secret = request.headers.get("APCA-API-SECRET-KEY", "")
    good_key = hmac.compare_digest(key.encode(), config.api_key.encode())
    if not (good_key & hmac.compare_digest(secret.encode(), config.secret_key.encode())):
        raise unauthorized()


trading = APIRouter(prefix="/v2", dependencies=[Depends(require_keys)])
admin = APIRouter(prefix="/_emulator", dependencies=[Depends(require_keys)])
data_v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_keys)])  # corporate actions


@trading.get("/account")
async def get_account(request: Request) -> Json:
    return _state(request).account()


@trading.get("/clock")
async def get_clock(request: Request) -> Json:
    state = _state(request)
    with state.lock:
        next_open, next_close = state.clock.next_open_close()
        return clock_json(state.now, state.clock.is_open(), next_open, next_close)


@trading.get("/calendar")
async def get_calendar(request: Request, start: str | None = None, end: str | None = None) -> list:
    state = _state(request)
    first, last = parse_time(start, "start"), parse_time(end, "end")
    first_day = first.date() if first else state.clock.session()
    last_day = last.date() if last else first_day
    return [calendar_json(*row) for row in state.clock.sessions(first_day, last_day)]


@trading.get("/assets")
async def get_assets(request: Request, status: str | None = None) -> list[Json]:
    assets = _state(request).assets.values()
    return [asset_json(a) for a in assets if status in (None, "", a.status)]


@trading.get("/assets/{symbol_or_id}")
async def get_asset(request: Request, symbol_or_id: str) -> Json:
    return asset_json(_state(request).asset(symbol_or_id))


@trading.get("/positions")
async def get_positions(request: Request) -> list[Json]:
    return _state(request).positions()


@trading.get("/positions/{symbol_or_id}")
async def get_position(request: Request, symbol_or_id: str) -> Json:
    return _state(request).position(symbol_or_id)


@trading.delete("/positions/{symbol_or_id}")
async def close_position(request: Request, symbol_or_id: str, qty: str | None = None) -> Json:
    return _state(request).close_position(symbol_or_id, qty)


@trading.post("/orders")
async def submit_order(request: Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise unprocessable("request body must be JSON") from None
    return _state(request).submit(body)


@trading.get("/orders")
async def list_orders(request: Request) -> list[Json]:
    query = parse_order_filter(request.query_params)
    return _state(request).list_orders(query)


@trading.delete("/orders")
async def cancel_orders(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).cancel_all(), status_code=207)


@trading.get("/orders:by_client_order_id")
async def order_by_client_id(request: Request, client_order_id: str = "") -> Json:
    return _state(request).order_by_client_id(client_order_id)


@trading.get("/orders/{order_id}")
async def get_order(request: Request, order_id: str) -> Json:
    return _state(request).order(order_id)


@trading.delete("/orders/{order_id}", status_code=204)
async def cancel_order(request: Request, order_id: str) -> Response:
    _state(request).cancel(order_id)
    return Response(status_code=204)


@trading.get("/stocks/bars")
async def stock_bars(request: Request) -> Json:
    state = _state(request)
    with state.lock:
        query = parse_bar_query(request.query_params, state.now, state.config.max_page_size)
        bars, token = state.index.page(query, state.now)
    return {
        "bars": {s: [bar_json(b) for b in rows] for s, rows in bars.items()},
        "next_page_token": token,
    }


@trading.get("/account/activities")
async def account_activities(request: Request, activity_types: str = "") -> list[Json]:
    return _activities(request, activity_types)


@trading.get("/account/activities/{activity_type}")
async def account_activities_of(request: Request, activity_type: str) -> list[Json]:
    return _activities(request, activity_type)


def _activities(request: Request, types: str) -> list[Json]:
    state = _state(request)
    with state.lock:
        return state.corporate.activity_list({t.strip() for t in types.split(",") if t.strip()})


@data_v1.get("/corporate-actions")
async def corporate_actions(
    request: Request, symbols: str = "", types: str = "", start: str = "", end: str = ""
) -> Json:
    state = _state(request)
    today = state.clock.session() or state.now.date()
    try:
        first = date.fromisoformat(start) if start else today
        last = date.fromisoformat(end) if end else today
    except ValueError as exc:
        raise unprocessable(f"invalid date: {exc}") from None
    wanted = {s.strip() for s in symbols.split(",") if s.strip()} or None
    kinds = {t.strip() for t in types.split(",") if t.strip()} or None
    with state.lock:
        return state.corporate.announcements(wanted, kinds, first, last)


@trading.get("/stocks/bars/latest")
async def latest_bars(request: Request, symbols: str = "") -> Json:
    state = _state(request)
    with state.lock:
        wanted = sorted({s.strip() for s in symbols.split(",") if s.strip()})
        found = {s: state.index.latest(s, state.now) for s in wanted}
    return {"bars": {s: bar_json(b) for s, b in found.items() if b is not None}}


@admin.post("/advance")
async def advance(request: Request, minutes: int = 1, until: str | None = None) -> Json:
    state = _state(request)
    moved = state.advance(minutes, parse_time(until, "until"))
    return {"advanced": moved, **state.summary()}


@admin.get("/state")
async def summary(request: Request) -> Json:
    return _state(request).summary()


@admin.post("/faults")
async def set_faults(request: Request, spec: str | None = None) -> Json:
    """Set the fault spec: `?spec=...` or a JSON body {"spec": "..."}; "" clears it."""
    if spec is None:
        body = await request.json() if await request.body() else {}
        spec = str(body.get("spec") or "")
    try:
        parsed = _state(request).faults.set(parse_faults(spec))
    except ValueError as exc:
        raise unprocessable(str(exc)) from None
    return {"spec": parsed.text, "rules": len(parsed.rules), "seed": parsed.seed}


@admin.post("/reset")
async def reset(request: Request) -> Json:
    state = _state(request)
    state.reset()
    return state.summary()


@admin.get("/orders")
async def every_order(request: Request) -> list[Json]:
    return _state(request).all_orders()


@admin.get("/fills")
async def every_fill(request: Request) -> list[Json]:
    return _state(request).all_fills()


@admin.get("/refusals")
async def every_refusal(request: Request) -> list[Json]:
    with _state(request).lock:
        return list(_state(request).refusals)


async def _alpaca_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlpacaError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"code": 40010001, "message": str(exc)}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = {"code": exc.status_code * 100_000 + 10_000, "message": str(exc.detail).lower()}
    return JSONResponse(body, status_code=exc.status_code)


async def run_clock(state: EmulatorState, speed: float) -> None:
    """Advance the replay clock `speed` steps per wall second until the replay ends."""
    loop = asyncio.get_running_loop()
    began, done = loop.time(), 0
    while not state.clock.finished:
        await asyncio.sleep(min(max(1 / speed, 0.01), 1.0))
        due = int((loop.time() - began) * speed)
        if due > done:
            state.advance(due - done)
            done = due


def create_emulator_app(state: EmulatorState) -> FastAPI:
    """The emulator as an ASGI app; with `state.config.speed` its clock runs by itself."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        speed = state.config.speed
        task = asyncio.create_task(run_clock(state, speed)) if speed else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = EmulatorApp(
        title="Alpaca emulator (Strategy Arena)",
        lifespan=lifespan,
        docs_url=None,
    )
    app.gate = FaultGate(state.faults, state.limiter)
    app.state.emulator = state
    app.include_router(trading)
    app.include_router(admin)
    app.include_router(data_v1)
    app.add_exception_handler(AlpacaError, _alpaca_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app
