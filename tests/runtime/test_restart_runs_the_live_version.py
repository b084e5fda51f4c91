"""After a restart, a team's uploaded version runs again, not the registry's: recovery reads
which version traded from the ledgers, but the worker starts with the registry's code, so the
newest upload must be staged again at the first tick (found by the --continue work)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.cli import main
from app.ledger.jsonl import read_jsonl
from app.uploads.store import StrategyStore

BUY_SPY = """
class SpyBuyer:
    def __init__(self, params=None):
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        return {"symbol": "SPY", "action": "buy", "quantity": 1} if self.calls == 2 else None
"""


def test_the_uploaded_version_runs_again_after_a_continuation(
    real_bars: Path, write_registry: Callable[..., Path], tmp_path: Path
) -> None:
    script = {"script": {"0": {"symbol": "AAPL", "action": "buy", "quantity": 1}}}
    registry = write_registry({"alpha": ("scripted.py", "ScriptedStrategy", script, 100_000)})
    data = tmp_path / "data"
    report = {"entry_point": "SpyBuyer", "ok": True}
    StrategyStore(data).save("alpha", "v2", {"spy.py": BUY_SPY}, {}, report)
    args = ["replay", "--bars", str(real_bars), "--registry", str(registry), "--quiet"]
    args += ["--data-dir", str(data), "--symbols", "AAPL,SPY"]
    assert main([*args, "--end", "2026-03-12"]) == 0
    assert main([*args[:-2], "--continue", "--end", "2026-03-13"]) == 0
    trades = list(read_jsonl(data / "team" / "alpha" / "trades.jsonl"))
    assert [(t["tick"][:10], t["symbol"], t["strategy_version"]) for t in trades] == [
        ("2026-03-12", "SPY", "v2"),
        ("2026-03-13", "SPY", "v2"),  # not the registry's AAPL: v2 was staged again
    ]
