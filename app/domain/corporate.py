"""Corporate actions on held positions: cash dividends and splits, exactly (decision 0030).

The account is what the broker holds; the teams' parts always sum to it exactly. A cash
dividend pays the position held at the ex-date's open times the rate, in cents (a short
pays it). A split multiplies the position by the ratio (new shares per old); what is left
below the share unit is paid out as cash in lieu at the last close divided by the ratio.
Each team's part is its own exact figure, apportioned in the unit (a share, a cent) so
that the parts add up to the account's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from app.domain.portfolio import Portfolio

ZERO = Decimal(0)
CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")  # a price's precision (decision 0024)


class ActionKind(StrEnum):
    DIVIDEND = "dividend"
    SPLIT = "split"


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """One action on one symbol. `amount` is the cash per share of a dividend, or the
    new shares per old share of a split (4 for a 4-for-1, 0.1 for a 1-for-10)."""

    symbol: str
    kind: ActionKind
    ex_date: date
    amount: Decimal
    payable_date: date | None = None

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("a corporate action needs a symbol")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"{self.kind} of {self.symbol}: amount must be > 0, got {self.amount}")
        if self.kind is ActionKind.SPLIT and self.amount == 1:
            raise ValueError(f"split of {self.symbol}: a ratio of 1 changes nothing")

    @property
    def action_id(self) -> str:
        """Deterministic: the same action read twice (or from two sources) is one action."""
        return f"{self.kind}-{self.symbol}-{self.ex_date.isoformat()}"

    def describe(self) -> str:
        if self.kind is ActionKind.DIVIDEND:
            return f"{self.symbol} cash dividend {self.amount} per share (ex {self.ex_date})"
        return f"{self.symbol} split {self.amount} for 1 (ex {self.ex_date})"


@dataclass(frozen=True, slots=True)
class HoldingChange:
    """What an action does to one holding: its quantity before and after, and the cash
    it moves (+ received, − paid): the dividend, or the cash in lieu of a split."""

    quantity_before: Decimal
    quantity_after: Decimal
    cash: Decimal


def price_in_lieu(action: CorporateAction, last_close: Decimal) -> Decimal:
    """The post-split price a fraction is paid out at: the last close over the ratio."""
    return (last_close / action.amount).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def account_change(
    action: CorporateAction, quantity: Decimal, price: Decimal, share_unit: Decimal
) -> HoldingChange:
    """What the broker does to the account's holding of `quantity` shares."""
    if action.kind is ActionKind.DIVIDEND:
        cash = (quantity * action.amount).quantize(CENT, rounding=ROUND_HALF_EVEN)
        return HoldingChange(quantity, quantity, cash)
    exact = quantity * action.amount
    after = exact.quantize(share_unit, rounding=ROUND_DOWN)  # toward zero, shorts too
    cash = ((exact - after) * price).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return HoldingChange(quantity, after, cash)


def team_changes(
    action: CorporateAction,
    account: HoldingChange,
    holdings: Mapping[str, Decimal],
    price: Decimal,
    share_unit: Decimal,
) -> dict[str, HoldingChange]:
    """Each team's part of the account's change, summing to it exactly (teams whose
    holding is zero have none). The teams' holdings must sum to the account's."""
    teams = sorted(t for t, q in holdings.items() if q != 0)
    before = [holdings[t] for t in teams]
    if action.kind is ActionKind.DIVIDEND:
        cash = apportion(account.cash, [q * action.amount for q in before], CENT)
        return {t: HoldingChange(q, q, c) for t, q, c in zip(teams, before, cash, strict=True)}
    exact = [q * action.amount for q in before]
    after = apportion(account.quantity_after, exact, share_unit)
    owed = [(e - a) * price for e, a in zip(exact, after, strict=True)]
    cash = apportion(account.cash, owed, CENT)
    return {
        t: HoldingChange(q, a, c) for t, q, a, c in zip(teams, before, after, cash, strict=True)
    }


def apportion(total: Decimal, exact: Sequence[Decimal], unit: Decimal) -> list[Decimal]:
    """Parts in multiples of `unit` that sum exactly to `total`, each its exact figure cut
    toward zero, then the units left over (either sign) one each to the parts with the
    largest remainder in that direction; ties go to the earlier part."""
    units = total / unit
    if units != units.to_integral_value():
        raise ValueError(f"total {total} is not a multiple of {unit}")
    base = [int((e / unit).to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    remainder = [e / unit - b for e, b in zip(exact, base, strict=True)]
    left = int(units) - sum(base)
    if left and not exact:
        raise ValueError(f"cannot apportion {total} over no parts")
    step = 1 if left > 0 else -1
    order = sorted(range(len(exact)), key=lambda i: (-step * remainder[i], i))
    for n in range(abs(left)):
        base[order[n % len(order)]] += step
    return [unit * b for b in base]


def apply_change(
    portfolio: Portfolio, action: CorporateAction, change: HoldingChange
) -> Decimal | None:
    """Book one holding's change into a portfolio; returns the P&L it realised."""
    if action.kind is ActionKind.DIVIDEND:
        portfolio.receive_dividend(change.cash)
        return change.cash
    return portfolio.apply_split(action.symbol, action.amount, change.quantity_after, change.cash)
