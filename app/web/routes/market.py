"""Minute bars for teams, from the bar lake (bounded sizes)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path

from app.web.deps import Caller, Service
from app.web.service import MAX_BARS
from app.web.times import EndTime, StartTime

router = APIRouter(prefix="/api/v1/market-data/{symbol}", tags=["market data"])
Symbol = Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,12}$")]


@router.get("/recent/{n}")
def recent(symbol: Symbol, n: Annotated[int, Path(ge=1, le=MAX_BARS)], service: Service,
           _who: Caller):  # fmt: skip
    return {"symbol": symbol, "bars": service.bars_recent(symbol, n)}


@router.get("/day/{day}")
def day(symbol: Symbol, day: date, service: Service, _who: Caller):
    return {"symbol": symbol, "bars": service.bars_day(symbol, day)}


@router.get("/range")
def bar_range(
    symbol: Symbol,
    service: Service,
    _who: Caller,
    start: StartTime,  # type: ignore[valid-type]
    end: EndTime,  # type: ignore[valid-type]
):
    """Bars from `start` (included) to `end` (excluded). Times: a zone is exact, no zone is
    UTC, a date alone is that New York day (as `end`, included)."""
    return {"symbol": symbol, "bars": service.bars_range(symbol, start, end)}
