"""Accepted uploads reach the running engine: the version logs under data/strategies/ are
watched (watchfiles) and each team's newest version is staged at the next tick boundary,
where the engine swaps it in only if it passes its own smoke call."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import watchfiles

from app.engine.ports import TeamCode
from app.uploads.store import StrategyStore

log = logging.getLogger(__name__)


class Stager(Protocol):
    books: dict[str, Any]

    def stage_version(self, team_id: str, code: TeamCode) -> None: ...


class StrategyInbox:
    def __init__(self, data_dir: Path, params: dict[str, dict[str, Any]]) -> None:
        self.store = StrategyStore(data_dir)
        self.params = params
        self._changed = threading.Event()
        self._changed.set()  # the first tick looks: versions uploaded before this start count
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._staged: dict[str, str] = {}

    def start(self) -> None:
        self.store.root.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._watch, name="strategy-inbox", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        try:
            for _changes in watchfiles.watch(self.store.root, stop_event=self._stop,
                                             rust_timeout=500, yield_on_timeout=False):  # fmt: skip
                self._changed.set()
        except Exception as error:  # a dead watcher must not go unnoticed
            log.error("watching %s for uploads stopped: %s", self.store.root, error)

    def drain(self, engine: Stager) -> list[str]:
        """Stage each team's newest version if it is new; returns the teams staged."""
        if not self._changed.is_set():
            return []
        self._changed.clear()
        staged = []
        for team_id, book in engine.books.items():
            latest = self.store.latest(team_id)
            if latest is None:
                continue
            version = str(latest["version"])
            if version in (self._staged.get(team_id), book.version):
                continue
            code = self.store.code(team_id, version, self.params.get(team_id, {}))
            engine.stage_version(team_id, code)
            self._staged[team_id] = version
            staged.append(team_id)
        return staged

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
