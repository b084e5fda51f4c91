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
        self._seen: dict[str, int] = {}  # lines of each team's version log seen

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
        """Stage each team's newest upload if it is new; returns the teams staged.

        Every line of a team's version log is an upload that passed, so a new line is staged
        even when its code is the version running (or the one a disabled team failed with):
        uploading the same file again revives a team (issue 15). Lines written before this
        start count only for a version that is not running already."""
        if not self._changed.is_set():
            return []
        self._changed.clear()
        staged = []
        for team_id, book in engine.books.items():
            versions = self.store.versions(team_id)
            seen, self._seen[team_id] = self._seen.get(team_id), len(versions)
            if not versions or (seen is not None and len(versions) <= seen):
                continue
            latest = versions[-1]
            version = str(latest["version"])
            if seen is None and version == book.version and book.enabled:
                continue  # uploaded before this start and running already
            code = self.store.code(team_id, version, self.params.get(team_id, {}))
            code.entry_point = str(latest.get("entry_point") or code.entry_point)
            engine.stage_version(team_id, code)
            staged.append(team_id)
        return staged

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
