"""The host's side of the sandbox: one worker per team, a deadline per call, SIGKILL on overrun.

`SandboxRunner` implements the engine's StrategyRunner port. Each tick it publishes the
bar window once, sends every worker a small header, and collects results until the budget
runs out (sandbox.host.collector: fair, bounded, crash-only); a worker still busy then is
killed and respawned, and its team gets a timeout for that minute. Whatever a worker does
or sends is a result for its own team, never an exception here, and other teams never wait
longer than the budget.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.ports import LoadOutcome, StrategyResult, TeamCall, TeamCode
from sandbox.host.collector import Collector, Reply
from sandbox.host.worker_handle import Lost, Worker, WorkerProcess
from sandbox.host.zygote_handle import WorkerSpawnError, ZygoteHandle
from sandbox.wire.messages import Call, Load, Loaded, Result
from sandbox.wire.window import publish_window
from sandbox.worker.policy import ImportPolicy

log = logging.getLogger(__name__)
UIDS_PER_RUNNER = 1000  # each runner gets its own uid block, so runners never share limits
MAX_RESTARTS_PER_TICK = 20  # forking is serial: a mass restart is spread over minutes
HOST_SHARE = 0.2  # of the budget: host time (history, factor expressions) one team may use


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    budget_seconds: float = 5.0
    memory_bytes: int = 1 << 30
    uid_base: int = 20_000
    policy: ImportPolicy = field(default_factory=ImportPolicy)


class SandboxRunner:
    def __init__(self, settings: SandboxSettings | None = None, history: Any = None) -> None:
        self.settings = settings or SandboxSettings()
        self.history = history
        self.zygote = ZygoteHandle()
        self.workers: dict[str, Worker] = {}
        self.code: dict[str, TeamCode] = {}
        self._uids: dict[str, int] = {}
        self._uid_block = self.settings.uid_base + (self.zygote.pid % 2000) * UIDS_PER_RUNNER
        self._rejected: dict[str, LoadOutcome] = {}  # code that can never load: not retried

    # -- loading -------------------------------------------------------------------------

    def load(self, team_id: str, code: TeamCode) -> LoadOutcome:
        """Start a worker with this code (module code and __init__ within the budget)."""
        return self.load_many({team_id: code})[team_id]

    def load_many(self, codes: Mapping[str, TeamCode]) -> dict[str, LoadOutcome]:
        """Start many workers at once; each must load within the budget."""
        started = {team: self._begin(team, code) for team, code in codes.items()}
        workers = [w for w in started.values() if isinstance(w, Worker)]
        replies = self._collect(workers, time.monotonic() + self.settings.budget_seconds)
        outcomes: dict[str, LoadOutcome] = {}
        for team, begun in started.items():
            self.code[team] = codes[team]
            old = self.workers.pop(team, None)
            if old is not None:
                old.kill()
            outcome = begun if isinstance(begun, LoadOutcome) else self._loaded(begun, replies)
            if outcome.ok and isinstance(begun, Worker):
                self.workers[team] = begun
                begun.pause()
            self._note_rejection(team, outcome)
            outcomes[team] = outcome
        return outcomes

    def swap(
        self,
        team_id: str,
        code: TeamCode,
        smoke: tuple[datetime, Mapping[str, Any], Mapping[str, float], TeamCall],
    ) -> LoadOutcome:
        """Hot swap: the new version must load and pass one call on this minute's bars first.

        The worker that answered the call is the one kept, so the call is the version's first
        minute: its result comes back as the outcome's `first` for the engine to use (decision
        0031)."""
        begun = self._begin(team_id, code)
        if isinstance(begun, LoadOutcome):
            return begun
        deadline = time.monotonic() + self.settings.budget_seconds
        outcome = self._loaded(begun, self._collect([begun], deadline))
        if not outcome.ok:
            return outcome
        tick, window, prices, call = smoke
        result = self._run([begun], tick, window, prices, [call])[team_id]
        if result.error:
            begun.kill()
            return LoadOutcome(False, f"smoke-{result.error_kind}", result.error, outcome.layers)
        old = self.workers.pop(team_id, None)
        if old is not None:
            old.kill()
        self.workers[team_id] = begun
        self.code[team_id] = code
        self._rejected.pop(team_id, None)
        return LoadOutcome(True, layers=outcome.layers, first=result)

    def _note_rejection(self, team: str, outcome: LoadOutcome) -> None:
        if outcome.kind == "rejected":
            self._rejected[team] = outcome
        else:
            self._rejected.pop(team, None)

    def _begin(self, team_id: str, code: TeamCode) -> Worker | LoadOutcome:
        """Fork a worker and queue its code; its answer is collected by the caller."""
        if team_id not in self._uids and len(self._uids) >= UIDS_PER_RUNNER:
            return LoadOutcome(False, "crash", f"more than {UIDS_PER_RUNNER} teams in one runner")
        uid = self._uids.setdefault(team_id, self._uid_block + len(self._uids))
        config = {"uid": uid, "gid": uid, "memory_bytes": self.settings.memory_bytes}
        try:
            process, sock = self._spawn(config)
        except WorkerSpawnError as error:
            return LoadOutcome(False, "crash", str(error))
        sock.setblocking(False)
        worker = Worker(team_id, process, sock, code, expect=Loaded)
        policy = self.settings.policy
        load = Load(code.files, code.entry_point, code.params,
                    sorted(policy.allowed), sorted(policy.blocked))  # fmt: skip
        lost = worker.queue(load.frame())
        if lost is not None:  # the new worker died at once: a fault, never a raise
            worker.kill()
            return LoadOutcome(False, "crash", f"the worker died while starting: {lost.reason}")
        return worker

    def _spawn(self, config: dict[str, Any]) -> tuple[WorkerProcess, Any]:
        """A worker from the zygote; a zygote that died is replaced once, loudly."""
        if not self.zygote.alive:
            log.error("SANDBOX: the zygote died (exit %s); starting a new one",
                      self.zygote.process.returncode)  # fmt: skip
            self.zygote.close()
            self.zygote = ZygoteHandle()
        return self.zygote.spawn(config)

    def _loaded(self, worker: Worker, replies: Mapping[str, Reply]) -> LoadOutcome:
        reply = replies.get(worker.team_id)
        layers = tuple(worker.layers)
        if reply is None:
            worker.kill()
            return LoadOutcome(False, "timeout", self._overran("loading the strategy"), layers)
        if isinstance(reply, Lost):
            worker.kill()
            return LoadOutcome(False, reply.kind, reply.reason, layers)
        if isinstance(reply, Loaded) and reply.error is not None:
            worker.kill()
            return LoadOutcome(False, reply.kind or "crash", reply.error, layers)
        return LoadOutcome(True, layers=layers)

    # -- ticks ---------------------------------------------------------------------------

    def run_tick(
        self,
        tick: datetime,
        window: Mapping[str, Mapping[str, Any]],
        current_prices: Mapping[str, float],
        calls: list[TeamCall],
    ) -> dict[str, StrategyResult]:
        """Call every live worker; restart killed ones alongside, within the same budget."""
        deadline = time.monotonic() + self.settings.budget_seconds  # restarts count too
        results: dict[str, StrategyResult] = {}
        live: list[Worker] = []
        restarting: dict[str, Worker] = {}
        for call in calls:
            team = call.team_id
            if team in self.workers:
                live.append(self.workers[team])
            elif team in self._rejected:  # static problems: a new fork would not help
                results[team] = self._restart_failed(team, self._rejected[team])
            elif team not in self.code:
                results[team] = StrategyResult(team, error="no strategy loaded", error_kind="load")
            elif len(restarting) >= MAX_RESTARTS_PER_TICK or time.monotonic() >= deadline:
                results[team] = StrategyResult(team, skipped=True, version=self.code[team].version)
            else:
                begun = self._begin(team, self.code[team])
                if isinstance(begun, Worker):
                    restarting[team] = begun
                else:
                    results[team] = self._restart_failed(team, begun)
        results.update(self._run(live, tick, window, current_prices, calls, restarting, deadline))
        return results

    def _restart_failed(self, team: str, outcome: LoadOutcome) -> StrategyResult:
        return StrategyResult(
            team,
            error=f"restarting the strategy failed: {outcome.error}",
            error_kind=outcome.kind or "load",
            version=self.code[team].version,
        )

    def _run(
        self,
        workers: list[Worker],
        tick: datetime,
        window: Mapping[str, Mapping[str, Any]],
        prices: Mapping[str, float],
        calls: list[TeamCall],
        restarting: Mapping[str, Worker] | None = None,
        deadline: float | None = None,
    ) -> dict[str, StrategyResult]:
        headers = {c.team_id: c.header for c in calls}
        started = time.monotonic()
        deadline = deadline if deadline is not None else started + self.settings.budget_seconds
        waiting: list[Worker] = list((restarting or {}).values())
        results: dict[str, StrategyResult] = {}
        fd = publish_window(window, prices) if workers else -1
        stamp = tick.isoformat()
        try:
            for worker in workers:
                worker.begin_call()
                worker.expect = Result
                # Queue the call first, then wake the stopped worker: it finds the call
                # waiting, so each call costs one wake-up, not two.
                lost = worker.queue(Call(stamp, headers[worker.team_id]).frame(), fds=(fd,))
                if lost is not None:
                    results[worker.team_id] = self._lost(worker, lost)
                    continue
                worker.resume()
                waiting.append(worker)
            replies = self._collect(waiting, deadline)
        finally:
            if fd >= 0:  # after collecting: a call the socket did not take yet holds it
                os.close(fd)
        elapsed = (time.monotonic() - started) * 1000
        for worker in waiting:
            if worker.team_id in replies:
                worker.pause()
        for team, worker in (restarting or {}).items():
            outcome = self._loaded(worker, replies)
            if outcome.ok:
                self.workers[team] = worker
                worker.pause()
                results[team] = StrategyResult(team, skipped=True, version=worker.code.version)
            else:
                results[team] = self._restart_failed(team, outcome)
        for worker in workers:
            if worker.team_id not in results:
                results[worker.team_id] = self._result(worker, replies.get(worker.team_id), elapsed)
        return results

    def _collect(self, workers: list[Worker], deadline: float) -> dict[str, Reply]:
        allowance = self.settings.budget_seconds * HOST_SHARE
        return Collector(self.history, allowance).collect(workers, deadline)

    def _result(self, worker: Worker, reply: Reply | None, elapsed: float) -> StrategyResult:
        team = worker.team_id
        version = worker.code.version
        if reply is None:
            self._drop(worker)
            return StrategyResult(
                team,
                error=self._overran("generate_signal"),
                error_kind="timeout",
                duration_ms=elapsed,
                version=version,
            )
        if not isinstance(reply, Result):
            return self._lost(worker, reply if isinstance(reply, Lost) else Lost("out of turn"))
        return StrategyResult(
            team,
            output=reply.output,
            error=reply.error,
            error_kind=reply.kind,
            printed=reply.printed,
            duration_ms=reply.cpu_ms + worker.host_seconds * 1000,
            version=version,
        )

    # -- faults ----------------------------------------------------------------------------

    def _overran(self, what: str) -> str:
        return (
            f"{what} did not finish within the {self.settings.budget_seconds:g} s budget: stopped"
        )

    def _lost(self, worker: Worker, lost: Lost) -> StrategyResult:
        self._drop(worker)
        return StrategyResult(
            worker.team_id, error=lost.reason, error_kind=lost.kind, version=worker.code.version
        )

    def _drop(self, worker: Worker) -> None:
        worker.kill()
        if self.workers.get(worker.team_id) is worker:
            del self.workers[worker.team_id]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.kill()
        self.workers.clear()
        self.zygote.close()
