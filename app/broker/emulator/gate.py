"""The outermost ASGI layer: rate limit and request faults around Alpaca's routes.

It runs before FastAPI sees a request, so it can delay it, answer in its place, or let
it through, swallow the answer and drop the connection (a timeout after the fact).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.broker.emulator.errors import RATE_LIMITED
from app.broker.emulator.faults import FaultInjector, RateLimiter, RequestFault, rate_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GATEWAY_PAGE = "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>\n"  # noqa: E501
REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


async def _answer(
    send: Send, status: int, body: bytes, ctype: str, headers: dict[str, str]
) -> None:
    raw = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def answer_fault(send: Send, status: int, headers: dict[str, str]) -> None:
    """The body Alpaca (or the gateway in front of it) sends with `status`."""
    if status == 429:
        headers = headers or rate_headers(200, 0, 60)
        body = json.dumps({"code": 42910000, "message": RATE_LIMITED}).encode()
        await _answer(send, 429, body, "application/json", headers)
    elif status in REASONS:
        page = GATEWAY_PAGE.format(status=status, reason=REASONS[status]).encode()
        await _answer(send, status, page, "text/html", headers)
    else:
        body = json.dumps({"code": 50010000, "message": "internal server error occurred"})
        await _answer(send, status, body.encode(), "application/json", headers)


async def _drain(app: ASGIApp, scope: Scope, receive: Receive) -> None:
    """Run the request through the app and throw its answer away."""

    async def swallow(message: Message) -> None:
        return None

    await app(scope, receive, swallow)


async def _drop(send: Send) -> None:
    """Close the client's connection without an answer (uvicorn: through its transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.close()
        for _ in range(3):  # let uvicorn see the disconnect before the app call returns
            await asyncio.sleep(0)
        return
    # Not under uvicorn (e.g. a test client): start an answer that never completes.
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
    await send(start)
    await send({"type": "http.response.body", "body": b"{", "more_body": True})


class FaultGate:
    """Rate limiting and request faults for Alpaca's routes (`/v2/...`, and `/v1/...`, the
    corporate actions); the admin routes pass untouched."""

    def __init__(self, injector: FaultInjector, limiter: RateLimiter) -> None:
        self.injector = injector
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v2/", "/v1/")):
            await app(scope, receive, send)
            return
        allowed, headers = self.limiter.take(_header(scope, b"apca-api-key-id"))
        if not allowed:
            self.injector.note("rate_limited")
            await answer_fault(send, 429, headers)
            return
        fault = self.injector.decide(scope["method"], scope["path"])
        await self._handle(fault, headers, scope, receive, send, app)

    async def _handle(
        self,
        fault: RequestFault,
        headers: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        app: ASGIApp,
    ) -> None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop_after is not None:
            await _drain(app, scope, receive)
            await asyncio.sleep(fault.drop_after)
            await _drop(send)
        elif fault.status is not None:
            if fault.apply_first:
                await _drain(app, scope, receive)
            await answer_fault(send, fault.status, _fault_headers(fault, headers))
        else:
            await app(scope, receive, _with_headers(send, headers))


def _fault_headers(fault: RequestFault, headers: dict[str, str]) -> dict[str, str]:
    """A 429 carries the rate-limit headers, and Retry-After when the fault names one."""
    if fault.status != 429:
        return {}
    if fault.retry_after is None:
        return headers
    return {**(headers or rate_headers(200, 0, 60)), "Retry-After": f"{fault.retry_after:g}"}


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    """Add the rate-limit headers to the app's own answer."""
    if not headers:
        return send
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
