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
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from app.domain.numbers import canonical
from app.domain.portfolio import Portfolio

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.000001")  # a price's precision (decision 0024)


class ActionKind(StrEnum):
    DIVIDEND = "dividend"
    SPLIT = "split"


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """One action on one symbol. A dividend's `amount` is its cash per share; a split gives
    `amount` new shares for every `old_rate` old ones (4 for 1, or 1 for 3: amount 1,
    old_rate 3), so that a ratio like 1/3 stays exact."""

    symbol: str
    kind: ActionKind
    ex_date: date
    amount: Decimal
    payable_date: date | None = None
    old_rate: Decimal = ONE

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("a corporate action needs a symbol")
        for name, value in (("amount", self.amount), ("old_rate", self.old_rate)):
            if not value.is_finite() or value <= 0:
                raise ValueError(f"{self.kind} of {self.symbol}: {name} must be > 0, got {value}")
        if self.kind is ActionKind.DIVIDEND and self.old_rate != 1:
            raise ValueError(f"dividend of {self.symbol}: old_rate is for splits")
        if self.kind is ActionKind.SPLIT and self.amount == self.old_rate:
            raise ValueError(f"split of {self.symbol}: a ratio of 1 changes nothing")

    @property
    def action_id(self) -> str:
        """Deterministic: the same action read twice (or from two sources) is one action;
        two dividends of one day (a regular and a special) are two."""
        base = f"{self.kind}-{self.symbol}-{self.ex_date.isoformat()}"
        return f"{base}-{plain(self.amount)}" if self.kind is ActionKind.DIVIDEND else base

    def describe(self) -> str:
        if self.kind is ActionKind.DIVIDEND:
            return f"{self.symbol} cash dividend {plain(self.amount)} per share (ex {self.ex_date})"
        rates = f"{plain(self.amount)} for {plain(self.old_rate)}"
        return f"{self.symbol} split {rates} (ex {self.ex_date})"


@dataclass(frozen=True, slots=True)
class HoldingChange:
    """What an action does to one holding: its quantity before and after, and the cash
    it moves (+ received, − paid): the dividend, or the cash in lieu of a split."""

    quantity_before: Decimal
    quantity_after: Decimal
    cash: Decimal


def price_in_lieu(action: CorporateAction, last_close: Decimal) -> Decimal:
    """The post-split price a fraction is paid out at: the last close over the ratio."""
    post_split = last_close * action.old_rate / action.amount
    return post_split.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def account_change(
    action: CorporateAction, quantity: Decimal, price: Decimal, share_unit: Decimal
) -> HoldingChange:
    """What the broker does to the account's holding of `quantity` shares."""
    if action.kind is ActionKind.DIVIDEND:
        cash = (quantity * action.amount).quantize(CENT, rounding=ROUND_HALF_EVEN)
        return HoldingChange(quantity, quantity, _signless(cash))
    scaled = quantity * action.amount  # the shares after, times old_rate: exact
    after = canonical(scaled // (action.old_rate * share_unit) * share_unit)  # toward zero
    owed = (scaled - after * action.old_rate) * price / action.old_rate
    return HoldingChange(quantity, after, _signless(owed.quantize(CENT, rounding=ROUND_HALF_EVEN)))


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
    scaled = [q * action.amount for q in before]  # times old_rate: exact
    shares = apportion(account.quantity_after, scaled, share_unit, action.old_rate)
    after = [canonical(a) for a in shares]
    rate = action.old_rate
    owed = [(n - a * rate) * price / rate for n, a in zip(scaled, after, strict=True)]
    cash = apportion(account.cash, owed, CENT)
    return {
        t: HoldingChange(q, a, c) for t, q, a, c in zip(teams, before, after, cash, strict=True)
    }


def apportion(
    total: Decimal, exact: Sequence[Decimal], unit: Decimal, denominator: Decimal = ONE
) -> list[Decimal]:
    """Parts in multiples of `unit` that sum exactly to `total`, each its exact figure
    (`exact[i] / denominator`, kept as a fraction so 1/3 stays exact) cut toward zero,
    then the units left over (either sign) one each to the parts with the largest
    remainder in that direction; ties go to the earlier part."""
    units = total / unit
    if units != units.to_integral_value():
        raise ValueError(f"total {total} is not a multiple of {unit}")
    step_size = unit * denominator
    base = [int(e // step_size) for e in exact]  # Decimal's // cuts toward zero, exactly
    remainder = [e - b * step_size for e, b in zip(exact, base, strict=True)]
    left = int(units) - sum(base)
    if left and not exact:
        raise ValueError(f"cannot apportion {total} over no parts")
    step = 1 if left > 0 else -1
    order = sorted(range(len(exact)), key=lambda i: (-step * remainder[i], i))
    for n in range(abs(left)):
        base[order[n % len(order)]] += step
    return [_signless(unit * b) for b in base]


def plain(value: Decimal) -> str:
    """A number as people write it: 0.99, 4, 0.1 (never 4E+1 or 0.990)."""
    return format(canonical(value), "f")


def _signless(value: Decimal) -> Decimal:
    """No negative zero in the books: -0 reads as a short of nothing."""
    return value if value else abs(value)


def apply_change(
    portfolio: Portfolio, action: CorporateAction, change: HoldingChange
) -> Decimal | None:
    """Book one holding's change into a portfolio; returns the P&L it realised. A holding
    of nothing (the account of teams that net to zero) changes nothing."""
    if change.quantity_before == 0:
        return None
    if action.kind is ActionKind.DIVIDEND:
        portfolio.receive_dividend(change.cash)
        return change.cash
    return portfolio.apply_split(
        action.symbol, action.amount, action.old_rate, change.quantity_after, change.cash
    )
