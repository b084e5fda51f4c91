"""The host's cost of `features()` per tick: 100 teams each asking for 10 Qlib expressions
on 40 symbols, once with most expressions shared between teams and once with every one
distinct. Real bars (../shared/data/us-minute-2026-03), a 1,200-minute window; the
evaluation is the host's (FactorService), each tick a new minute, so nothing of the last
tick is reused. The sandbox's channel is not part of it (see sandbox_fanout for that).
"""

from __future__ import annotations

import os
import statistics
import time

from rich.console import Console
from rich.table import Table

from app.factors import qlib_ops
from app.factors.service import FactorService
from app.market.replay import ReplayMarket
from app.market.store import BarStore
from bench.replay_throughput import DATA

TEAMS, PER_TEAM, TICKS = 100, 10, 3
WARM_MINUTES = 1300
SHARED_POOL = [
    "$close / Ref($close, 1) - 1", "Mean($close, 5) / $close", "Mean($close, 20) / $close",
    "Std($close, 20) / $close", "Max($high, 10) / $close", "Min($low, 10) / $close",
    "Corr($close, Log($volume + 1), 10)", "Mean($volume, 5) / (Mean($volume, 30) + 1)",
    "($close - Min($low, 20)) / (Max($high, 20) - Min($low, 20) + 1e-12)",
    "Slope($close, 20) / $close", "Rsquare($close, 20)", "EMA($close, 12) / EMA($close, 26) - 1",
    "Rank($close, 30)", "Sum(If($close > Ref($close, 1), 1, 0), 20) / 20", "IdxMax($high, 30)",
]  # fmt: skip
TEMPLATES = [
    "Mean($close, {w}) / $close", "Std($close, {w}) / $close", "Max($high, {w}) / $close",
    "Min($low, {w}) / $close", "Corr($close, Log($volume + 1), {w})", "Slope($close, {w})",
    "Sum(If($close > Ref($close, 1), 1, 0), {w})", "EMA($close, {w}) / $close - 1",
    "Mean($volume, {w}) / (Mean($volume, 60) + 1)", "Rank($close, {w})",
]  # fmt: skip


def shared_requests() -> list[list[str]]:
    """Each team takes 10 of the 15 common expressions: 15 distinct in all."""
    return [
        [SHARED_POOL[(t + k) % len(SHARED_POOL)] for k in range(PER_TEAM)] for t in range(TEAMS)
    ]


def distinct_requests() -> list[list[str]]:
    """Every team's every expression differs (its window): 1,000 distinct in all."""
    return [[TEMPLATES[k].format(w=t + 3) for k in range(PER_TEAM)] for t in range(TEAMS)]


def measure(market: ReplayMarket, requests: list[list[str]]) -> dict[str, float]:
    minutes = market.minutes()
    store = BarStore()
    for minute in minutes[:WARM_MINUTES]:
        store.append_minute(market.bars(minute))
    symbols = sorted(market.bars(minutes[WARM_MINUTES]))[:40]
    service = FactorService(store)
    seconds = []
    for minute in minutes[WARM_MINUTES : WARM_MINUTES + TICKS]:
        store.append_minute(market.bars(minute))  # a new tick: every value is new
        before = service.computed
        started = time.perf_counter()
        for expressions in requests:
            service.features(symbols, expressions, n=1)
        seconds.append(time.perf_counter() - started)
        computed = service.computed - before
    per_tick = statistics.median(seconds)
    return {
        "distinct": len({e for r in requests for e in r}),
        "computed": computed,
        "p50": per_tick * 1000,
        "max": max(seconds) * 1000,
        "per_value_us": per_tick / max(1, computed) * 1e6,
    }


def main() -> None:
    console = Console(width=120)
    if not qlib_ops.available():
        console.print("[yellow]features(): Qlib is not installed here (make qlib); skipped[/]")
        return
    market = ReplayMarket.load(DATA)
    table = Table(title=f"features() host cost per tick: {TEAMS} teams × {PER_TEAM} expressions "
                  "× 40 symbols (real bars, 1,200-minute window, Qlib's operators)")  # fmt: skip
    for column in ("case", "distinct expressions", "series computed per tick",
                   "p50 ms per tick", "max ms", "µs per series"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, requests in (
        ("most shared", shared_requests()),
        ("all distinct", distinct_requests()),
    ):
        row = measure(market, requests)
        table.add_row(name, str(row["distinct"]), f"{row['computed']:,}", f"{row['p50']:,.0f}",
                      f"{row['max']:,.0f}", f"{row['per_value_us']:,.0f}")  # fmt: skip
    console.print(table)
    console.print(
        f"{TICKS} ticks each, the first request of a tick computes, later ones share. Machine: "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}. A team's host time "
        "counts against its budget (20% of it at most per call: sandbox/host/supervisor.py)."
    )


if __name__ == "__main__":
    main()
