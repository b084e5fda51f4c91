"""Minute bars for teams, from the bar lake (bounded sizes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.web.deps import Caller, Service
from app.web.service import MAX_BARS

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
    start: Annotated[datetime, Query()],
    end: Annotated[datetime, Query()],
):
    return {"symbol": symbol, "bars": service.bars_range(symbol, start, end)}
