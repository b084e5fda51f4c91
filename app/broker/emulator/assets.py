"""The emulator's assets: one per replayed symbol, with Alpaca's trading flags.

Default rule: every symbol is an active, tradable `us_equity`, marginable, shortable,
easy to borrow and fractionable; its exchange comes from a small table of the shared data
set's listings (NASDAQ otherwise). Any flag can be overridden per symbol.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ASSET_NAMESPACE = uuid.UUID("0b7d3c5e-8f24-4a61-9d3e-5c2a7e1f9b40")
NYSE = frozenset({"BABA", "DAL", "DIS", "NVO", "ORCL", "OXY", "TSM"})
ARCA = frozenset({"SPY", "IWM", "ARKK", "KWEB", "SOXS", "UVXY"})


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What `GET /v2/assets/{symbol}` reports."""

    symbol: str
    exchange: str = "NASDAQ"
    name: str = ""
    status: str = "active"
    tradable: bool = True
    marginable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    fractionable: bool = True

    @property
    def id(self) -> str:
        """A UUID that is stable per symbol."""
        return str(uuid.uuid5(ASSET_NAMESPACE, self.symbol))


def default_asset(symbol: str) -> AssetInfo:
    exchange = "NYSE" if symbol in NYSE else "ARCA" if symbol in ARCA else "NASDAQ"
    return AssetInfo(symbol, exchange, name=f"{symbol} (emulated)")


def build_assets(
    symbols: Iterable[str], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, AssetInfo]:
    """Assets for the universe; `overrides` maps a symbol to flags, e.g. {"shortable": False}."""
    known = {f.name for f in fields(AssetInfo)} - {"symbol"}
    assets = {s: default_asset(s) for s in sorted(symbols)}
    for symbol, flags in (overrides or {}).items():
        if unknown := set(flags) - known:
            raise ValueError(f"asset {symbol}: unknown field(s) {', '.join(sorted(unknown))}")
        assets[symbol] = replace(assets.get(symbol, default_asset(symbol)), **flags)
    return assets
