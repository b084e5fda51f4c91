"""Replay throughput on the real data: minutes per second for 3 and 50 teams.

The demo teams' three strategies, cycled with varied parameters for larger fields,
replay all 8 sessions of ../shared/data/us-minute-2026-03 through the whole engine
(in-process strategies, simulated broker, ledgers with durability "close", the bar lake
and the daily fold), exactly as `arena replay` does.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from app.config.registry import load_registry
from app.market.replay import ReplayMarket
from app.runtime.competition import Competition, CompetitionPlan

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ARENA_SHARED_DATA", REPO.parent / "shared" / "data")) / (
    "us-minute-2026-03"
)
KIT = REPO / "strategy_starter"
STRATEGIES = [
    ("strategy.py", "MomentumStrategy", lambda i: {"lookback": 10 + i % 40, "top": 1 + i % 4}),
    ("examples/mean_reversion.py", "MeanReversionStrategy",
     lambda i: {"window": 20 + i % 30, "entry_z": 2.0 + (i % 5) / 4}),
    ("examples/buy_and_hold.py", "BuyAndHoldStrategy", lambda i: {"count": 3 + i % 6}),
]  # fmt: skip


def write_registry(folder: Path, teams: int) -> Path:
    entries = []
    for i in range(teams):
        file, entry_point, params = STRATEGIES[i % len(STRATEGIES)]
        entries.append(
            {
                "team_id": f"team-{i:03d}",
                "name": f"Team {i}",
                "strategy": str(KIT / file),
                "entry_point": entry_point,
                "initial_cash": 100_000,
                "params": params(i),
            }
        )
    document = {
        "competition": {"broker": {"slippage_bps": 1, "fee_per_share": 0.005}},
        "teams": entries,
    }
    path = folder / f"registry-{teams}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class TimedRunner:
    """Wraps the strategy runner to separate the strategies' own time from the host's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def run_tick(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.run_tick(*args)
        finally:
            self.seconds += time.perf_counter() - started

    def close(self) -> None:
        self.inner.close()


def measure(teams: int, folder: Path) -> dict[str, float]:
    registry = load_registry(write_registry(folder, teams))
    market = ReplayMarket.load(DATA)
    minutes = market.minutes()
    timed: list[TimedRunner] = []

    def timing(inner: Any) -> TimedRunner:
        timed.append(TimedRunner(inner))
        return timed[-1]

    plan = CompetitionPlan(
        registry, market, folder / f"data-{teams}", durability="close", wrap_runner=timing
    )
    competition = Competition.open(plan)
    runner = timed[0]
    tick_ms: list[float] = []
    started = time.perf_counter()
    for minute in minutes:
        before = time.perf_counter()
        competition.engine.tick(minute)
        tick_ms.append((time.perf_counter() - before) * 1000)
    problems = competition.engine.finish()
    competition.close()
    elapsed = time.perf_counter() - started
    assert not problems, problems
    quantiles = statistics.quantiles(tick_ms, n=100)
    return {
        "teams": teams,
        "minutes": len(minutes),
        "seconds": elapsed,
        "rate": len(minutes) / elapsed,
        "p50": quantiles[49],
        "p99": quantiles[98],
        "host_us": (elapsed - runner.seconds) / len(minutes) / teams * 1e6,
    }


def main() -> None:
    console = Console(width=120)  # wide enough for every column, piped or not
    if not (DATA / "SPY.csv").exists():
        console.print(f"[red]real data not found at {DATA}; set ARENA_SHARED_DATA[/]")
        raise SystemExit(1)
    table = Table(title="Replay throughput, real data (8 sessions × 40 symbols)")
    columns = (
        "teams",
        "minutes",
        "wall s",
        "minutes/s",
        "tick p50 ms",
        "tick p99 ms",
        "host µs/team/tick",
    )
    for column in columns:
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for teams in (3, 50):
            r = measure(teams, Path(tmp))
            table.add_row(
                str(r["teams"]),
                str(r["minutes"]),
                f"{r['seconds']:.1f}",
                f"{r['rate']:,.0f}",
                f"{r['p50']:.2f}",
                f"{r['p99']:.2f}",
                f"{r['host_us']:.0f}",
            )
    console.print(table)
    console.print(
        f"machine: {os.cpu_count()} cores; wall time includes the session folds and the final "
        "fsync; host µs/team/tick = (wall − time inside strategies) / minutes / teams"
    )


if __name__ == "__main__":
    main()
