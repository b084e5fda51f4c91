"""The composition root: build a running competition from a registry, a market and a broker."""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from app.broker.simulator import FillModel, SimulatedBroker
from app.config.registry import Registry
from app.engine.books import TeamBook
from app.engine.engine import Engine, EngineConfig, TickReport
from app.engine.leaderboard import LeaderboardRow, rank_books
from app.engine.ports import Broker, LoadOutcome, MarketData
from app.ledger.fold import fold_all
from app.ledger.writer import Durability, LedgerWriter
from app.market.lake import BarLake
from app.market.store import BarStore
from app.runtime.controls import kill_switch_reader, team_switch_reader
from app.runtime.failpoints import failpoint
from app.strategies.history_api import history_api
from app.strategies.sources import read_strategy_files, version_of
from app.uploads.inbox import StrategyInbox
from sandbox.host.supervisor import SandboxRunner, SandboxSettings, TeamCode
from sandbox.worker.policy import ImportPolicy

log = logging.getLogger(__name__)
RUN_OUTPUTS = ("team", "account", "orders", "bars")  # what a run writes; strategies/ stays


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


@dataclass(slots=True)
class Competition:
    registry: Registry
    data_dir: Path
    engine: Engine
    ledger: LedgerWriter
    lake: BarLake
    load_outcomes: dict
    inbox: StrategyInbox | None = None

    def run(
        self, minutes: Iterable[datetime], on_tick: Callable[[TickReport], None] | None = None
    ) -> list[str]:
        """Process every minute, then close the books; returns book mismatches (none expected).

        Uploaded versions (data/strategies/) are staged at each tick boundary.
        """
        if self.inbox is not None:
            self.inbox.start()
        try:
            for minute in minutes:
                if self.inbox is not None:
                    self.inbox.drain(self.engine)
                report = self.engine.tick(minute)
                if on_tick is not None:
                    on_tick(report)
        finally:
            if self.inbox is not None:
                self.inbox.stop()
            problems = self.engine.finish()
        return problems

    def leaderboard(self) -> list[LeaderboardRow]:
        return rank_books(self.engine.books.values())

    def end_of_day(self, day: date) -> None:
        """The bar lake gets the day's bars; the day's portfolio snapshots fold into Parquet."""
        self.ledger.end_tick()
        self.lake.flush()
        fold_all(self.data_dir, day)
        gc.freeze()  # the day's bars and books stay: keep them out of later collections


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
    """Every enabled team's strategy loaded into its own sandboxed worker, ready to tick."""
    store = BarStore()
    history = history_api(store)
    runner = SandboxRunner(sandbox_settings(registry), history=history)
    codes = {}
    for team in registry.enabled_teams:
        files = read_strategy_files(team.strategy)
        codes[team.team_id] = TeamCode(
            files, team.entry_point, dict(team.params), version_of(files)
        )
    outcomes = runner.load_many(codes)
    for team_id, outcome in outcomes.items():
        if not outcome.ok:
            log.warning(
                "team %s: strategy did not load (%s): %s", team_id, outcome.kind, outcome.error
            )
    books = {
        t.team_id: TeamBook.opening(t.team_id, t.name, t.initial_cash, codes[t.team_id].version)
        for t in registry.enabled_teams
    }
    config = registry.competition
    engine_config = EngineConfig(
        rules=config.rules.trading_rules(),
        window_minutes=config.window_minutes,
        max_consecutive_faults=config.sandbox.max_consecutive_faults,
        settle_seconds=settle_seconds,
        params={t.team_id: t.params for t in registry.enabled_teams},
    )
    ledger = LedgerWriter(data_dir, durability)
    lake = BarLake(data_dir)
    engine = Engine(
        books,
        market,
        broker or simulated_broker(registry),
        runner,
        ledger,
        _LakeFeed(store, lake),
        engine_config,
        kill_switch=kill_switch_reader(data_dir),
        team_switches=team_switch_reader(data_dir),
        crash_point=failpoint,
    )
    params = {t.team_id: dict(t.params) for t in registry.enabled_teams}
    inbox = StrategyInbox(data_dir, params)
    competition = Competition(registry, data_dir, engine, ledger, lake, outcomes, inbox)
    engine.set_day_end_hook(competition.end_of_day)
    gc.freeze()  # what lives for the whole run is never scanned again: no collection pauses
    return competition


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
