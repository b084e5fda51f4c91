"""Orders an earlier run sent and left open, read back from its journal.

After a restart, execution adopts them (`Execution.adopt`) and follows each to its end
through the same path as its own orders: the broker's missed fills are split among the
teams still waiting, journaled, then booked; the final status is journaled and the teams
whose part did not fill are told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.domain.models import Order, OrderEvent, OrderStatus
from app.engine.lines import AllocationsLine, JournalLine, OutcomeLine, SubmitLine

ZERO = Decimal(0)
FINAL = frozenset(s.value for s in OrderStatus if s.is_final)


@dataclass(slots=True)
class AdoptedOrder:
    """A journaled order without a final outcome, with what was journaled of its fills."""

    submit: SubmitLine
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fills: int = 0
    allocated: dict[str, Decimal] = field(default_factory=dict)  # per team
    versions: dict[str, str] = field(default_factory=dict)
    final: OrderEvent | None = None  # once the broker said how it ended
    notes: list[str] = field(default_factory=list)  # what following it did
    problems: list[str] = field(default_factory=list)  # what did not fit

    @property
    def client_order_id(self) -> str:
        return self.submit.client_order_id

    @property
    def waiting(self) -> dict[str, Decimal]:
        """What each team's part still waits for."""
        return {
            team: quantity - self.allocated.get(team, ZERO)
            for team, quantity in self.submit.allocations.items()
        }

    def order(self) -> Order:
        return self.submit.order()


def open_orders(journal: list[JournalLine]) -> list[AdoptedOrder]:
    """Journaled orders without a final outcome, in the order they were first journaled.

    If an order was journaled more than once (a retry re-sends the same client order id),
    its first submit line stands for it.
    """
    orders: dict[str, AdoptedOrder] = {}
    final: set[str] = set()
    for line in journal:
        if isinstance(line, SubmitLine):
            orders.setdefault(line.client_order_id, AdoptedOrder(line))
        elif isinstance(line, OutcomeLine) and line.status in FINAL:
            final.add(line.client_order_id)
        elif isinstance(line, AllocationsLine) and line.fill is not None:
            adopted = orders.get(line.client_order_id or "")
            if adopted is not None:
                _count_fill(adopted, line)
    return [adopted for order_id, adopted in orders.items() if order_id not in final]


def _count_fill(adopted: AdoptedOrder, line: AllocationsLine) -> None:
    assert line.fill is not None
    adopted.filled += line.fill.quantity
    adopted.notional += line.fill.quantity * line.fill.price
    adopted.fills += 1
    for part in line.allocations:
        team = part.team_id
        adopted.allocated[team] = adopted.allocated.get(team, ZERO) + part.quantity
