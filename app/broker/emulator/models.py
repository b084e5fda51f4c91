"""The JSON shapes Alpaca sends, as alpaca-py 0.44 parses them.

Every field alpaca-py requires is present (`Order`: id, client_order_id, created_at,
updated_at, submitted_at, time_in_force, status, extended_hours; `Position`: asset_id,
symbol, exchange, asset_class, avg_entry_price, qty, side, cost_basis; `TradeAccount`:
id, account_number, status; `Clock`: all four; a bar: t, o, h, l, c, v and n, vw even
when null). Ids are UUIDs; numbers Alpaca sends as strings are strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.broker.emulator.assets import AssetInfo
from app.broker.emulator.books import Holding, OrderRecord
from app.broker.emulator.clock import NEW_YORK
from app.domain.models import Bar, Fill
from app.domain.numbers import canonical
from app.domain.timefmt import to_rfc3339

NINE_PLACES = Decimal("0.000000001")
PERCENT_PLACES = Decimal("0.0000000001")

Json = dict[str, Any]


def num(value: Decimal | None, places: Decimal = NINE_PLACES) -> str | None:
    """A Decimal as Alpaca's decimal string (`"671.16"`, `"-10"`); None stays None."""
    if value is None:
        return None
    return format(canonical(value.quantize(places)), "f")


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else to_rfc3339(moment)


def eastern(moment: datetime) -> str:
    """Alpaca's clock times: New York local time with its offset."""
    return moment.astimezone(NEW_YORK).isoformat()


def order_json(record: OrderRecord, asset_id: str, status: str | None = None) -> Json:
    order = record.order
    kind = order.order_type.value
    return {
        "id": record.id,
        "client_order_id": order.client_order_id,
        "created_at": stamp(record.created_at),
        "updated_at": stamp(record.updated_at or record.created_at),
        "submitted_at": stamp(record.created_at),
        "filled_at": stamp(record.filled_at),
        "expired_at": stamp(record.expired_at),
        "expires_at": stamp(record.expires_at),
        "canceled_at": stamp(record.canceled_at),
        "failed_at": stamp(record.failed_at),
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id,
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": num(order.quantity),
        "filled_qty": num(record.filled_qty),
        "filled_avg_price": num(record.avg_price),
        "order_class": "simple",
        "order_type": kind,
        "type": kind,
        "side": order.side.value,
        "position_intent": record.position_intent or None,
        "time_in_force": "day",
        "limit_price": num(order.limit_price),
        "stop_price": None,
        "status": status or record.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
    }


@dataclass(frozen=True, slots=True)
class Quote:
    """Prices a position is valued at: the last closed bar's close and the prior session's."""

    current: Decimal | None
    lastday: Decimal | None
    session: date | None


def position_json(holding: Holding, asset: AssetInfo, quote: Quote, held: Decimal) -> Json:
    """`held`: quantity of open orders that would close this position (held_for_orders)."""
    qty, entry = holding.qty, holding.avg_entry
    price = quote.current if quote.current is not None else entry
    cost = qty * entry
    value = qty * price
    pl = value - cost
    base = quote.lastday if quote.lastday is not None and holding.opened != quote.session else entry
    intraday_pl = qty * (price - base)
    day_change = (price - quote.lastday) / quote.lastday if quote.lastday else Decimal(0)
    return {
        "asset_id": asset.id,
        "symbol": asset.symbol,
        "exchange": asset.exchange,
        "asset_class": "us_equity",
        "asset_marginable": asset.marginable,
        "avg_entry_price": num(entry),
        "qty": num(qty),
        "qty_available": num(qty - held if qty > 0 else qty + held),
        "side": "long" if qty > 0 else "short",
        "market_value": num(value),
        "cost_basis": num(cost),
        "unrealized_pl": num(pl),
        "unrealized_plpc": num(pl / abs(cost) if cost else Decimal(0), PERCENT_PLACES),
        "unrealized_intraday_pl": num(intraday_pl),
        "unrealized_intraday_plpc": num(
            intraday_pl / abs(qty * base) if base else Decimal(0), PERCENT_PLACES
        ),
        "current_price": num(price),
        "lastday_price": num(quote.lastday if quote.lastday is not None else entry),
        "change_today": num(day_change, PERCENT_PLACES),
    }


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """The money side of the account, computed by the state."""

    id: str
    number: str
    created_at: datetime
    cash: Decimal
    long_value: Decimal
    short_value: Decimal  # negative
    last_equity: Decimal
    multiplier: int
    shorting_enabled: bool

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long_value + self.short_value

    @property
    def gross(self) -> Decimal:
        return self.long_value - self.short_value

    @property
    def initial_margin(self) -> Decimal:
        return self.gross / 2 if self.multiplier > 1 else self.gross

    @property
    def buying_power(self) -> Decimal:
        if self.multiplier == 1:
            return max(self.cash, Decimal(0))
        return max((self.equity - self.initial_margin) * self.multiplier, Decimal(0))


def account_json(acct: AccountFigures) -> Json:
    money = {
        "cash": acct.cash,
        "buying_power": acct.buying_power,
        "regt_buying_power": acct.buying_power,
        "non_marginable_buying_power": max(acct.cash, Decimal(0)),
        "options_buying_power": max(acct.cash, Decimal(0)),
        "equity": acct.equity,
        "portfolio_value": acct.equity,
        "last_equity": acct.last_equity,
        "long_market_value": acct.long_value,
        "short_market_value": acct.short_value,
        "position_market_value": acct.long_value - acct.short_value,
        "initial_margin": acct.initial_margin,
        "maintenance_margin": acct.gross * Decimal("0.3"),
        "last_maintenance_margin": Decimal(0),
        "sma": Decimal(0),
        "accrued_fees": Decimal(0),
        "pending_transfer_in": Decimal(0),
        "pending_transfer_out": Decimal(0),
    }
    return {
        "id": acct.id,
        "admin_configurations": {},
        "user_configurations": None,
        "account_number": acct.number,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        **{key: num(value, Decimal("0.01")) for key, value in money.items()},
        "multiplier": str(acct.multiplier),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "shorting_enabled": acct.shorting_enabled,
        "created_at": stamp(acct.created_at),
        "daytrade_count": 0,
        "balance_asof": acct.created_at.astimezone(NEW_YORK).date().isoformat(),
        "options_approved_level": 0,
        "options_trading_level": 0,
        "crypto_tier": 0,
    }


def asset_json(asset: AssetInfo) -> Json:
    return {
        "id": asset.id,
        "class": "us_equity",
        "exchange": asset.exchange,
        "symbol": asset.symbol,
        "name": asset.name,
        "status": asset.status,
        "tradable": asset.tradable,
        "marginable": asset.marginable,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "30",
        "shortable": asset.shortable,
        "easy_to_borrow": asset.easy_to_borrow,
        "fractionable": asset.fractionable,
        "attributes": ["fractional_eh_enabled"] if asset.fractionable else [],
    }


def clock_json(now: datetime, is_open: bool, next_open: datetime, next_close: datetime) -> Json:
    return {
        "timestamp": eastern(now),
        "is_open": is_open,
        "next_open": eastern(next_open),
        "next_close": eastern(next_close),
    }


def calendar_json(day: date, opens: datetime, closes: datetime) -> Json:
    """Alpaca's calendar row: local HH:MM times, as alpaca-py's Calendar expects."""
    return {
        "date": day.isoformat(),
        "open": opens.astimezone(NEW_YORK).strftime("%H:%M"),
        "close": closes.astimezone(NEW_YORK).strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": day.isoformat(),
    }


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == int(value) else value


def bar_json(bar: Bar) -> Json:
    return {
        "t": to_rfc3339(bar.timestamp),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": _number(bar.volume),
        "n": _number(bar.trade_count),
        "vw": bar.vwap,
    }


def fill_json(record: OrderRecord, fill: Fill) -> dict[str, Any]:
    """One fill of an order, as the emulator's admin route lists it."""
    return {
        "order_id": record.id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": str(fill.quantity),
        "price": str(fill.price),
        "timestamp": fill.timestamp.isoformat(),
        "execution_id": fill.execution_id,
    }
