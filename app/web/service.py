"""What the HTTP API answers, read from the ledgers of one data directory.

Routes are thin skins over this service. Everything here only reads files the engine
writes: a half-written last line is skipped (never parsed), a folded day is read from its
Parquet file (written to a temporary file and renamed), so the API never sees a torn
record and never holds a lock the engine waits for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from app.config.registry import Registry, RegistryError, load_registry
from app.engine.lines import EventKind, parse_event
from app.ledger import reader
from app.ledger.fold import read_portfolio
from app.ledger.jsonl import tail_jsonl
from app.ledger.paths import METRICS, TRADES, owner_dir, team_ids
from app.ledger.small_files import ChangedFile
from app.market.lake import BarLake
from app.strategies.sources import StrategySourceError, read_strategy_files, version_of
from app.uploads.store import StrategyStore
from app.web.times import NEW_YORK, parse_time

INTERVALS = {"1min": "1min", "5min": "5min", "15min": "15min", "1h": "1h", "1d": "1D"}
MAX_PAGE_SIZE = 500
MAX_BARS = 5_000


class NotFoundError(LookupError):
    """No such team, symbol or day (the message says which)."""


class ArenaService:
    def __init__(self, data_dir: Path, registry_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.registry_path = registry_path
        self.lake = BarLake(self.data_dir)
        self._tick_marker = owner_dir(self.data_dir, None) / METRICS
        self._cache: dict[tuple, tuple[int, Any]] = {}
        self._registry = (
            ChangedFile(Path(registry_path), _read_registry, None) if registry_path else None
        )

    # -- caching -----------------------------------------------------------------------

    def _generation(self) -> int:
        """Changes once per tick: the engine writes the account's metrics line last."""
        try:
            info = self._tick_marker.stat()
        except FileNotFoundError:
            return -1
        return info.st_mtime_ns ^ info.st_size

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()`, reused until the engine's next tick (every client reads the same)."""
        generation = self._generation()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        value = compute()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (generation, value)
        return value

    # -- teams -------------------------------------------------------------------------

    def registry(self) -> Registry | None:
        """The registry, read again only when its file changed."""
        return self._registry() if self._registry is not None else None

    def teams(self) -> dict[str, str]:
        """{team_id: name} of every team: the registry's, and any with ledgers."""
        return self._cached(("teams",), self._read_teams)

    def _read_teams(self) -> dict[str, str]:
        names = {t: t for t in team_ids(self.data_dir)}
        registry = self.registry()
        if registry is not None:
            names.update({t.team_id: t.name for t in registry.teams})
        return dict(sorted(names.items()))

    def require_team(self, team_id: str) -> None:
        if team_id not in self.teams():
            raise NotFoundError(f"no team {team_id!r}")

    def _folder(self, team_id: str) -> Path:
        return owner_dir(self.data_dir, team_id)

    def status(self, team_id: str) -> dict[str, Any]:
        """Cash, positions with P&L, equity, rank, strategy version and health."""
        self.require_team(team_id)
        return self._cached(("status", team_id), lambda: self._read_status(team_id))

    def _read_status(self, team_id: str) -> dict[str, Any]:
        folder = self._folder(team_id)
        portfolio = reader.latest_portfolio(folder) or {}
        metrics = reader.latest_metrics(folder) or {}
        version, health = self._version_and_health(team_id, metrics)
        return {
            "team_id": team_id,
            "name": self.teams()[team_id],
            "as_of": portfolio.get("timestamp"),
            "cash": portfolio.get("cash"),
            "equity": portfolio.get("equity"),
            "realized_pnl": portfolio.get("realized_pnl"),
            "unrealized_pnl": portfolio.get("unrealized_pnl"),
            "fees": portfolio.get("fees"),
            "positions": portfolio.get("positions", {}),
            "rank": metrics.get("rank"),
            "teams": len(self.teams()),
            "return_pct": metrics.get("total_return_pct"),
            "strategy_version": version,
            "health": health,
            "last_fault": self._last_fault(team_id),
        }

    def _last_fault(self, team_id: str) -> dict[str, Any] | None:
        """The team's newest fault among its recent events (a strategy's error, a version
        the engine would not swap in), for a page to say why a team is not trading."""
        for record in reversed(reader.recent_events(self._folder(team_id), 500)):
            if record.get("kind") not in NOT_FAULTS:
                return {k: record.get(k) for k in ("timestamp", "kind", "message")}
        return None

    def _version_and_health(self, team_id: str, latest: dict[str, Any]) -> tuple[str | None, str]:
        """The running version and whether the team is trading: from its latest metrics
        line, or, for ledgers written before metrics said so, its events."""
        if "status" in latest:
            return latest.get("strategy_version"), str(latest["status"])
        version: str | None = None
        health = "active"
        for record in reader.recent_events(self._folder(team_id), 500):
            line = parse_event(record)
            version = getattr(line, "strategy_version", "") or version
            kind = getattr(line, "kind", None)  # an old shape is kept whole, kind and all
            if kind == EventKind.DISABLED:
                health = "disabled"
            elif kind == EventKind.VERSION:
                health = "active"
        if version is None:
            trades = reader.recent_trades(self._folder(team_id), 1)
            version = trades[0].get("strategy_version") if trades else None
        return version, health

    def trades(self, team_id: str, page: int, size: int) -> dict[str, Any]:
        self.require_team(team_id)
        return self._page(self._folder(team_id) / TRADES, page, size)

    def events(self, team_id: str, page: int, size: int) -> dict[str, Any]:
        """What happened to the team, newest first (old ledgers' errors.jsonl included)."""
        self.require_team(team_id)
        folder = self._folder(team_id)
        return _page(lambda n: reader.recent_events(folder, n), page, size)

    def _page(self, path: Path, page: int, size: int) -> dict[str, Any]:
        def tail(n: int) -> list[dict[str, Any]]:
            return tail_jsonl(path, n, allow_torn_tail=True) if path.is_file() else []

        return _page(tail, page, size)

    def metrics(self, team_id: str) -> dict[str, Any]:
        self.require_team(team_id)
        return reader.latest_metrics(self._folder(team_id)) or {}

    def history(self, team_id: str, interval: str) -> dict[str, Any]:
        """The equity curve, the last value of each interval."""
        self.require_team(team_id)
        return {"team_id": team_id, "interval": interval, "points": self._curve(team_id, interval)}

    def _curve(self, team_id: str, interval: str) -> list[list[Any]]:
        rule = INTERVALS[interval]
        frame = read_portfolio(self._folder(team_id))
        if frame.empty:
            return []
        series = pd.Series(
            [float(v) for v in frame["equity"]], index=pd.DatetimeIndex(frame["timestamp"])
        )
        if rule != "1min":
            series = series.resample(rule).last().dropna()
        return [
            [stamp.isoformat().replace("+00:00", "Z"), value] for stamp, value in series.items()
        ]

    def line(self, team_id: str) -> str:
        """One line of plain text for a terminal."""
        status = self.status(team_id)
        metrics = self.metrics(team_id)
        rank = f"{status['rank']}/{status['teams']}" if status["rank"] else "-"
        equity = _money(status["equity"])
        ret = _signed(metrics.get("total_return_pct"))
        sharpe, drawdown = _plain(metrics.get("sharpe")), _plain(metrics.get("max_drawdown_pct"))
        return (
            f"{team_id} rank {rank} equity {equity} return {ret}% sharpe {sharpe} "
            f"max-dd {drawdown}% "
            f"trades {metrics.get('trades', 0)} version {status['strategy_version'] or '-'} "
            f"{status['health']}"
        )

    def team_params(self, team_id: str) -> dict[str, Any]:
        registry = self.registry()
        team = next((t for t in registry.teams if t.team_id == team_id), None) if registry else None
        return dict(team.params) if team is not None else {}

    def strategy_versions(self, team_id: str) -> list[dict[str, Any]]:
        """Every version, oldest first: the registry's own (what the engine starts with),
        then each upload (`uploaded_at` on the wall clock)."""
        self.require_team(team_id)
        uploads = [
            {"source": "upload", **v} for v in StrategyStore(self.data_dir).versions(team_id)
        ]
        own = self._cached(("registry-version", team_id), lambda: self._registry_version(team_id))
        return ([own] if own else []) + uploads

    def _registry_version(self, team_id: str) -> dict[str, Any] | None:
        registry = self.registry()
        team = next((t for t in registry.teams if t.team_id == team_id), None) if registry else None
        if team is None:
            return None
        try:
            files = read_strategy_files(team.strategy)
        except (OSError, StrategySourceError):
            return None
        return {"source": "registry", "version": version_of(files), "uploaded_at": None,
                "entry_point": team.entry_point, "files": sorted(files)}  # fmt: skip

    # -- public ------------------------------------------------------------------------

    def leaderboard(self) -> list[dict[str, Any]]:
        """Public figures only: no positions, trades, code or errors."""
        return self._cached(("leaderboard",), self._read_leaderboard)

    def leaderboard_json(self) -> bytes:
        """The leaderboard's answer, encoded once per tick (the hottest public read)."""
        return self._cached(("leaderboard-json",), lambda: _json({"teams": self.leaderboard()}))

    def status_json(self, team_id: str) -> bytes:
        """A team's status, encoded once per tick."""
        self.require_team(team_id)
        return self._cached(("status-json", team_id), lambda: _json(self.status(team_id)))

    def _read_leaderboard(self) -> list[dict[str, Any]]:
        rows = []
        for team_id, name in self.teams().items():
            metrics = reader.latest_metrics(self._folder(team_id)) or {}
            _version, health = self._version_and_health(team_id, metrics)
            rows.append(
                {
                    "rank": metrics.get("rank"),
                    "team_id": team_id,
                    "name": name,
                    "return_pct": metrics.get("total_return_pct"),
                    "equity": metrics.get("equity"),
                    "sharpe": metrics.get("sharpe"),
                    "max_drawdown_pct": metrics.get("max_drawdown_pct"),
                    "trades": metrics.get("trades", 0),
                    "status": health,
                    # As qlib.contrib.evaluate.risk_analysis(minute returns, N=98280) says.
                    "risk": {
                        "annualized_return": metrics.get("annualized_return"),
                        "information_ratio": metrics.get("information_ratio"),
                        "max_drawdown": metrics.get("max_drawdown"),
                    },
                }
            )
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["team_id"]))
        return rows

    def curves(self, interval: str) -> dict[str, list[list[Any]]]:
        """Every team's equity curve (public: the leaderboard page draws them)."""
        return self._cached(
            ("curves", interval),
            lambda: {team_id: self._curve(team_id, interval) for team_id in self.teams()},
        )

    # -- market data -------------------------------------------------------------------

    def bars_recent(self, symbol: str, n: int) -> list[dict[str, Any]]:
        n = max(1, min(n, MAX_BARS))
        frame = self.lake.read(symbols=[symbol])
        return _bars(frame.tail(n), symbol)

    def bars_day(self, symbol: str, day: date) -> list[dict[str, Any]]:
        return _bars(self.lake.read(day, day, [symbol]), symbol)

    def bars_range(self, symbol: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Bars from `start` to `end` (excluded); a time without a zone is UTC (times.py)."""
        start, end = parse_time(start, "start"), parse_time(end, "end")
        if end <= start:
            raise ValueError("end must be after start")
        days = (start.astimezone(NEW_YORK).date(), end.astimezone(NEW_YORK).date())
        frame = self.lake.read(*days, [symbol])  # the lake's days are New York days
        if not frame.empty:
            stamps = pd.to_datetime(frame["timestamp"], utc=True)
            frame = frame[(stamps >= start) & (stamps < end)]
        if len(frame) > MAX_BARS:
            raise ValueError(f"more than {MAX_BARS} bars: ask for a shorter range")
        return _bars(frame, symbol)


NOT_FAULTS = {
    EventKind.SIGNAL_ACCEPTED, EventKind.SIGNAL_REFUSED, EventKind.OUTPUT, EventKind.VERSION,
    EventKind.DISABLED, EventKind.EXPIRED, EventKind.ORDER, EventKind.CONTROL,
    EventKind.LEDGER_LIMIT, EventKind.CORPORATE_ACTION, None,
}  # fmt: skip


def _page(tail: Callable[[int], list[dict[str, Any]]], page: int, size: int) -> dict[str, Any]:
    """Newest first; page 1 is the newest `size` records of what `tail(n)` reads."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    page = max(1, page)
    newest_first = tail(page * size)[::-1][(page - 1) * size : page * size]
    return {"page": page, "size": size, "items": newest_first}


def _bars(frame: pd.DataFrame, symbol: str) -> list[dict[str, Any]]:
    if frame.empty:
        raise NotFoundError(f"no bars for {symbol!r} there")
    rows = []
    for row in frame.itertuples(index=False):
        rows.append(
            {
                "timestamp": _stamp(row.timestamp),
                "open": row.open,
                "high": row.high,
                "low": row.low,
                "close": row.close,
                "volume": row.volume,
            }
        )
    return rows


def _read_registry(path: Path) -> Registry | None:
    try:
        return load_registry(path)
    except RegistryError:
        return None


def _json(value: Any) -> bytes:
    return orjson.dumps(
        value, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)
    )


def _stamp(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return "-"


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.2f}"


def _signed(value: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value):+.3f}"
