"""An upload's way to becoming a team's next version: unpack with limits, the sandbox's static
checks, a smoke test in the real sandbox on recent bars within the time budget, then the
store within the team's quota. Any failure returns every reason and leaves the running
version untouched."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.models import Bar
from app.domain.numbers import price_from_float
from app.domain.portfolio import Portfolio
from app.domain.validation import TeamExposure, TradingRules, apply_budget, parse_signals
from app.engine.ports import TeamCall, TeamCode
from app.market.lake import BarLake
from app.market.store import BarStore
from app.market.synthetic import SyntheticMarket
from app.strategies.history_api import history_api
from app.strategies.sources import StrategySourceError, guess_entry_point, version_of
from app.uploads.store import Quota, QuotaExceededError, StrategyStore, version_bytes
from app.uploads.unpack import Unpacked, UploadRejectedError, unpack_upload
from sandbox.host.supervisor import SandboxRunner, SandboxSettings
from sandbox.worker.compiler import check_strategy

SMOKE_MINUTES = 120
SMOKE_CASH = 100_000  # the smoke call's team: this cash, no positions
WINDOW_MINUTES = 390


@dataclass
class UploadOutcome:
    accepted: bool
    version: str | None = None
    problems: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False  # the team's store already held this code: uploaded again
    over_quota: bool = False


class UploadPipeline:
    """Validates and stores uploads; one sandbox runner, started on first use."""

    def __init__(
        self, store: StrategyStore, lake: BarLake, settings: SandboxSettings,
        quota: Callable[[], Quota] = Quota,
    ) -> None:  # fmt: skip
        self.store = store
        self.lake = lake
        self.settings = settings
        self.quota = quota  # asked at every upload: the registry may have raised it
        self._runner: SandboxRunner | None = None
        self._lock = threading.Lock()  # one smoke test at a time: the runner is not shared

    def accept(
        self, team_id: str, filename: str, payload: bytes, entry_point: str | None,
        params: dict[str, Any],
    ) -> UploadOutcome:  # fmt: skip
        checked = self._checked(filename, payload, entry_point)
        if isinstance(checked, UploadOutcome):
            return checked
        unpacked, entry = checked
        sources = unpacked.sources
        version = version_of({**sources, **{k: v.hex() for k, v in unpacked.data.items()}})
        # The same code again is checked again and staged again (it may revive a disabled
        # team, issue 15): its files are kept once, each upload is a line of the log.
        again = self.store.has(team_id, version)
        quota = self.quota()
        full = self.store.quota_problem(team_id, version_bytes(sources, unpacked.data), quota)
        if full is not None and not again:  # before the smoke test: no sandbox time spent
            return UploadOutcome(False, version, [full], over_quota=True)
        smoke = self._smoke(team_id, TeamCode(sources, entry, dict(params), version))
        if smoke.get("error"):
            return UploadOutcome(False, version, [f"smoke test: {smoke['error']}"], smoke)
        if smoke.get("refused"):  # not signals at all: they would be refused every minute
            return UploadOutcome(False, version, [f"smoke test: {r}" for r in smoke["refused"]],
                                 smoke)  # fmt: skip
        report = {"entry_point": entry, "files": sorted(sources) + sorted(unpacked.data),
                  "problems": [], "smoke": smoke}  # fmt: skip
        if again:
            self.store.log_again(team_id, version, report)
            return UploadOutcome(True, version, [], report, duplicate=True)
        try:  # checked again with the report, under the store's lock
            self.store.save(team_id, version, sources, unpacked.data, report, quota)
        except QuotaExceededError as full_now:
            return UploadOutcome(False, version, [str(full_now)], over_quota=True)
        return UploadOutcome(True, version, [], report)

    def _checked(
        self, filename: str, payload: bytes, entry_point: str | None
    ) -> tuple[Unpacked, str] | UploadOutcome:
        """The unpacked files and the entry point if the static checks pass, else why not."""
        try:
            unpacked = unpack_upload(filename, payload)
        except UploadRejectedError as rejected:
            return UploadOutcome(False, problems=rejected.problems)
        try:
            entry = entry_point or guess_entry_point(unpacked.sources)
        except StrategySourceError as error:
            # Report the files' own problems (syntax errors with file and line) if any.
            found = check_strategy(unpacked.sources, "Strategy", self.settings.policy)
            return UploadOutcome(False, problems=[str(p) for p in found] or [str(error)])
        problems = [str(p) for p in check_strategy(unpacked.sources, entry, self.settings.policy)]
        if problems:
            return UploadOutcome(False, problems=problems)
        return unpacked, entry

    def _smoke(self, team_id: str, code: TeamCode) -> dict[str, Any]:
        """Load the strategy and call it once on recent bars, in the real sandbox."""
        tick, window, prices, store = recent_bars(self.lake)
        with self._lock:
            runner = self._runner = self._runner or SandboxRunner(self.settings)
            runner.history = history_api(store)
            probe = f"upload-{team_id}"[:32]
            try:
                loaded = runner.load(probe, code)
                if not loaded.ok:
                    return {"error": f"{loaded.kind}: {loaded.error}"}
                # The keys of a tick's header, the data ones included (decision 0028).
                header = {"id": team_id, "name": team_id, "cash": float(SMOKE_CASH),
                          "positions": {}, "params": code.params, "bars_missing": False,
                          "missing_minutes": []}  # fmt: skip
                result = runner.run_tick(tick, window, prices, [TeamCall(probe, header)])[probe]
            finally:
                worker = runner.workers.pop(probe, None)
                if worker is not None:
                    worker.kill()
                runner.code.pop(probe, None)
        if result.error:
            return {"error": f"{result.error_kind}: {result.error}", "printed": result.printed}
        refused, warnings = check_signals(team_id, result.output, prices)
        return {"tick": tick.isoformat(), "output": _plain(result.output),
                "printed": result.printed, "duration_ms": round(result.duration_ms, 3),
                "refused": refused, "warnings": warnings}  # fmt: skip

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()


def recent_bars(lake: BarLake) -> tuple[datetime, dict, dict[str, float], BarStore]:
    """The last minutes the lake holds (synthetic ones before any trading day), and the
    store holding them (what `team["api"]` answers from in the smoke call)."""
    store = BarStore()
    days = lake.days()
    minutes: dict[datetime, dict[str, Bar]] = {}
    if days:
        frame = lake.read(days[-1], days[-1])
        for row in frame.itertuples(index=False):
            stamp = row.timestamp.to_pydatetime()
            minutes.setdefault(stamp, {})[row.symbol] = Bar(
                row.symbol, stamp, row.open, row.high, row.low, row.close, row.volume
            )
    if not minutes:
        market = SyntheticMarket(symbols=8)
        minutes = {m: market.bars(m) for m in market.minutes()[:SMOKE_MINUTES]}
    chosen = sorted(minutes)[-SMOKE_MINUTES:]
    for stamp in chosen:
        store.append_minute(minutes[stamp])
    return chosen[-1], store.window(WINDOW_MINUTES), store.last_closes(), store


def check_signals(
    team_id: str, output: object, prices: Mapping[str, float]
) -> tuple[list[str], list[str]]:
    """The smoke call's return value through the engine's own checks, as a team with the
    smoke call's cash and no positions: (schema errors, which refuse the upload; the rules'
    refusals, which are warnings: cash, holdings, a symbol outside these bars)."""
    reference = {symbol: price_from_float(price) for symbol, price in prices.items()}
    rules = TradingRules()
    intents, rejections = parse_signals(team_id, output, reference, rules)
    exposure = TeamExposure(Portfolio.with_cash(Decimal(SMOKE_CASH)))
    _accepted, refusals = apply_budget(intents, exposure, reference, rules)
    every = sorted(rejections + refusals, key=lambda r: r.signal_index)
    said = [(r.schema, f"signal {r.signal_index}: {r.reason}") for r in every]
    return [text for schema, text in said if schema], [text for schema, text in said if not schema]


def _plain(output: Any) -> Any:
    """The smoke call's signals as JSON-able data for the report."""
    if output is None or isinstance(output, str | int | float | bool):
        return output
    if isinstance(output, dict):
        return {str(k): _plain(v) for k, v in output.items()}
    if isinstance(output, list | tuple):
        return [_plain(v) for v in output]
    return repr(output)
