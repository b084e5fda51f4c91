"""Uploaded strategy versions: `data/strategies/<team>/<version>/` plus a version log.

A version's folder is written under a temporary name and renamed into place, and only then
is its line appended to `<team>/versions.jsonl`: the engine (which watches that log) never
sees a version whose files are incomplete. The code is never executed in the API process.
Versions are kept for the record, so each team has a storage quota (decision 0021): a
version that would pass it is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.engine.ports import TeamCode
from app.ledger.jsonl import JsonlAppender, read_jsonl
from app.ledger.paths import validate_owner

STRATEGIES = "strategies"
VERSIONS = "versions.jsonl"
REPORT = "report.json"
MIB = 1 << 20


@dataclass(frozen=True)
class Quota:
    """What one team may keep: bytes on disk (files, reports, the log) and versions."""

    max_bytes: int = 100 * MIB
    max_versions: int = 1000


class QuotaExceededError(ValueError):
    """Storing this version would pass the team's quota; the message says what to do."""


class StrategyStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / STRATEGIES
        self._saving = threading.Lock()  # the quota check and the write are one step

    def team_dir(self, team_id: str) -> Path:
        validate_owner(team_id)
        return self.root / team_id

    def versions(self, team_id: str) -> list[dict[str, Any]]:
        """Every accepted version, oldest first, with its validation report."""
        log = self.team_dir(team_id) / VERSIONS
        return list(read_jsonl(log, allow_torn_tail=True)) if log.is_file() else []

    def latest(self, team_id: str) -> dict[str, Any] | None:
        versions = self.versions(team_id)
        return versions[-1] if versions else None

    def has(self, team_id: str, version: str) -> bool:
        return (self.team_dir(team_id) / version / REPORT).is_file()

    def usage(self, team_id: str) -> tuple[int, int]:
        """(bytes, versions) the team's folder holds, as the disk has them."""
        folder = self.team_dir(team_id)
        if not folder.is_dir():
            return 0, 0
        used = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file())
        versions = sum(1 for p in folder.iterdir() if (p / REPORT).is_file())
        return used, versions

    def quota_problem(self, team_id: str, incoming: int, quota: Quota) -> str | None:
        """Why a new version of `incoming` bytes would pass the quota, or None."""
        used, versions = self.usage(team_id)
        if versions >= quota.max_versions:
            why = f"{team_id} keeps {versions:,} versions"
        elif used + incoming > quota.max_bytes:
            why = (
                f"{team_id} keeps {used / MIB:,.1f} MiB of versions and this one needs "
                f"{incoming / MIB:,.2f} MiB more"
            )
        else:
            return None
        return (
            f"storage quota reached: {why}; a team may keep {quota.max_versions:,} versions "
            f"in {quota.max_bytes / MIB:,.0f} MiB. Old versions are kept for the record: make "
            "the upload smaller (fewer data files), or ask the organiser to raise "
            "competition.uploads in the registry"
        )

    def save(
        self,
        team_id: str,
        version: str,
        sources: dict[str, str],
        data: dict[str, bytes],
        report: dict[str, Any],
        quota: Quota | None = None,
    ) -> dict[str, Any]:
        """Store the files and the report, then announce the version in the log; with a
        quota, QuotaExceededError before anything is written if it would pass it."""
        with self._saving:
            if quota is not None:
                problem = self.quota_problem(team_id, version_bytes(sources, data, report), quota)
                if problem is not None:
                    raise QuotaExceededError(problem)
            return self._save(team_id, version, sources, data, report)

    def _save(
        self,
        team_id: str,
        version: str,
        sources: dict[str, str],
        data: dict[str, bytes],
        report: dict[str, Any],
    ) -> dict[str, Any]:
        folder = self.team_dir(team_id)
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=folder))
        try:
            for name, text in sources.items():
                _write(staging / "files" / name, text.encode("utf-8"))
            for name, content in data.items():
                _write(staging / "files" / name, content)
            _write(staging / REPORT, json.dumps(report, indent=2).encode())
            os.replace(staging, folder / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._announce(folder, version, report)

    def log_again(self, team_id: str, version: str, report: dict[str, Any]) -> dict[str, Any]:
        """A version the store holds, uploaded again and checked again: a new line in the
        log (the engine stages it again), with this upload's report; the files are kept."""
        with self._saving:
            return self._announce(self.team_dir(team_id), version, {**report, "again": True})

    def _announce(self, folder: Path, version: str, report: dict[str, Any]) -> dict[str, Any]:
        record = {"version": version, "uploaded_at": datetime.now(UTC), **report}
        with JsonlAppender(folder / VERSIONS) as log:
            log.append(record)
            log.fsync()
        return record

    def code(self, team_id: str, version: str, params: dict[str, Any]) -> TeamCode:
        """A stored version as the sandbox runs it (its .py files, as text)."""
        folder = self.team_dir(team_id) / version
        report = json.loads((folder / REPORT).read_text())
        files_dir = folder / "files"
        sources = {
            p.relative_to(files_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(files_dir.rglob("*.py"))
        }
        return TeamCode(sources, report["entry_point"], dict(params), version)


def version_bytes(
    sources: dict[str, str], data: dict[str, bytes], report: dict[str, Any] | None = None
) -> int:
    """About what a version takes on disk: its files, and its report twice (its own file
    and its line in the log)."""
    files = sum(len(text.encode("utf-8")) for text in sources.values())
    files += sum(len(content) for content in data.values())
    return files + 2 * len(json.dumps(report or {}, default=str))


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
