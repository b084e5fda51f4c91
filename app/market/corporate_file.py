"""Corporate actions for a replay or the emulator, from a side file (decision 0030).

A CSV with a header (names matched case-insensitively) or a JSON list of objects:

    symbol,kind,ex_date,amount,payable_date
    XOM,dividend,2025-11-14,0.99,2025-12-10
    NVDA,split,2024-06-10,10,

`kind` is `dividend` (amount: cash per share) or `split` (amount: new shares per old: `4`,
`0.1`, `2:1`, `1/3`; `ratio` is accepted for `amount`, and `new_rate`/`old_rate` as Alpaca
gives them). `payable_date` is optional. A bad row is an error naming its line, and so are
two sources that disagree about one day's action: a wrong action would move money.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from app.domain.corporate import ActionKind, CorporateAction
from app.market.corporate_input import InputCorporateAction

_AMOUNT_NAMES = ("amount", "ratio", "rate", "new_rate", "old_rate")


class CorporateActionsError(ValueError):
    """The corporate actions file cannot be used."""


class ActionList:
    """Known actions, looked up by ex-date; the engine's corporate-actions feed. The same
    action from two sources is one; two sources that disagree about a day's split, or
    about a day's dividend where each has one, are an error (a wrong action moves money)."""

    def __init__(self, *sources: Iterable[CorporateAction]) -> None:
        unique: dict[str, CorporateAction] = {}
        by_day: dict[tuple[str, str, date], tuple[int, dict[str, CorporateAction]]] = {}
        for index, source in enumerate(sources):
            for action in source:
                _check_agrees(by_day, index, action)
                unique[action.action_id] = action
        self.actions = sorted(unique.values(), key=lambda a: (a.ex_date, a.symbol, a.kind))

    def __call__(self, after: date, through: date) -> list[CorporateAction]:
        return [a for a in self.actions if after < a.ex_date <= through]

    def __len__(self) -> int:
        return len(self.actions)


def _check_agrees(
    by_day: dict[tuple[str, str, date], tuple[int, dict[str, CorporateAction]]],
    source: int,
    action: CorporateAction,
) -> None:
    """Refuse a second split of a day with other rates, and a dividend of a day that
    another source states otherwise (one source may state two: a regular and a special)."""
    key = (action.kind.value, action.symbol, action.ex_date)
    first, known = by_day.setdefault(key, (source, {}))
    same = known.get(action.action_id)
    other_source = first != source and action.action_id not in known and known
    differs = same is not None and (same.amount, same.old_rate) != (action.amount, action.old_rate)
    if differs or other_source:
        raise CorporateActionsError(
            f"conflicting {action.kind}s of {action.symbol} on {action.ex_date}: "
            f"{action.describe()}, and another that day"
        )
    known[action.action_id] = action


def load_actions(path: Path) -> list[CorporateAction]:
    """Every action in a CSV or JSON side file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CorporateActionsError(f"{path}: cannot read: {error.strerror or error}") from None
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise CorporateActionsError(f"{path}: not JSON: {error}") from None
        if not isinstance(rows, list):
            raise CorporateActionsError(f"{path}: expected a JSON list of actions")
        numbered = [(i + 1, row) for i, row in enumerate(rows)]
    else:
        reader = csv.DictReader(text.splitlines())
        numbered = [(i + 2, row) for i, row in enumerate(reader)]
    return [_action(path, line, row) for line, row in numbered]


def _action(path: Path, line: int, row: Any) -> CorporateAction:
    where = f"{path}:{line}"
    if not isinstance(row, Mapping):
        raise CorporateActionsError(f"{where}: expected an object with symbol, kind, ...")
    fields = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    try:
        kind = ActionKind(str(fields.get("kind", "")).strip().lower())
        new, old = _rates(fields, kind)
        return CorporateAction(
            symbol=str(fields.get("symbol") or "").strip(),
            kind=kind,
            ex_date=date.fromisoformat(str(fields.get("ex_date", "")).strip()),
            amount=new,
            payable_date=_optional_day(fields.get("payable_date")),
            old_rate=old,
        )
    except (ValueError, InvalidOperation, ZeroDivisionError) as error:
        raise CorporateActionsError(f"{where}: {error or 'bad value'}") from None


def _rates(fields: Mapping[str, Any], kind: ActionKind) -> tuple[Decimal, Decimal]:
    """(amount, old_rate): a dividend's cash per share and 1, or a split's new and old."""
    text = {name: str(fields.get(name) or "").strip() for name in _AMOUNT_NAMES}
    if text["new_rate"] and text["old_rate"]:
        return Decimal(text["new_rate"]), Decimal(text["old_rate"])
    given = next((text[name] for name in ("amount", "ratio", "rate") if text[name]), "")
    if not given:
        raise ValueError("no amount (or ratio, or new_rate and old_rate)")
    if kind is ActionKind.DIVIDEND:
        return Decimal(given), Decimal(1)
    return split_rates(given)


def split_rates(text: str) -> tuple[Decimal, Decimal]:
    """A split ratio as people write it: `2:1`, `1/3` (new for old), or a number (`0.1`,
    `1.5`; a repeating one such as 0.333333 is read as the simple fraction it stands for,
    1 for 3)."""
    for mark in (":", "/"):
        if mark in text:
            new, old = (Decimal(part.strip()) for part in text.split(mark, 1))
            return new, old
    value = Decimal(text)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"split ratio must be > 0, got {text}")
    near = Fraction(value).limit_denominator(1000)
    if near != value and abs(near - Fraction(value)) <= Fraction(value) / 20_000:
        return Decimal(near.numerator), Decimal(near.denominator)
    return value, Decimal(1)


def _optional_day(value: Any) -> date | None:
    text = "" if value is None else str(value).strip()
    return date.fromisoformat(text) if text else None


def from_replay_input(actions: Iterable[InputCorporateAction]) -> list[CorporateAction]:
    """The actions a replay input's dividend and split columns held (a split's decimal
    ratio read as `split_rates` reads one)."""
    return [_from_input(a) for a in actions]


def _from_input(action: InputCorporateAction) -> CorporateAction:
    kind = ActionKind(action.kind)
    old = getattr(action, "old_rate", Decimal(1))
    new = action.amount
    if kind is ActionKind.SPLIT and old == 1:
        new, old = split_rates(str(action.amount))
    return CorporateAction(action.symbol, kind, action.ex_date, new, old_rate=old)
