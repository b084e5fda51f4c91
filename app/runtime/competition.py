"""The composition root: a competition from its plan (registry, market, broker, clock's
minutes), and its life cycle: open, recover, warm, run, close."""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from app.broker.simulator import FillModel, SimulatedBroker
from app.config.registry import Registry
from app.domain.models import Bar
from app.engine.books import TeamBook
from app.engine.corporate import ActionFeed
from app.engine.engine import Engine, EngineConfig, EngineHooks, TickReport
from app.engine.leaderboard import LeaderboardRow, rank_books
from app.engine.ports import Broker, LoadOutcome, MarketData, StrategyResult, StrategyRunner
from app.engine.recovery import RecoverableBroker, RecoveryReport
from app.engine.stop import LedgerWriteError, stop_trading
from app.ledger.fold import FoldError, fold_all
from app.ledger.writer import Durability, LedgerWriter
from app.market.lake import BarLake
from app.market.store import BarStore
from app.runtime.controls import kill_switch_reader, team_switch_reader
from app.runtime.failpoints import failpoint
from app.runtime.presence import clear_engine_mark, mark_engine_running
from app.runtime.resume import resume
from app.runtime.warmup import backfill_session
from app.runtime.write_failure import TradingStoppedError, stopped
from app.strategies.history_api import history_api
from app.strategies.sources import read_strategy_files, version_of
from app.uploads.inbox import StrategyInbox
from sandbox.host.supervisor import SandboxRunner, SandboxSettings, TeamCode
from sandbox.worker.policy import ImportPolicy

log = logging.getLogger(__name__)
RUN_OUTPUTS = ("team", "account", "orders", "bars")  # what a run writes; strategies/ stays
STOP_WAIT_SECONDS = 10.0  # after a failed write: how long to wait for the cancels to land


class DataDirError(Exception):
    """The data directory cannot be used for this run."""


def prepare_data_dir(data_dir: Path, reset: bool) -> None:
    """Refuse to mix a new run into an old run's ledgers, unless asked to reset them."""
    existing = [name for name in RUN_OUTPUTS if (data_dir / name).exists()]
    if existing and not reset:
        raise DataDirError(
            f"{data_dir} already holds ledgers of an earlier run ({', '.join(existing)}); "
            "pass --reset to replace them, or choose another --data-dir"
        )
    for name in existing:
        shutil.rmtree(data_dir / name)
    data_dir.mkdir(parents=True, exist_ok=True)


def simulated_broker(registry: Registry) -> SimulatedBroker:
    config = registry.competition
    model = FillModel(
        slippage_bps=config.broker.slippage_bps,
        fee_per_share=config.broker.fee_per_share,
        fee_bps=config.broker.fee_bps,
        max_participation=config.broker.max_participation,
    )
    return SimulatedBroker(model, config.rules.allow_short, config.rules.allow_fractional)


AssetLimits = tuple[frozenset[str], frozenset[str]]  # (not shortable, not fractionable)
Backfill = Callable[[datetime, datetime], list[Bar]]
RunnerWrapper = Callable[[StrategyRunner], StrategyRunner]


@dataclass(frozen=True, slots=True)
class CompetitionPlan:
    """Everything a competition is made of, decided before anything is built or started."""

    registry: Registry
    market: MarketData
    data_dir: Path
    broker: Broker | None = None  # None: the simulated broker the registry describes
    durability: Durability = "tick"
    settle_seconds: float = 0.0  # at the end: how long to wait for a live broker's fills
    asset_limits: AssetLimits | None = None  # the broker's, read before the start
    backfill: Backfill | None = None  # a live market: each finished session again, whole
    strategies: bool = True  # False: the books without any sandbox (`arena reconcile`)
    wrap_runner: RunnerWrapper | None = None  # sees every call (`arena strategy test`)
    corporate_actions: ActionFeed | None = None  # dividends and splits (decision 0030)


class Competition:
    """One competition's life cycle, the same for replay and live:
    `open(plan)` → `recover(broker)` (a restart) → `warm(minutes)` (a late start) →
    `run(minutes)` → `close()`. `run` ends by closing; `close` is safe to call again and is
    what a caller does when it stops before running (a held recovery, an error)."""

    def __init__(self, plan: CompetitionPlan, parts: _Parts, engine: Engine) -> None:
        self.plan = plan
        self.registry = plan.registry
        self.data_dir = plan.data_dir
        self.engine = engine
        self.ledger = parts.ledger
        self.lake = parts.lake
        self.load_outcomes = parts.outcomes
        self.inbox = parts.inbox
        self._runner = parts.runner
        self._closed = False

    @classmethod
    def open(cls, plan: CompetitionPlan) -> Competition:
        """Every enabled team's strategy loaded into its own sandboxed worker (unless the
        plan says no strategies), the books opened, the engine ready to tick."""
        parts = _Parts.build(plan)
        day_end = _SessionClose(parts.ledger, parts.lake, plan.data_dir, plan.backfill)
        hooks = EngineHooks(
            on_day_end=day_end,
            kill_switch=kill_switch_reader(plan.data_dir),
            team_switches=team_switch_reader(plan.data_dir),
            crash_point=failpoint,
            # Markets with sessions say which minute closes one; a relabeled one has none.
            is_session_close=getattr(plan.market, "is_session_close", None),
            corporate_actions=plan.corporate_actions,
        )
        runner = plan.wrap_runner(parts.runner) if plan.wrap_runner else parts.runner
        engine = Engine(
            parts.books,
            plan.market,
            plan.broker or simulated_broker(plan.registry),
            runner,
            parts.ledger,
            _LakeFeed(parts.store, parts.lake),
            engine_config(plan),
            hooks,
        )
        gc.freeze()  # what lives for the whole run is never scanned again: no collection pauses
        if plan.strategies:  # an engine runs here: the CLI's controls can find it
            mark_engine_running(plan.data_dir)
        return cls(plan, parts, engine)

    def recover(self, broker: RecoverableBroker, dry_run: bool = False) -> RecoveryReport:
        """After a restart: the books rebuilt from the ledgers and settled with the broker."""
        return resume(self, broker, dry_run=dry_run)

    def warm(self, minutes: Iterable[Mapping[str, Bar]]) -> int:
        """Bars from before the first tick into the strategies' window; returns minutes."""
        count = self.engine.warm(minutes)
        self.lake.flush()
        return count

    def run(
        self, minutes: Iterable[datetime], on_tick: Callable[[TickReport], None] | None = None
    ) -> list[str]:
        """Process every minute, finish the books and close; returns book mismatches (none
        expected). Uploaded versions (data/strategies/) are staged at each tick boundary.

        A failed write (LedgerWriteError, wherever it happens) stops trading: nothing more
        is written or sent, the working orders are cancelled, a hold is written, and
        TradingStoppedError carries the one line to show (decision 0029)."""
        if self.inbox is not None:
            self.inbox.start()
        try:
            try:
                problems = self._tick_all(minutes, on_tick)
            finally:
                self.close()
        except LedgerWriteError as failure:
            raise self._stop_trading(failure) from failure
        return problems

    def _tick_all(
        self, minutes: Iterable[datetime], on_tick: Callable[[TickReport], None] | None
    ) -> list[str]:
        try:
            for minute in minutes:
                if self.inbox is not None:
                    self.inbox.drain(self.engine)
                report = self.engine.tick(minute)
                if on_tick is not None:
                    on_tick(report)
        except LedgerWriteError:
            raise  # nothing more is written: the books end where the ledgers stopped
        except BaseException:
            self.engine.finish()  # a stop (Ctrl-C) or an error: the books are still finished
            raise
        return self.engine.finish()

    def _stop_trading(self, failure: LedgerWriteError) -> TradingStoppedError:
        """No new order (the loop is over), the working ones cancelled, the hold written."""
        log.info("%s: trading stops", failure)  # the caller shows the line (TradingStoppedError)
        working = self.engine.execution.working_order_ids()
        outcome = stop_trading(working, self.engine.broker, STOP_WAIT_SECONDS)
        return stopped(self.data_dir, failure, outcome, live=self.plan.broker is not None)

    def close(self) -> None:
        """Stop taking uploads, stop every worker, close the ledgers (flushed and synced)."""
        if self._closed:
            return
        self._closed = True
        if self.plan.strategies:
            clear_engine_mark(self.data_dir)
        if self.inbox is not None:
            self.inbox.stop()
        try:
            self._runner.close()
        finally:
            self.ledger.close()

    def leaderboard(self) -> list[LeaderboardRow]:
        return rank_books(self.engine.books.values())


def sandbox_settings(registry: Registry) -> SandboxSettings:
    config = registry.competition.sandbox
    return SandboxSettings(
        budget_seconds=config.budget_seconds,
        memory_bytes=config.memory_mb * 1024 * 1024,
        policy=ImportPolicy(blocked=frozenset(config.blocked_imports)),
    )


def sandbox_layer_summary(outcomes: dict[str, LoadOutcome]) -> tuple[list[str], list[str]]:
    """(active, inactive) isolation layers, as the workers reported them."""
    layers = next((o.layers for o in outcomes.values() if o.layers), ())
    active = [str(layer["name"]) for layer in layers if layer["active"]]
    inactive = [f"{layer['name']} ({layer['detail']})" for layer in layers if not layer["active"]]
    return active, inactive


def log_sandbox_layers(outcomes: dict[str, LoadOutcome]) -> None:
    active, inactive = sandbox_layer_summary(outcomes)
    log.info("sandbox layers active in workers: %s", ", ".join(active) or "none reported")
    if inactive:
        log.warning("SANDBOX DEGRADED: layers NOT active: %s", "; ".join(inactive))


def build_competition(
    registry: Registry,
    market: MarketData,
    data_dir: Path,
    broker: Broker | None = None,
    durability: Durability = "tick",
    settle_seconds: float = 0.0,
) -> Competition:
    """`Competition.open` for the common plan: a registry, a market, a broker (or the
    simulator), every enabled team's strategy in its own sandboxed worker."""
    return Competition.open(
        CompetitionPlan(registry, market, data_dir, broker, durability, settle_seconds)
    )


def engine_config(plan: CompetitionPlan) -> EngineConfig:
    """The trading rules (the registry's, and the broker's asset limits) and the limits."""
    config = plan.registry.competition
    rules = config.rules.trading_rules()
    if plan.asset_limits is not None:
        not_shortable, not_fractionable = plan.asset_limits
        rules = replace(rules, not_shortable=not_shortable, not_fractionable=not_fractionable)
    return EngineConfig(
        rules=rules,
        window_minutes=config.window_minutes,
        max_consecutive_faults=config.sandbox.max_consecutive_faults,
        settle_seconds=plan.settle_seconds,
        params={t.team_id: t.params for t in plan.registry.enabled_teams},
    )


@dataclass(slots=True)
class _Parts:
    """What a competition builds, and so closes: the sandbox, the ledgers, the bar lake."""

    store: BarStore
    runner: StrategyRunner
    ledger: LedgerWriter
    lake: BarLake
    books: dict[str, TeamBook]
    outcomes: dict[str, LoadOutcome]
    inbox: StrategyInbox | None

    @classmethod
    def build(cls, plan: CompetitionPlan) -> _Parts:
        registry = plan.registry
        codes = {
            team.team_id: TeamCode(files, team.entry_point, dict(team.params), version_of(files))
            for team in registry.enabled_teams
            for files in [read_strategy_files(team.strategy)]
        }
        store = BarStore()
        runner, outcomes = _start_strategies(plan, store, codes)
        books = {
            t.team_id: TeamBook.opening(t.team_id, t.name, t.initial_cash, codes[t.team_id].version)
            for t in registry.enabled_teams
        }
        params = {t.team_id: dict(t.params) for t in registry.enabled_teams}
        inbox = StrategyInbox(plan.data_dir, params) if plan.strategies else None
        ledger = LedgerWriter(plan.data_dir, plan.durability)
        return cls(store, runner, ledger, BarLake(plan.data_dir), books, outcomes, inbox)


def _start_strategies(
    plan: CompetitionPlan, store: BarStore, codes: dict[str, TeamCode]
) -> tuple[StrategyRunner, dict[str, LoadOutcome]]:
    if not plan.strategies:
        return NoStrategies(), {}
    runner = SandboxRunner(sandbox_settings(plan.registry), history=history_api(store))
    outcomes = runner.load_many(codes)
    for team_id, outcome in outcomes.items():
        if not outcome.ok:
            log.warning(
                "team %s: strategy did not load (%s): %s", team_id, outcome.kind, outcome.error
            )
    return runner, outcomes


class NoStrategies:
    """The strategy runner of a competition opened for its books alone: nothing runs."""

    def run_tick(self, *_args: object) -> dict[str, StrategyResult]:
        return {}

    def swap(self, team_id: str, code: TeamCode, smoke: object) -> LoadOutcome:
        return LoadOutcome(False, "load", "no strategies run in this competition")

    def close(self) -> None:
        """Nothing was started."""


@dataclass(slots=True)
class _SessionClose:
    """After each session: (live) the whole day fetched again into the lake, the day's bars
    flushed, the day's snapshots folded into Parquet."""

    ledger: LedgerWriter
    lake: BarLake
    data_dir: Path
    backfill: Backfill | None = None

    def __call__(self, day: date) -> None:
        if self.backfill is not None:
            backfill_session(self.lake, self.backfill, day)
        self.ledger.end_tick()
        self.lake.flush()
        try:
            fold_all(self.data_dir, day)
        except FoldError as error:  # a fold that could not be written is a failed write
            written = [f for f in error.failures.values() if isinstance(f, LedgerWriteError)]
            if written:
                raise written[0] from error
            raise
        gc.freeze()  # the day's bars and books stay: keep them out of later collections


class _LakeFeed:
    """The engine's bar history: every minute goes to the in-memory store and to the lake."""

    def __init__(self, store: BarStore, lake: BarLake) -> None:
        self.store = store
        self.lake = lake

    def append_minute(self, bars: dict) -> None:
        self.store.append_minute(bars)
        self.lake.add(bars.values())

    def window(self, n: int) -> dict:
        return self.store.window(n)

    def last_closes(self) -> dict[str, float]:
        return self.store.last_closes()
