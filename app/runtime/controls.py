"""The kill switch's file in the data directory: thrown by `arena kill-switch` (or the web
admin), read by the running engine at every tick."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from app.domain.timefmt import parse_rfc3339, to_rfc3339
from app.engine.controls import KillMode, KillSwitch
from app.ledger.small_files import ChangedFile, write_json_atomic

log = logging.getLogger(__name__)
KILL_SWITCH_FILE = Path("control") / "kill-switch.json"


def kill_switch_path(data_dir: Path) -> Path:
    return Path(data_dir) / KILL_SWITCH_FILE


def throw_kill_switch(data_dir: Path, mode: KillMode, by: str) -> KillSwitch:
    """Set the mode (atomically: the engine never reads half a file)."""
    switch = KillSwitch(KillMode(mode), datetime.now(UTC))
    body = {"mode": switch.mode.value, "since": to_rfc3339(switch.since), "by": by}
    write_json_atomic(kill_switch_path(data_dir), body)
    log.warning("kill switch thrown by %s: %s", by, switch.mode.value)
    return switch


def release_kill_switch(data_dir: Path, by: str) -> bool:
    """Trading may go on; False if the switch was not thrown."""
    path = kill_switch_path(data_dir)
    if not path.exists():
        return False
    path.unlink()
    log.warning("kill switch released by %s", by)
    return True


def kill_switch_reader(data_dir: Path) -> ChangedFile[KillSwitch | None]:
    """The engine's view of the switch: read at most once per change, a `stat` per tick."""
    return ChangedFile(kill_switch_path(data_dir), read_kill_switch, None)


def read_kill_switch(path: Path) -> KillSwitch | None:
    try:
        body = json.loads(path.read_text())
        return KillSwitch(KillMode(body["mode"]), parse_rfc3339(body["since"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        # A damaged switch file must stop trading, not resume it.
        log.error("kill switch file %s is unreadable (%s): blocking", path, error)
        return KillSwitch(KillMode.BLOCK, datetime.fromtimestamp(0, UTC))


TEAM_SWITCHES_FILE = Path("control") / "teams.json"


def set_team_enabled(data_dir: Path, team_id: str, enabled: bool, by: str) -> None:
    """The organiser enables or disables a team; the engine applies it at its next tick."""
    path = Path(data_dir) / TEAM_SWITCHES_FILE
    body = json.loads(path.read_text()) if path.is_file() else {}
    body[team_id] = {"enabled": enabled, "since": to_rfc3339(datetime.now(UTC)), "by": by}
    write_json_atomic(path, body)
    log.warning("team %s %s by %s", team_id, "enabled" if enabled else "disabled", by)


def team_switch_reader(data_dir: Path) -> ChangedFile[dict[str, tuple[bool, str]]]:
    """The engine's view: {team_id: (enabled, since)}, each decision applied once."""
    return ChangedFile(Path(data_dir) / TEAM_SWITCHES_FILE, read_team_switches, {})


def read_team_switches(path: Path) -> dict[str, tuple[bool, str]]:
    try:
        body = json.loads(path.read_text())
        return {team: (bool(e["enabled"]), str(e["since"])) for team, e in body.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.error("team switch file %s is unreadable (%s): ignored", path, error)
        return {}
