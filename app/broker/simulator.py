"""A simulated broker: fills orders against the next bars, and refuses what Alpaca refuses.

Fill model: a market order submitted at minute t fills at the open of the symbol's next
bar (t+1 or later: a gap waits), worsened by `slippage_bps`; a limit order fills when a
later bar trades through its price (at the open if it opens through, else at the
limit). With `max_participation` an order takes at most that share of each bar's
volume, so large orders fill partially over several bars. Day orders still open at
the session's end expire.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from app.domain.corporate import CorporateAction, HoldingChange, account_change
from app.domain.models import Bar, Fill, Order, OrderEvent, OrderStatus, OrderType, Side
from app.domain.numbers import canonical, price_from_float

ZERO = Decimal(0)
PRICE_QUANTUM = Decimal("0.0001")
CENT = Decimal("0.01")
ORDER_ID_NAMESPACE = uuid.UUID("6f1e4a52-3c1b-4d5e-9a7b-2f0c8d9e1a34")

WASH_TRADE = "potential wash trade detected. use complex orders"
DUPLICATE_ID = "client_order_id must be unique"
INSUFFICIENT_QTY = "insufficient qty available for order"


@dataclass(frozen=True, slots=True)
class FillModel:
    slippage_bps: Decimal = Decimal(0)
    fee_per_share: Decimal = Decimal(0)
    fee_bps: Decimal = Decimal(0)
    max_participation: Decimal | None = None  # share of a bar's volume an order may take

    def fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        raw = quantity * self.fee_per_share + quantity * price * self.fee_bps / 10_000
        return raw.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class _Working:
    order: Order
    broker_id: str
    filled: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled


class SimulatedBroker:
    """The built-in broker for replay and the demo (implements the engine's Broker port)."""

    def __init__(
        self,
        fill_model: FillModel | None = None,
        allow_short: bool = False,
        allow_fractional: bool = False,
    ) -> None:
        self.fill_model = fill_model or FillModel()
        self.allow_short = allow_short
        self.allow_fractional = allow_fractional
        self.quantum = Decimal("0.000000001") if allow_fractional else Decimal(1)
        self._seen_ids: set[str] = set()
        self._open: dict[str, _Working] = {}
        self._events: list[OrderEvent] = []
        self._positions: dict[str, Decimal] = {}
        self._caps: dict[str, Decimal] = {}  # participation caps of single orders
        self.cash_flow = ZERO  # cash moved by fills and fees since the start

    def submit(self, order: Order) -> OrderEvent:
        if order.client_order_id in self._seen_ids:
            return OrderEvent(order.client_order_id, OrderStatus.REJECTED, message=DUPLICATE_ID)
        problem = self._refusal(order)
        if problem:
            # Refused at the door (HTTP 4xx at Alpaca): no order exists, the id stays free.
            return OrderEvent(order.client_order_id, OrderStatus.REJECTED, message=problem)
        self._seen_ids.add(order.client_order_id)
        broker_id = str(uuid.uuid5(ORDER_ID_NAMESPACE, order.client_order_id))
        self._open[order.client_order_id] = _Working(order, broker_id)
        return OrderEvent(order.client_order_id, OrderStatus.NEW)

    def submit_many(self, orders: list[Order]) -> list[OrderEvent]:
        return [self.submit(order) for order in orders]

    def _refusal(self, order: Order) -> str:
        """Alpaca's reasons to refuse an order, or '' if it is acceptable."""
        if order.quantity <= 0:
            return "qty must be > 0"
        fractional = order.quantity != order.quantity.to_integral_value()
        if fractional and not self.allow_fractional:
            return "fractional orders are not enabled for this account"
        if order.order_type is OrderType.LIMIT and (order.limit_price or ZERO) <= 0:
            return "limit_price must be > 0 for a limit order"
        for working in self._open.values():
            if working.order.symbol == order.symbol and working.order.side is not order.side:
                return WASH_TRADE
        position = self._positions.get(order.symbol, ZERO)
        held = sum(
            (
                w.remaining
                for w in self._open.values()
                if w.order.symbol == order.symbol and w.order.side is order.side
            ),
            ZERO,
        )
        signed_after = position + order.side.sign * (order.quantity + held)
        if position != 0 and signed_after != 0 and (signed_after > 0) != (position > 0):
            return INSUFFICIENT_QTY  # would flip long<->short in one order
        if order.side is Side.SELL and position <= 0:
            if not self.allow_short:
                return "account is not allowed to short"
            if fractional:
                return "fractional orders cannot be sold short"
        return ""

    def on_bars(self, minute: datetime, bars: Mapping[str, Bar]) -> None:
        for client_id in list(self._open):
            working = self._open[client_id]
            bar = bars.get(working.order.symbol)
            submitted = working.order.submitted_at
            if bar is None or (submitted is not None and bar.timestamp < submitted):
                continue  # an order trades only against bars that start once it was sent
            self._match(working, bar)

    def _match(self, working: _Working, bar: Bar) -> None:
        order = working.order
        price = self._execution_price(order, bar)
        if price is None:
            return
        quantity = self._tradable_quantity(working, bar)
        if quantity <= 0:
            return
        fee = self.fill_model.fee(quantity, price)
        working.filled += quantity
        self._positions[order.symbol] = (
            self._positions.get(order.symbol, ZERO) + order.side.sign * quantity
        )
        self.cash_flow -= order.side.sign * quantity * price + fee
        done = working.remaining == 0
        if done:
            del self._open[order.client_order_id]
        fill = Fill(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            timestamp=bar.timestamp,
            fee=fee,
            execution_id=f"{working.broker_id}-{working.filled}",
        )
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        self._events.append(OrderEvent(order.client_order_id, status, fill))

    def _execution_price(self, order: Order, bar: Bar) -> Decimal | None:
        open_price = price_from_float(bar.open)
        if order.order_type is OrderType.MARKET:
            factor = 1 + order.side.sign * self.fill_model.slippage_bps / 10_000
            rounding = ROUND_CEILING if order.side is Side.BUY else ROUND_FLOOR
            return canonical((open_price * factor).quantize(PRICE_QUANTUM, rounding=rounding))
        limit = order.limit_price or ZERO
        if order.side is Side.BUY:
            return min(open_price, limit) if price_from_float(bar.low) <= limit else None
        return max(open_price, limit) if price_from_float(bar.high) >= limit else None

    def _tradable_quantity(self, working: _Working, bar: Bar) -> Decimal:
        cap = self.fill_model.max_participation
        own = self._caps.get(working.order.client_order_id)
        if own is not None:
            cap = own if cap is None else min(cap, own)
        if cap is None:
            return working.remaining
        if not math.isfinite(bar.volume) or bar.volume <= 0:
            return ZERO
        whole = working.order.quantity == working.order.quantity.to_integral_value()
        step = Decimal(1) if whole else self.quantum  # whole-share orders fill in whole shares
        allowed = (Decimal(repr(bar.volume)) * cap / step).to_integral_value(
            rounding=ROUND_FLOOR
        ) * step
        return min(working.remaining, max(allowed, step))

    def cancel(self, client_order_id: str) -> bool:
        """Withdraw a working order; False if it is not working (any more)."""
        self._caps.pop(client_order_id, None)
        return self._open.pop(client_order_id, None) is not None

    def cancel_all(self) -> None:
        for client_id in sorted(self._open):
            self.cancel(client_id)
            self._events.append(
                OrderEvent(client_id, OrderStatus.CANCELED, message="canceled by the organiser")
            )

    def cap_participation(self, client_order_id: str, share: Decimal) -> None:
        """Let one order take at most `share` of each bar's volume (slow or thin fills)."""
        self._caps[client_order_id] = share

    def poll(self) -> list[OrderEvent]:
        events, self._events = self._events, []
        return events

    def end_session(self, day: date) -> None:
        for client_id in sorted(self._open):
            del self._open[client_id]
            self._events.append(
                OrderEvent(
                    client_id,
                    OrderStatus.EXPIRED,
                    message=f"day order expired at the close of {day}",
                )
            )

    def hold_positions(self, positions: Mapping[str, Decimal]) -> None:
        """Start from what an earlier run's account held (a continued replay)."""
        self._positions = {s: q for s, q in positions.items() if q != 0}

    def apply_corporate_action(self, action: CorporateAction, price: Decimal) -> HoldingChange:
        """What a broker does on the ex-date: the dividend paid (a short pays it), or the
        position split with cash in lieu of the fraction below the share unit."""
        held = self._positions.get(action.symbol, ZERO)
        change = account_change(action, held, price, self.quantum)
        if held:
            self._positions[action.symbol] = change.quantity_after
            self.cash_flow += change.cash
        return change

    def positions(self) -> dict[str, Decimal]:
        return {s: q for s, q in self._positions.items() if q != 0}

    def open_orders(self) -> list[Order]:
        return [w.order for w in self._open.values()]
