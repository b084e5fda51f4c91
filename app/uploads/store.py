"""Uploaded strategy versions: `data/strategies/<team>/<version>/` plus a version log.

A version's folder is written under a temporary name and renamed into place, and only then
is its line appended to `<team>/versions.jsonl`: the engine (which watches that log) never
sees a version whose files are incomplete. The code is never executed in the API process.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.engine.ports import TeamCode
from app.ledger.jsonl import JsonlAppender, read_jsonl
from app.ledger.paths import validate_owner

STRATEGIES = "strategies"
VERSIONS = "versions.jsonl"
REPORT = "report.json"


class StrategyStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / STRATEGIES

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

    def save(
        self,
        team_id: str,
        version: str,
        sources: dict[str, str],
        data: dict[str, bytes],
        report: dict[str, Any],
    ) -> dict[str, Any]:
        """Store the files and the report, then announce the version in the log."""
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


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
