"""Corporate actions for a replay or the emulator, from a side file (decision 0030).

A CSV with a header (names matched case-insensitively) or a JSON list of objects:

    symbol,kind,ex_date,amount,payable_date
    XOM,dividend,2025-11-14,0.99,2025-12-10
    NVDA,split,2024-06-10,10,

`kind` is `dividend` (amount: cash per share) or `split` (amount: new shares per old; a
1-for-10 reverse split is 0.1; `ratio` is accepted for `amount`, and `new_rate`/`old_rate`
as Alpaca gives them). `payable_date` is optional. A bad row is an error naming its line:
a wrong action silently applied would move money.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.domain.corporate import ActionKind, CorporateAction
from app.market.corporate_input import InputCorporateAction


class CorporateActionsError(ValueError):
    """The corporate actions file cannot be used."""


class ActionList:
    """Known actions, looked up by ex-date; the engine's corporate-actions feed."""

    def __init__(self, actions: Iterable[CorporateAction] = ()) -> None:
        unique = {a.action_id: a for a in actions}
        self.actions = sorted(unique.values(), key=lambda a: (a.ex_date, a.symbol, a.kind))

    def __call__(self, after: date, through: date) -> list[CorporateAction]:
        return [a for a in self.actions if after < a.ex_date <= through]

    def __len__(self) -> int:
        return len(self.actions)


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
        return CorporateAction(
            symbol=str(fields.get("symbol") or "").strip(),
            kind=kind,
            ex_date=date.fromisoformat(str(fields.get("ex_date", "")).strip()),
            amount=_amount(fields),
            payable_date=_optional_day(fields.get("payable_date")),
        )
    except (ValueError, InvalidOperation) as error:
        raise CorporateActionsError(f"{where}: {error or 'bad value'}") from None


def _amount(fields: Mapping[str, Any]) -> Decimal:
    for name in ("amount", "ratio", "rate"):
        if str(fields.get(name) or "").strip():
            return Decimal(str(fields[name]).strip())
    if str(fields.get("new_rate") or "").strip() and str(fields.get("old_rate") or "").strip():
        return Decimal(str(fields["new_rate"]).strip()) / Decimal(str(fields["old_rate"]).strip())
    raise ValueError("no amount (or ratio, or new_rate and old_rate)")


def _optional_day(value: Any) -> date | None:
    text = "" if value is None else str(value).strip()
    return date.fromisoformat(text) if text else None


def from_replay_input(actions: Iterable[InputCorporateAction]) -> list[CorporateAction]:
    """The actions a replay input's dividend and split columns held."""
    return [CorporateAction(a.symbol, ActionKind(a.kind), a.ex_date, a.amount) for a in actions]
