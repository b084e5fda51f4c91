"""Limit orders, emulated by the host.

A limit intent cannot join a netted market block, so the host keeps it resting (day
validity) and releases it as a market intent at the first minute whose reference price
(the close) is at or through the limit: a buy when the close is at or below it, a sell
when at or above. Released intents are checked against the team's cash and holdings
again at that moment. The fill is the block's price, which can differ from the limit
by the next minute's move; this is documented for teams.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from app.domain.models import Intent, OrderType, Side

MAX_RESTING_PER_TEAM = 100


def is_marketable(intent: Intent, reference_price: Decimal) -> bool:
    if intent.order_type is OrderType.MARKET or intent.limit_price is None:
        return True
    if intent.side is Side.BUY:
        return reference_price <= intent.limit_price
    return reference_price >= intent.limit_price


def release_marketable(
    resting: list[Intent], reference_prices: Mapping[str, Decimal]
) -> tuple[list[Intent], list[Intent]]:
    """Split resting limits into (released as market intents, still resting)."""
    released, still = [], []
    for intent in resting:
        price = reference_prices.get(intent.symbol)
        if price is not None and is_marketable(intent, price):
            released.append(replace(intent, order_type=OrderType.MARKET, limit_price=None))
        else:
            still.append(intent)
    return released, still
