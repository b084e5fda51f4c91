"""The Broker port over one Alpaca account, through alpaca-py's TradingClient.

Nothing is ever sent twice by accident: every order carries its deterministic client
order ID; after a timeout, a 5xx, a dropped connection or a 429 the order is looked up by
that ID before anything is re-sent, and a 422 "client_order_id must be unique" means the
order exists. All requests share one rate limit sized to Alpaca's 200 requests a minute.
Fills are read by polling the account's orders once per tick.

alpaca-py's own timeout-less session and hidden retries are replaced (app.alpaca.http):
this adapter owns timing and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from app.alpaca.http import tune_client
from app.broker.alpaca_requests import (
    Pacer,
    TransientError,
    api_code,
    api_message,
    order_request,
    status_code,
    status_text,
)
from app.domain.models import Bar, Fill, Order, OrderEvent, OrderStatus
from app.domain.numbers import canonical

log = logging.getLogger(__name__)
ZERO = Decimal(0)
DUPLICATE_CODE = 40010001
PRICE_QUANTUM = Decimal("0.000001")
_FINAL = {
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "done_for_day": OrderStatus.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class AlpacaLimits:
    requests_per_minute: int = 200
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_seconds: float = 0.5  # doubled per attempt
    lookups_before_giving_up: int = 5  # polls of an order the broker never confirmed
    concurrent_submits: int = 16  # TimeoutSession keeps as many connections
    recovery_seconds: float = 30.0  # after a restart: wait this long for a cancel to land


@dataclass(slots=True)
class _Tracked:
    order: Order
    alpaca_id: str | None = None
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fills: int = 0
    unconfirmed_polls: int = 0


class AlpacaBroker:
    """Implements the engine's Broker port over one Alpaca account."""

    def __init__(
        self,
        client: TradingClient,
        limits: AlpacaLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits or AlpacaLimits()
        self.client = tune_client(client, self.limits.timeout_seconds)
        self._sleep = sleep
        self._pacer = Pacer(self.limits.requests_per_minute, sleep)
        self._tracked: dict[str, _Tracked] = {}
        self.requests = 0
        self._pool = ThreadPoolExecutor(self.limits.concurrent_submits, "alpaca-submit")

    # -- submitting ------------------------------------------------------------------------

    def submit(self, order: Order) -> OrderEvent:
        tracked = self._tracked.setdefault(order.client_order_id, _Tracked(order))
        for attempt in range(self.limits.max_attempts):
            try:
                answer = self._call(self.client.submit_order, order_request(order))
            except APIError as error:
                event = self._after_api_error(tracked, error)
                if event is not None:
                    return event
            except requests.RequestException as error:
                log.warning("%s: %s; looking it up", order.client_order_id, error)
            else:
                return self._accepted(tracked, answer)
            self._sleep(self.limits.backoff_seconds * 2**attempt)
            try:
                existing = self._lookup(order.client_order_id)  # the POST may have landed
            except TransientError:
                continue  # re-sending is safe: a duplicate ID is refused, never created
            if existing is not None:
                return self._accepted(tracked, existing)
        # Unreachable for now: the order stays tracked, and each poll looks it up again.
        return OrderEvent(order.client_order_id, OrderStatus.NEW, message="unconfirmed")

    def submit_many(self, orders: list[Order]) -> list[OrderEvent]:
        """Submit concurrently (each is for another symbol, with its own client order ID):
        a tick's orders then take about one round trip to the broker, not one each."""
        if len(orders) <= 1:
            return [self.submit(order) for order in orders]
        return list(self._pool.map(self.submit, orders))

    def _after_api_error(self, tracked: _Tracked, error: APIError) -> OrderEvent | None:
        """An answer that settles the submit, or None to look it up and retry."""
        status = status_code(error)
        if api_code(error) == DUPLICATE_CODE or "must be unique" in str(error):
            try:
                existing = self._lookup(tracked.order.client_order_id)
            except TransientError:
                return None
            if existing is not None:
                return self._accepted(tracked, existing)
        if status == 429 or status is None or status >= 500:
            return None
        self._tracked.pop(tracked.order.client_order_id, None)
        return OrderEvent(tracked.order.client_order_id, OrderStatus.REJECTED,
                          message=api_message(error))  # fmt: skip

    def _accepted(self, tracked: _Tracked, answer: Any) -> OrderEvent:
        tracked.alpaca_id = str(answer.id)
        return OrderEvent(tracked.order.client_order_id, OrderStatus.NEW)

    def _lookup(self, client_order_id: str) -> Any | None:
        """The order with this client ID, None if the broker has none, TransientError if unsure."""
        try:
            return self._transient(self.client.get_order_by_client_id, client_order_id)
        except APIError as error:
            if status_code(error) == 404:
                return None
            raise

    def _transient(self, method: Callable[..., Any], *args: Any) -> Any:
        """`method(*args)`, with 429s, 5xx and network failures raised as TransientError."""
        try:
            return self._call(method, *args)
        except APIError as error:
            status = status_code(error)
            if status is None or status == 429 or status >= 500:
                raise TransientError(str(error)) from error
            raise
        except requests.RequestException as error:
            raise TransientError(str(error)) from error

    def _patiently(self, attempt_once: Callable[[], Any]) -> Any:
        """`attempt_once()` again, with backoff, while the broker is unsure; the last
        TransientError propagates."""
        attempts = self.limits.max_attempts * 2
        for attempt in range(attempts):
            try:
                return attempt_once()
            except TransientError:
                if attempt == attempts - 1:
                    raise
            self._sleep(self.limits.backoff_seconds * 2 ** min(attempt, 4))
        raise AssertionError("unreachable")

    def _patient(self, method: Callable[..., Any], *args: Any) -> Any:
        """A read that waits out 429s, 5xx and dropped connections (with backoff)."""
        return self._patiently(lambda: self._transient(method, *args))

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        self._pacer.wait()
        self.requests += 1
        return method(*args)

    # -- following orders ------------------------------------------------------------------

    def poll(self) -> list[OrderEvent]:
        """Fills and final states of every tracked order since the last poll."""
        if not self._tracked:
            return []
        try:
            orders = self._recent_orders()
        except (APIError, requests.RequestException) as error:
            log.warning("polling orders failed (%s); trying again next tick", error)
            return []
        events: list[OrderEvent] = []
        for client_id in list(self._tracked):
            tracked = self._tracked[client_id]
            answer = orders.get(client_id)
            if answer is None:
                events.extend(self._missing(tracked))
                continue
            tracked.alpaca_id = str(answer.id)
            events.extend(self._progress(tracked, answer))
        return events

    def _recent_orders(self) -> dict[str, Any]:
        earliest = min(
            (t.order.submitted_at for t in self._tracked.values() if t.order.submitted_at),
            default=datetime.now(UTC),
        )
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL, after=earliest - timedelta(minutes=1), limit=500
        )
        return {o.client_order_id: o for o in self._call(self.client.get_orders, request)}

    def _missing(self, tracked: _Tracked) -> list[OrderEvent]:
        """An order the listing does not show: look it up; give up after a few polls."""
        try:
            found = self._lookup(tracked.order.client_order_id)
        except TransientError:
            return []  # unsure is not absent: ask again next tick
        if found is not None:
            return self._progress(tracked, found)
        tracked.unconfirmed_polls += 1
        if tracked.unconfirmed_polls < self.limits.lookups_before_giving_up:
            return []
        del self._tracked[tracked.order.client_order_id]
        return [OrderEvent(tracked.order.client_order_id, OrderStatus.REJECTED,
                           message="the broker never confirmed this order")]  # fmt: skip

    def _progress(self, tracked: _Tracked, answer: Any) -> list[OrderEvent]:
        events = []
        filled = Decimal(str(answer.filled_qty or 0))
        status = _FINAL.get(status_text(answer))
        if filled > tracked.filled:
            fill = self._fill_increment(tracked, answer, filled)
            done = status is not None and filled == tracked.order.quantity
            events.append(OrderEvent(
                tracked.order.client_order_id,
                OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, fill,
            ))  # fmt: skip
        if status is not None:
            self._tracked.pop(tracked.order.client_order_id, None)
            if not events or events[-1].status is not OrderStatus.FILLED:
                message = "" if status is OrderStatus.FILLED else f"{status.value} by the broker"
                events.append(OrderEvent(tracked.order.client_order_id, status, message=message))
        return events

    def _fill_increment(self, tracked: _Tracked, answer: Any, filled: Decimal) -> Fill:
        """The new part of an order's fill; its price from the change of the average."""
        average = Decimal(str(answer.filled_avg_price))
        notional = filled * average
        quantity = filled - tracked.filled
        price = canonical(((notional - tracked.notional) / quantity).quantize(PRICE_QUANTUM))
        tracked.filled, tracked.notional = filled, notional
        tracked.fills += 1
        stamp = answer.filled_at or answer.updated_at or datetime.now(UTC)
        return Fill(
            client_order_id=tracked.order.client_order_id,
            symbol=tracked.order.symbol,
            side=tracked.order.side,
            quantity=quantity,
            price=price,
            timestamp=stamp.astimezone(UTC),
            execution_id=f"{answer.id}-{tracked.fills}",
        )

    # -- recovery after a restart ----------------------------------------------------------

    def recover(
        self, order: Order, filled: Decimal, notional: Decimal, fills: int, cancel: bool = True
    ) -> list[OrderEvent]:
        """What became of a journaled order beyond the `filled` quantity already booked.

        An order the broker never received is reported rejected; an open one is canceled
        first (unless `cancel` is False: a dry run only looks) and followed until final.
        """
        tracked = _Tracked(order, filled=filled, notional=notional, fills=fills)
        answer = self._recovery_lookup(order.client_order_id)
        if answer is None:
            never = "never reached the broker (the host stopped first)"
            return [OrderEvent(order.client_order_id, OrderStatus.REJECTED, message=never)]
        deadline = time.monotonic() + self.limits.recovery_seconds
        if cancel and _FINAL.get(status_text(answer)) is None:
            try:
                self._call(self.client.cancel_order_by_id, str(answer.id))
            except APIError as error:  # 422: it became final meanwhile
                log.info("%s: cancel refused (%s)", order.client_order_id, error)
            while _FINAL.get(status_text(answer)) is None and time.monotonic() < deadline:
                self._sleep(0.2)
                answer = self._recovery_lookup(order.client_order_id) or answer
        events = self._progress(tracked, answer)
        self._tracked.pop(order.client_order_id, None)
        return events

    def _recovery_lookup(self, client_order_id: str) -> Any | None:
        """A lookup that tries again through transient faults (recovery has time)."""
        return self._patiently(lambda: self._lookup(client_order_id))

    # -- the rest of the port --------------------------------------------------------------

    def on_bars(self, minute: datetime, bars: Mapping[str, Bar]) -> None:
        """Alpaca matches orders itself."""

    def end_session(self, day: date) -> None:
        """Alpaca expires day orders itself; the next poll reports them."""

    def cancel_all(self) -> None:
        """Cancel every order this host follows; the next polls report them canceled."""
        for tracked in list(self._tracked.values()):
            try:
                if tracked.alpaca_id is None:
                    found = self._recovery_lookup(tracked.order.client_order_id)
                    if found is None:
                        continue
                    tracked.alpaca_id = str(found.id)
                self._patient(self.client.cancel_order_by_id, tracked.alpaca_id)
            except (APIError, ConnectionError) as error:
                # Already final (422) or unreachable: the polls settle it either way.
                log.warning("cancel of %s: %s", tracked.order.client_order_id, error)

    def asset_limits(self, symbols: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        """(not shortable, not fractionable) among `symbols`, as the broker lists its assets.

        Not shortable includes hard-to-borrow assets: Alpaca refuses new shorts on those.
        """
        not_shortable, not_fractionable = set(), set()
        for symbol in symbols:
            asset = self._patient(self.client.get_asset, symbol)
            if not (asset.shortable and asset.easy_to_borrow):
                not_shortable.add(symbol)
            if not asset.fractionable:
                not_fractionable.add(symbol)
        return frozenset(not_shortable), frozenset(not_fractionable)

    def clock_time(self) -> datetime:
        """The broker's time now (its clock, not this host's)."""
        return self._patient(self.client.get_clock).timestamp.astimezone(UTC)

    def corporate_activities(self) -> list[dict[str, Any]]:
        """The account's dividend and split activities, newest first. alpaca-py has no call
        for account activities: its client's generic GET reaches the endpoint."""
        query = {"activity_types": "DIV,SPLIT", "page_size": 100}
        return list(self._patient(self.client.get, "/account/activities", query) or [])

    def cash(self) -> Decimal:
        """The account's cash at the broker."""
        return Decimal(str(self._patient(self.client.get_account).cash))

    def positions(self) -> dict[str, Decimal]:
        positions = self._patient(self.client.get_all_positions)
        return {p.symbol: Decimal(str(p.qty)) for p in positions if Decimal(str(p.qty)) != 0}
