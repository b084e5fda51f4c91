"""A StrategyRunner that calls strategies in the host's own process.

No isolation at all: only for strategies the organiser trusts (the demo teams, a
team's local test). The sandbox's runner is the one for uploaded code.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from app.engine.ports import StrategyResult, TeamCall
from app.strategies.loader import StrategyLoadError, load_strategy, trimmed_traceback

MAX_PRINTED_CHARS = 4000


class _BoundedText(io.StringIO):
    """Collects what a strategy prints, up to a limit."""

    def write(self, text: str) -> int:
        room = MAX_PRINTED_CHARS - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


class InProcessRunner:
    def __init__(self, api: object | None = None) -> None:
        self._instances: dict[str, Any] = {}
        self._paths: dict[str, Path] = {}
        self._versions: dict[str, str] = {}
        self._load_errors: dict[str, str] = {}
        self._api = api

    def load(self, team_id: str, path: Path, entry_point: str, params: dict, version: str) -> None:
        """(Re)load a team's strategy; a failure is reported on every call until fixed."""
        self._paths[team_id] = path
        self._versions[team_id] = version
        try:
            self._instances[team_id] = load_strategy(path, entry_point, params)
            self._load_errors.pop(team_id, None)
        except StrategyLoadError as error:
            self._instances.pop(team_id, None)
            self._load_errors[team_id] = str(error)

    def strategy(self, team_id: str) -> Any:
        """The live instance of a team's strategy (for local tests and debugging)."""
        return self._instances.get(team_id)

    def run_tick(
        self,
        tick: datetime,
        window: Mapping[str, Mapping[str, Any]],
        current_prices: Mapping[str, float],
        calls: list[TeamCall],
    ) -> dict[str, StrategyResult]:
        return {call.team_id: self._call(call, window, current_prices) for call in calls}

    def _call(
        self, call: TeamCall, window: Mapping[str, Any], prices: Mapping[str, float]
    ) -> StrategyResult:
        result = StrategyResult(call.team_id, version=self._versions.get(call.team_id, ""))
        instance = self._instances.get(call.team_id)
        if instance is None:
            result.error = self._load_errors.get(call.team_id, "strategy not loaded")
            result.error_kind = "load"
            return result
        team = {**call.header, "api": self._api}
        printed = _BoundedText()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(printed):
                result.output = instance.generate_signal(team, window, dict(prices))
        except Exception as error:
            result.error = trimmed_traceback(error, self._paths[call.team_id])
            result.error_kind = "exception"
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.printed = printed.getvalue()
        return result

    def close(self) -> None:
        self._instances.clear()
