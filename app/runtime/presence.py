"""Is there a competition in a data directory? Its ledgers say one ran there; the engine's
mark (`control/engine.json`, written while a competition is open) says one is running.
Commands that act on a competition (the kill switch) or read one (print-team,
print-global) ask here first, so a wrong `--data-dir` is said instead of acted on."""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.domain.timefmt import to_rfc3339
from app.engine.stop import LedgerWriteError
from app.ledger.paths import journal_path, team_ids
from app.ledger.small_files import write_json_atomic

ENGINE_FILE = Path("control") / "engine.json"
log = logging.getLogger(__name__)


class NoCompetitionError(ValueError):
    """The data directory holds no competition: no ledgers and no running engine."""


def mark_engine_running(data_dir: Path) -> None:
    """Written when a competition opens: which process runs the engine, since when. Best
    effort: a folder that refuses it leaves the ledgers to say a competition is there."""
    body = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": to_rfc3339(datetime.now(UTC)),
    }
    try:
        write_json_atomic(Path(data_dir) / ENGINE_FILE, body)
    except (OSError, LedgerWriteError) as error:
        log.warning("cannot mark %s as having a running engine: %s", data_dir, error)


def clear_engine_mark(data_dir: Path) -> None:
    """Removed when it closes (a mark left by a killed engine is read as not running)."""
    path = Path(data_dir) / ENGINE_FILE
    if (_read(path) or {}).get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def running_engine(data_dir: Path) -> dict[str, Any] | None:
    """The mark of the engine running on this data directory, or None."""
    body = _read(Path(data_dir) / ENGINE_FILE)
    if body is None or body.get("host") != socket.gethostname():
        return None
    pid = body.get("pid")
    return body if isinstance(pid, int) and _alive(pid) else None


def has_ledgers(data_dir: Path) -> bool:
    data_dir = Path(data_dir)
    return (
        bool(team_ids(data_dir))
        or (data_dir / "account").is_dir()
        or journal_path(data_dir).exists()
    )


def require_competition(data_dir: Path) -> None:
    """Nothing, if a competition ran or runs in `data_dir`; else NoCompetitionError saying
    so, and where one is if a folder inside holds it (the demo's `data/demo`)."""
    if is_competition(data_dir):
        return
    raise NoCompetitionError(
        f"no competition in {data_dir} (no ledgers, no running engine); {where_else(data_dir)}"
    )


def where_else(data_dir: Path) -> str:
    """A hint naming the competitions one level inside `data_dir`, if any."""
    inside = competitions_inside(data_dir)
    if not inside:
        return "start one (`arena demo`, `arena run`, `arena replay`) or pass --data-dir"
    found = " or ".join(f"--data-dir {child}" for child in inside)
    return f"one is in {', '.join(str(c) for c in inside)}: pass {found}"


def competitions_inside(data_dir: Path) -> list[Path]:
    """The folders directly inside `data_dir` that hold a competition (`data/demo`)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    return sorted(child for child in data_dir.iterdir() if child.is_dir() and is_competition(child))


def is_competition(data_dir: Path) -> bool:
    return has_ledgers(data_dir) or running_engine(data_dir) is not None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True
