"""The emulator's one state object: account, orders, positions and the replay clock,
around the project's SimulatedBroker (the one fill model).

Every public method takes the state's lock, so HTTP handlers, the speed task and tests
may call it from any thread. Times are replay times: an order submitted while the clock
reads T is the simulator's order with `submitted_at = T` and fills against the bars that
start at T or later — exactly as in a replay.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.broker.emulator import errors
from app.broker.emulator.assets import AssetInfo, build_assets
from app.broker.emulator.bars import BarIndex
from app.broker.emulator.books import EmulatorBroker, OrderRecord, PositionBook, created_after
from app.broker.emulator.clock import EmulatorClock, Step
from app.broker.emulator.corporate import CorporateDesk
from app.broker.emulator.faults import FaultInjector, RateLimiter
from app.broker.emulator.models import (
    AccountFigures,
    Json,
    Quote,
    account_json,
    fill_json,
    order_json,
    position_json,
)
from app.broker.emulator.queries import OrderFilter, OrderRequest, parse_order
from app.broker.emulator.rules import check_order, opens_exposure
from app.broker.simulator import ORDER_ID_NAMESPACE, FillModel
from app.domain.corporate import CorporateAction
from app.domain.models import Order, OrderStatus, Side
from app.domain.numbers import price_from_float
from app.market.replay import ReplayMarket

ZERO = Decimal(0)
ACCOUNT_NAMESPACE = uuid.UUID("9a3c1e7b-5d2f-4b8a-8c6e-1f0d2b4a6c8e")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account behaves; everything has Alpaca-paper-like defaults."""

    api_key: str = "emulator-key"
    secret_key: str = "emulator-secret"
    cash: Decimal = Decimal(100_000)
    multiplier: int = 2  # 1: a cash account (buying power = cash)
    shorting_enabled: bool = True
    allow_fractional: bool = True
    fill_model: FillModel = field(default_factory=FillModel)
    assets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    faults: str | None = None
    rate_limit: int | None = None  # requests per minute per key; None = not enforced
    speed: float | None = None  # replay minutes per wall second; None = admin steps only
    max_page_size: int = 10_000  # Alpaca's cap on one market-data page
    account_number: str = "PA0EMULATOR1"
    corporate_actions: tuple[CorporateAction, ...] = ()  # dividends and splits (0030)


class EmulatorState:
    """Everything the emulator answers from."""

    def __init__(self, market: ReplayMarket, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.market = market
        self.index = BarIndex(market)
        self.clock = EmulatorClock(market.minutes())
        self.assets = build_assets(market.universe, self.config.assets)
        self.faults = FaultInjector(clock=lambda: self.clock.now)  # windows follow the replay
        self.limiter = RateLimiter(self.config.rate_limit)
        self.lock = threading.RLock()
        self.account_id = str(uuid.uuid5(ACCOUNT_NAMESPACE, self.config.account_number))
        self.corporate = CorporateDesk(self.config.corporate_actions)
        self.reset()

    def reset(self) -> None:
        """Back to the first replayed minute with a fresh account and the configured faults."""
        with self.lock:
            config = self.config
            self.clock.reset()
            self.broker = EmulatorBroker(
                config.fill_model, config.shorting_enabled, config.allow_fractional
            )
            self.books = PositionBook()
            self.orders: dict[str, OrderRecord] = {}  # by client_order_id, in acceptance order
            # Orders that may still be open (pruned as they close): a submit's checks look
            # at these, not at every order of the session.
            self.maybe_open: dict[str, OrderRecord] = {}
            self._prices_at: datetime | None = None
            self._prices: dict[str, Decimal | None] = {}
            self.by_id: dict[str, str] = {}
            self.refusals: list[Json] = []
            self.refused: Counter[str] = Counter()
            self.to_reject: set[str] = set()
            self.lastday: dict[str, Decimal] = {}
            self.last_equity = config.cash
            self.auto_ids = 0
            self.corporate.reset()
            self.faults.set(config.faults)

    # --- the clock -------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now

    def advance(self, steps: int = 1, until: datetime | None = None) -> int:
        """Move the clock `steps` steps (or until `until`); returns how many it moved."""
        done = 0
        with self.lock:
            while (until is None and done < steps) or (until is not None and self.now < until):
                step = self.clock.advance()
                if step is None:
                    break
                self._step(step)
                done += 1
        return done

    def _step(self, step: Step) -> None:
        self.corporate.open_session(self.clock.session(), self.broker, self.books, self._price)
        for client_id in sorted(self.to_reject):
            record = self.orders[client_id]
            if record.is_open and self.broker.cancel(client_id):
                record.status, record.failed_at = "rejected", step.now
                record.touch(step.now)
        self.to_reject.clear()
        if step.closes is not None:
            self.broker.on_bars(step.closes, self.market.bars(step.closes))
            self._collect(step.now)
        if step.session_end is not None:
            self.broker.end_session(step.session_end)
            self._collect(step.now)
            self.lastday = {s: p for s in self.index.universe if (p := self._price(s)) is not None}
            self.last_equity = self._figures().equity

    def _collect(self, now: datetime) -> None:
        for event in self.broker.poll():
            record = self.orders[event.client_order_id]
            if event.fill is not None:
                record.apply_fill(event.fill, done=event.status is OrderStatus.FILLED)
                self.books.apply(event.fill, self.clock.session())
            elif event.status is OrderStatus.EXPIRED:
                record.status, record.expired_at = "expired", now
                record.touch(now)

    # --- orders ----------------------------------------------------------------------

    def submit(self, body: Any) -> Json:
        """POST /v2/orders: accept (answer `accepted`) or raise Alpaca's refusal."""
        with self.lock:
            request = parse_order(body)
            client_id = request.client_order_id or self._auto_id()
            try:
                asset = self._checked(request, client_id)
                order = Order(
                    client_id,
                    request.symbol,
                    request.side,
                    request.quantity,
                    request.order_type,
                    request.limit_price,
                    submitted_at=self.now,
                )
                event = self.broker.submit(order)
                if event.status is OrderStatus.REJECTED:
                    raise errors.from_simulator(event.message)
            except errors.AlpacaError as exc:
                self._refuse(request, client_id, exc)
                raise
            record = self._record(order, request)
            return order_json(record, asset.id, status="accepted")

    def _auto_id(self) -> str:
        self.auto_ids += 1
        return str(uuid.uuid5(ACCOUNT_NAMESPACE, f"auto-{self.auto_ids}"))

    def _record(self, order: Order, request: OrderRequest) -> OrderRecord:
        opening = opens_exposure(order.side, self.books.quantities().get(order.symbol, ZERO))
        record = OrderRecord(
            seq=len(self.orders) + 1,
            id=str(uuid.uuid5(ORDER_ID_NAMESPACE, order.client_order_id)),
            order=order,
            created_at=self.now,
            expires_at=self.clock.next_open_close()[1],
            position_intent=f"{order.side.value}_to_{'open' if opening else 'close'}",
        )
        self.orders[order.client_order_id] = record
        self.maybe_open[order.client_order_id] = record
        self.by_id[record.id] = order.client_order_id
        fault = self.faults.for_order(order.client_order_id)
        if fault.share is not None:
            self.broker.cap_participation(order.client_order_id, fault.share)
        if fault.reject:
            self.to_reject.add(order.client_order_id)
        return record

    def _refuse(self, request: OrderRequest, client_id: str, exc: errors.AlpacaError) -> None:
        self.refused[exc.message] += 1
        self.refusals.append(
            {
                "client_order_id": client_id,
                "symbol": request.symbol,
                "side": request.side.value,
                "qty": str(request.quantity),
                "at": self.now.isoformat(),
                "status": exc.status,
                **exc.body(),
            }
        )

    def _checked(self, request: OrderRequest, client_id: str) -> AssetInfo:
        """The refusals Alpaca makes before the simulator's own (wash trade, flip)."""
        if client_id in self.orders:
            raise errors.unprocessable(errors.DUPLICATE_ID)
        asset = self.assets.get(request.symbol)
        if asset is None:
            raise errors.unprocessable(f"asset {request.symbol} not found", 42210000)
        positions = self.books.quantities()
        pending = ZERO
        for key, record in list(self.maybe_open.items()):
            if not record.is_open:
                del self.maybe_open[key]
                continue
            order = record.order
            if opens_exposure(order.side, positions.get(order.symbol, ZERO)):
                pending += record.remaining * (order.limit_price or self._price(order.symbol) or 0)
        check_order(
            request,
            asset,
            positions.get(request.symbol, ZERO),
            self._figures(),
            request.limit_price or self._price(request.symbol),
            pending,
            self.config.allow_fractional,
        )
        return asset

    def order(self, order_id: str) -> Json:
        with self.lock:
            client_id = self.by_id.get(order_id)
            if client_id is None:
                raise errors.not_found(f"order not found for {order_id}")
            return self._json(self.orders[client_id])

    def order_by_client_id(self, client_order_id: str) -> Json:
        with self.lock:
            record = self.orders.get(client_order_id)
            if record is None:
                raise errors.not_found("order not found")
            return self._json(record)

    def list_orders(self, query: OrderFilter) -> list[Json]:
        with self.lock:
            chosen = [r for r in created_after(self.orders, query.after) if query.matches(r)]
            chosen.sort(key=lambda r: (r.created_at, r.seq), reverse=query.descending)
            return [self._json(r) for r in chosen[: query.limit]]

    def cancel(self, order_id: str) -> None:
        """DELETE /v2/orders/{id}: 404 if unknown, 422 if no longer open."""
        with self.lock:
            client_id = self.by_id.get(order_id)
            if client_id is None:
                raise errors.not_found(f"order not found for {order_id}")
            record = self.orders[client_id]
            if not record.is_open:
                raise errors.unprocessable(f'order is already in "{record.status}" state', 42210000)
            self.broker.cancel(client_id)
            record.status, record.canceled_at = "canceled", self.now
            record.touch(self.now)

    def cancel_all(self) -> list[Json]:
        """DELETE /v2/orders: one {id, status, body} per open order."""
        with self.lock:
            answers = []
            for record in [r for r in self.orders.values() if r.is_open]:
                self.cancel(record.id)
                answers.append({"id": record.id, "status": 200, "body": self._json(record)})
            return answers

    def _json(self, record: OrderRecord) -> Json:
        return order_json(record, self.assets[record.order.symbol].id)

    # --- account and positions --------------------------------------------------------

    def _price(self, symbol: str) -> Decimal | None:
        """The last close at or before now (cached until the clock moves: every submit asks
        for the price of every holding and every open order)."""
        now = self.now
        if self._prices_at != now:
            self._prices_at, self._prices = now, {}
        if symbol not in self._prices:
            bar = self.index.latest(symbol, now)
            self._prices[symbol] = None if bar is None else price_from_float(bar.close)
        return self._prices[symbol]

    def _figures(self) -> AccountFigures:
        long_value, short_value = self.books.values(self._price)
        return AccountFigures(
            id=self.account_id,
            number=self.config.account_number,
            created_at=self.clock.start,
            cash=self.config.cash + self.broker.cash_flow,
            long_value=long_value,
            short_value=short_value,
            last_equity=self.last_equity,
            multiplier=self.config.multiplier,
            shorting_enabled=self.config.shorting_enabled,
        )

    def account(self) -> Json:
        with self.lock:
            return account_json(self._figures())

    def positions(self) -> list[Json]:
        with self.lock:
            return [self._position(s) for s in sorted(self.books.holdings)]

    def position(self, symbol_or_id: str) -> Json:
        with self.lock:
            asset = self.asset(symbol_or_id, missing="position does not exist")
            if asset.symbol not in self.books.holdings:
                raise errors.not_found("position does not exist")
            return self._position(asset.symbol)

    def _position(self, symbol: str) -> Json:
        holding = self.books.holdings[symbol]
        closing = Side.SELL if holding.qty > 0 else Side.BUY
        held = sum(
            (
                r.remaining
                for r in self.orders.values()
                if r.is_open and r.order.symbol == symbol and r.order.side is closing
            ),
            ZERO,
        )
        quote = Quote(self._price(symbol), self.lastday.get(symbol), self.clock.session())
        return position_json(holding, self.assets[symbol], quote, held)

    def close_position(self, symbol_or_id: str, qty: str | None = None) -> Json:
        """DELETE /v2/positions/{symbol}: a market order that closes (part of) it."""
        with self.lock:
            asset = self.asset(symbol_or_id, missing="position does not exist")
            holding = self.books.holdings.get(asset.symbol)
            if holding is None:
                raise errors.not_found("position does not exist")
            side = "sell" if holding.qty > 0 else "buy"
            quantity = qty if qty is not None else str(abs(holding.qty))
            body = {"symbol": asset.symbol, "qty": quantity, "side": side}
            return self.submit({**body, "type": "market", "time_in_force": "day"})

    def asset(self, symbol_or_id: str, missing: str = "asset not found") -> AssetInfo:
        found = self.assets.get(symbol_or_id) or next(
            (a for a in self.assets.values() if a.id == symbol_or_id), None
        )
        if found is None:
            raise errors.not_found(missing)
        return found

    # --- for tests and the admin routes ----------------------------------------------

    def summary(self) -> Json:
        with self.lock:
            fills = sum(len(r.fills) for r in self.orders.values())
            return {
                "now": self.now.isoformat(),
                "minute_index": self.clock.cursor,
                "steps": len(self.clock.steps) - 1,
                "finished": self.clock.finished,
                "is_open": self.clock.is_open(),
                "orders": len(self.orders),
                "open_orders": sum(r.is_open for r in self.orders.values()),
                "fills": fills,
                "duplicates_refused": self.refused[errors.DUPLICATE_ID],
                "refused": dict(self.refused),
                "positions": {s: str(q) for s, q in sorted(self.books.quantities().items())},
                "cash": str(self.config.cash + self.broker.cash_flow),
                "faults": {"spec": self.faults.spec.text, "injected": dict(self.faults.injected)},
                "requests": self.faults.requests,
            }

    def all_orders(self) -> list[Json]:
        with self.lock:
            return [self._json(r) for r in self.orders.values()]

    def all_fills(self) -> list[Json]:
        with self.lock:
            return [fill_json(r, f) for r in self.orders.values() for f in r.fills]
