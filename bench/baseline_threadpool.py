"""The conventional design, kept as the sandbox benchmark's baseline.

Most competition hosts run strategies like this: every strategy is imported into the
host process, each tick submits one call per team to a `ThreadPoolExecutor`, and the host
waits for the futures with a timeout (5 s here). Each call gets its own copy of the window
as plain dicts of lists, converted per call, as such hosts do: a shared copy would let one
team change the bars every other team reads. Timestamps become epoch seconds (ints), the
cheapest conversion; `datetime` objects would cost about a third more.

What the design cannot do is the point of keeping it: a timed-out call cannot be stopped
(its thread keeps running and keeps its pool slot), and C-level work holding the GIL
(`10**(10**7)`) stops every thread of the host, the waiting one included, until it ends.
There is no isolation either: strategies share the host's memory, files, network and keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from app.engine.ports import StrategyResult, TeamCall, TeamCode

PRICE_FIELDS = ("open", "high", "low", "close", "volume")


def window_as_lists(window: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    """One team's private copy of the bars: {symbol: {field: list}}."""
    return {
        symbol: {
            "timestamp": np.asarray(columns["timestamp"]).astype("int64").tolist(),
            **{field: np.asarray(columns[field]).tolist() for field in PRICE_FIELDS},
        }
        for symbol, columns in window.items()
    }


@dataclass(frozen=True, slots=True)
class CallTrace:
    """How long a traced team's call really ran (recorded when it ends, however late)."""

    team_id: str
    wall_seconds: float
    cpu_seconds: float
    overrun_seconds: float  # how long it ran on after the tick's deadline


class ThreadPoolRunner:
    """In-process strategies on a thread pool, one deadline per tick (StrategyRunner port)."""

    def __init__(self, timeout_seconds: float = 5.0, max_workers: int | None = None) -> None:
        self.timeout_seconds = timeout_seconds
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="strategy")
        self.strategies: dict[str, Any] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}  # each strategy module's globals
        self.traced: set[str] = set()  # teams whose calls are timed in `traces`
        self.traces: list[CallTrace] = []
        self._running = 0
        self._lock = threading.Lock()

    @property
    def max_workers(self) -> int:
        return self.pool._max_workers

    @property
    def running(self) -> int:
        """Calls still executing (a timed-out call keeps its thread until it returns)."""
        return self._running

    def load_many(self, codes: Mapping[str, TeamCode]) -> dict[str, bool]:
        """Import every strategy into the host process, as such hosts do."""
        for team, code in codes.items():
            namespace: dict[str, Any] = {"__name__": f"strategy_{team}"}
            exec(compile(code.files["strategy.py"], f"{team}/strategy.py", "exec"), namespace)
            self.strategies[team] = namespace[code.entry_point](dict(code.params))
            self.namespaces[team] = namespace
        return dict.fromkeys(codes, True)

    def run_tick(
        self,
        tick: datetime,
        window: Mapping[str, Mapping[str, Any]],
        current_prices: Mapping[str, float],
        calls: list[TeamCall],
    ) -> dict[str, StrategyResult]:
        deadline = time.perf_counter() + self.timeout_seconds
        futures: dict[Future, str] = {
            self.pool.submit(self._call, c.team_id, c.header, window, current_prices, deadline): (
                c.team_id
            )
            for c in calls
            if c.team_id in self.strategies
        }
        done, late = wait(futures, timeout=self.timeout_seconds)
        for future in late:
            future.cancel()  # calls not started yet are dropped; running ones cannot be
        results: dict[str, StrategyResult] = {}
        for future, team in futures.items():
            if future not in done:
                results[team] = StrategyResult(
                    team,
                    error=f"no result within the {self.timeout_seconds:g} s timeout",
                    error_kind="timeout",
                )
                continue
            try:
                results[team] = StrategyResult(team, output=future.result())
            except Exception as error:
                results[team] = StrategyResult(team, error=repr(error), error_kind="exception")
        return results

    def _call(
        self,
        team: str,
        header: dict[str, Any],
        window: Mapping[str, Mapping[str, Any]],
        prices: Mapping[str, float],
        deadline: float,
    ) -> Any:
        with self._lock:
            self._running += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            bars = window_as_lists(window)
            return self.strategies[team].generate_signal(dict(header), bars, dict(prices))
        finally:
            if team in self.traced:
                ended = time.perf_counter()
                self.traces.append(
                    CallTrace(team, ended - wall, time.thread_time() - cpu, ended - deadline)
                )
            with self._lock:
                self._running -= 1

    def close(self) -> None:
        """Wait for running calls (the caller ends endless ones first); drop queued ones."""
        self.pool.shutdown(wait=True, cancel_futures=True)
