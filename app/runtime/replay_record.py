"""What a replay leaves beside its ledgers so that a later part can continue it exactly:
`account/replay.json` (decision 0027).

It holds what must not change between the parts (a fingerprint of the competition's
settings and of each team: name, cash, entry point, params, strategy code; the hours; the
symbols asked for; a fingerprint of the `--actions` file's content) and where the run
stands (its universe, its last minute, whether it finished). It holds nothing of a part
itself, so two parts leave the same file as one run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from app.config.registry import Registry
from app.domain.timefmt import parse_rfc3339, to_rfc3339
from app.ledger.paths import ACCOUNT, owner_dir
from app.ledger.small_files import write_json_atomic
from app.strategies.sources import read_strategy_files, version_of

RECORD_FILE = "replay.json"


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    competition: str  # fingerprint of the settings that change results
    teams: dict[str, str]  # team id -> fingerprint
    hours: str  # "regular" or "extended"
    symbols: list[str] | None  # the --symbols asked for; None: every symbol of the input
    actions: str | None  # fingerprint of the --actions file's content; None: no such file
    universe: list[str]
    last_minute: datetime | None = None  # the last minute replayed (a bar's start)
    finished: bool = False  # the run ended normally: its books and folds are complete

    @classmethod
    def begin(
        cls,
        registry: Registry,
        hours: str,
        symbols: set[str] | None,
        universe: list[str],
        actions: str | None = None,
    ) -> ReplayRecord:
        """`actions`: the --actions file's fingerprint (`actions_print`)."""
        settings = registry.competition.model_dump(mode="json", exclude={"name", "uploads"})
        teams = {team.team_id: _team_print(team) for team in registry.enabled_teams}
        wanted = None if symbols is None else sorted(symbols)
        return cls(_digest(settings), teams, hours, wanted, actions, sorted(universe))

    def finished_at(self, last_minute: datetime | None) -> ReplayRecord:
        return replace(self, last_minute=last_minute, finished=True)

    def continued(self, universe: list[str]) -> ReplayRecord:
        """The record a continuation starts with: the earlier symbols and the new ones."""
        return replace(self, universe=sorted({*self.universe, *universe}), finished=False)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["last_minute"] = None if self.last_minute is None else to_rfc3339(self.last_minute)
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ReplayRecord:
        if "actions" not in body:
            raise ValueError("it does not say which --actions file the run booked")
        last = body.get("last_minute")
        return cls(**{**body, "last_minute": None if last is None else parse_rfc3339(last)})


def record_path(data_dir: Path) -> Path:
    return owner_dir(Path(data_dir), ACCOUNT) / RECORD_FILE


def read_record(data_dir: Path) -> ReplayRecord | None:
    path = record_path(data_dir)
    if not path.is_file():
        return None
    try:
        return ReplayRecord.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path}: not a replay record this version reads ({error})") from None


def write_record(data_dir: Path, record: ReplayRecord) -> None:
    write_json_atomic(record_path(data_dir), record.to_json())


def actions_print(path: Path | None) -> str | None:
    """A fingerprint of an --actions file's content; None without a file."""
    if path is None:
        return None
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"--actions {path}: cannot read: {error.strerror or error}") from None
    return hashlib.sha256(content).hexdigest()[:16]


def _team_print(team: Any) -> str:
    code = read_strategy_files(team.strategy)
    return _digest(
        {
            "name": team.name,
            "initial_cash": str(team.initial_cash),
            "entry_point": team.entry_point,
            "params": team.params,
            "code": version_of(code),
        }
    )


def _digest(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
