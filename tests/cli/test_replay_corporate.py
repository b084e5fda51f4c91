"""`arena replay` books the corporate actions its input carries (a dividend and a split
column, yfinance's shape) and those of an --actions side file (decision 0030)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from app.cli import main
from app.ledger.jsonl import read_jsonl
from tests.conftest import REPO

YAHOO = REPO / "tests" / "fixtures" / "replay_inputs" / "yahoo"
SCRIPT = {"0": [{"symbol": "AAPL", "action": "buy", "quantity": 10},
                {"symbol": "MSFT", "action": "sell", "quantity": 3}]}  # fmt: skip


def actions(data: Path, owner: str) -> dict[str, dict]:
    folder = data / "account" if owner == "account" else data / "team" / owner
    return {r["action_id"]: r for r in read_jsonl(folder / "trades.jsonl") if "action_id" in r}


def test_the_inputs_dividend_and_split_columns_and_a_side_file_are_booked(
    write_registry: Callable[..., Path], tmp_path: Path
) -> None:
    teams = {"alpha": ("scripted.py", "ScriptedStrategy", {"script": SCRIPT}, 100_000)}
    registry = write_registry(teams, {"rules": {"allow_short": True}})
    side = tmp_path / "actions.json"
    extra = {"symbol": "MSFT", "kind": "dividend", "ex_date": "2026-03-13", "amount": "0.5"}
    side.write_text(json.dumps([extra]))
    data = tmp_path / "data"
    args = ["replay", "--bars", str(YAHOO), "--registry", str(registry), "--data-dir", str(data)]
    assert main([*args, "--quiet", "--actions", str(side)]) == 0
    booked = actions(data, "alpha")
    assert Decimal(booked["dividend-AAPL-2026-03-13-0.26"]["cash"]) == Decimal("2.60")
    # Same ex-date: the dividend is paid on the shares held before the split.
    assert Decimal(booked["dividend-MSFT-2026-03-13-0.5"]["cash"]) == Decimal("-1.50")
    split = booked["split-MSFT-2026-03-13"]
    assert (split["quantity_before"], split["quantity_after"]) == ("-3", "-6")
    assert actions(data, "account").keys() == booked.keys()
