"""Alpaca's account rules an order must pass before it reaches the simulator's own checks
(duplicate id, wash trade, long/short flip): tradable asset, fractional shares, shorting
and buying power."""

from __future__ import annotations

from decimal import Decimal

from app.broker.emulator import errors
from app.broker.emulator.assets import AssetInfo
from app.broker.emulator.models import AccountFigures
from app.broker.emulator.queries import OrderRequest
from app.domain.models import OrderType, Side

SHORT_MINIMUM_EQUITY = Decimal(2000)


def opens_exposure(side: Side, position: Decimal) -> bool:
    """True if an order on `side` opens or adds to a position (buy when flat or long)."""
    return position >= 0 if side is Side.BUY else position <= 0


def check_order(
    request: OrderRequest,
    asset: AssetInfo,
    position: Decimal,
    account: AccountFigures,
    price: Decimal | None,
    pending: Decimal,
    allow_fractional: bool,
) -> None:
    """Raise Alpaca's refusal, if any. `price`: the order's reference price (its limit, else
    the last close; None if unknown), `pending`: the notional of open orders that add
    exposure (they hold buying power)."""
    if not asset.tradable or asset.status != "active":
        raise errors.unprocessable(f"asset {asset.symbol} is not tradable", 42210000)
    if request.fractional:
        if not allow_fractional:
            raise errors.forbidden("fractional trading is not enabled for this account")
        if not asset.fractionable:
            raise errors.unprocessable(f"asset {asset.symbol} is not fractionable")
        if request.order_type is not OrderType.MARKET:
            raise errors.unprocessable("fractional orders must be DAY market orders")
    if request.side is Side.SELL and position <= 0:
        check_short(request, asset, account)
    if not opens_exposure(request.side, position) or price is None:
        return
    if request.quantity * price + pending > account.buying_power:
        raise errors.forbidden(errors.BUYING_POWER)


def check_short(request: OrderRequest, asset: AssetInfo, account: AccountFigures) -> None:
    if not account.shorting_enabled or account.equity < SHORT_MINIMUM_EQUITY:
        raise errors.forbidden(errors.NOT_SHORTABLE_ACCOUNT)
    if request.fractional:
        raise errors.forbidden(errors.FRACTIONAL_SHORT)
    if not asset.shortable:
        raise errors.forbidden(f"asset {asset.symbol} is not shortable")
    if not asset.easy_to_borrow:
        raise errors.forbidden(f"asset {asset.symbol} is not easy to borrow")
