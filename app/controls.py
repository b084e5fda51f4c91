"""The kill switch's file in the data directory: thrown by `arena kill-switch` (or the web
admin), read by the running engine at every tick."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from app.domain.timefmt import parse_rfc3339, to_rfc3339
from app.engine.controls import KillMode, KillSwitch

log = logging.getLogger(__name__)
KILL_SWITCH_FILE = Path("control") / "kill-switch.json"


def kill_switch_path(data_dir: Path) -> Path:
    return Path(data_dir) / KILL_SWITCH_FILE


def throw_kill_switch(data_dir: Path, mode: KillMode, by: str) -> KillSwitch:
    """Set the mode (atomically: the engine never reads half a file)."""
    switch = KillSwitch(KillMode(mode), datetime.now(UTC))
    path = kill_switch_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"mode": switch.mode.value, "since": to_rfc3339(switch.since), "by": by}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(body) + "\n")
    os.replace(temporary, path)
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


class KillSwitchFile:
    """The engine's view of the file: read at most once per tick, cheap when unchanged."""

    def __init__(self, data_dir: Path) -> None:
        self.path = kill_switch_path(data_dir)
        self._seen: tuple[float, KillSwitch | None] | None = None

    def __call__(self) -> KillSwitch | None:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            self._seen = None
            return None
        if self._seen is not None and self._seen[0] == stamp:
            return self._seen[1]
        switch = read_kill_switch(self.path)
        self._seen = (stamp, switch)
        return switch


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
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.loads(path.read_text()) if path.is_file() else {}
    body[team_id] = {"enabled": enabled, "since": to_rfc3339(datetime.now(UTC)), "by": by}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(temporary, path)
    log.warning("team %s %s by %s", team_id, "enabled" if enabled else "disabled", by)


class TeamSwitchFile:
    """The engine's view: {team_id: (enabled, since)}, each decision applied once."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / TEAM_SWITCHES_FILE
        self._seen: tuple[int, dict[str, tuple[bool, str]]] | None = None

    def __call__(self) -> dict[str, tuple[bool, str]]:
        """Read at every tick: a `stat` while the file is unchanged."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._seen is not None and self._seen[0] == stamp:
            return self._seen[1]
        try:
            body = json.loads(self.path.read_text())
            switches = {team: (bool(e["enabled"]), str(e["since"])) for team, e in body.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.error("team switch file %s is unreadable (%s): ignored", self.path, error)
            switches = {}
        self._seen = (stamp, switches)
        return switches
