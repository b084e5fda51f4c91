"""The team registry (`team_registry.yaml`): the competition's rules and its teams."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.domain.order_ids import RESERVED_TEAM_IDS, TEAM_ID_PATTERN
from app.domain.validation import TradingRules


class RegistryError(ValueError):
    """The registry cannot be used; the message lists every problem, one per line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RulesConfig(_Strict):
    allow_short: bool = False
    allow_fractional: bool = False
    max_signals_per_minute: Annotated[int, Field(ge=1, le=1000)] = 20

    def trading_rules(self) -> TradingRules:
        return TradingRules(
            allow_short=self.allow_short,
            allow_fractional=self.allow_fractional,
            max_signals_per_minute=self.max_signals_per_minute,
        )


class BrokerConfig(_Strict):
    """The simulated broker's fill model."""

    slippage_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(0)
    fee_per_share: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    fee_bps: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(0)
    max_participation: Annotated[Decimal | None, Field(gt=0, le=1)] = None


class SandboxConfig(_Strict):
    """How strategies run: the per-call budget, memory, faults tolerated, imports refused."""

    budget_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    memory_mb: Annotated[int, Field(ge=256, le=16384)] = 1024
    max_consecutive_faults: Annotated[int, Field(ge=1, le=1000)] = 5
    blocked_imports: list[str] = []


class UploadsConfig(_Strict):
    """What each team may keep in uploaded versions (decision 0021); `closed`: the organiser
    closed uploads, each is refused (409) and nothing is stored (decision 0032)."""

    quota_mb: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    max_versions: Annotated[int, Field(ge=1, le=100_000)] = 1000
    closed: bool = False


class CompetitionConfig(_Strict):
    name: str = "Strategy Arena"
    rules: RulesConfig = RulesConfig()
    broker: BrokerConfig = BrokerConfig()
    sandbox: SandboxConfig = SandboxConfig()
    uploads: UploadsConfig = UploadsConfig()
    window_minutes: Annotated[int, Field(ge=1, le=5000)] = 390


class TeamConfig(_Strict):
    team_id: str
    name: Annotated[str, Field(min_length=1, max_length=80)]
    strategy: Path
    entry_point: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    initial_cash: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    params: dict[str, Any] = {}
    enabled: bool = True

    @field_validator("team_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if value in RESERVED_TEAM_IDS:
            raise ValueError(f"{value!r} is reserved for the host; choose another id")
        if not TEAM_ID_PATTERN.fullmatch(value):
            raise ValueError(
                "must be a slug: 1-16 characters of a-z, 0-9 and '-', "
                "starting with a letter or digit"
            )
        return value


class _RegistryFile(_Strict):
    competition: CompetitionConfig = CompetitionConfig()
    teams: list[TeamConfig]


@dataclass(frozen=True, slots=True)
class Registry:
    path: Path
    competition: CompetitionConfig
    teams: tuple[TeamConfig, ...]

    @property
    def enabled_teams(self) -> list[TeamConfig]:
        return [t for t in self.teams if t.enabled]

    def team(self, team_id: str) -> TeamConfig:
        for team in self.teams:
            if team.team_id == team_id:
                return team
        raise RegistryError(f"no team {team_id!r} in {self.path}")


def load_registry(path: Path) -> Registry:
    """Read and check a registry; strategy paths are resolved against its directory."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RegistryError(f"{path}: no such registry file") from error
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from error
    return validate_registry(path, raw)


def validate_registry(path: Path, raw: Any) -> Registry:
    """Check a registry's parsed document as if read from `path` (errors name that file);
    strategy paths are resolved against its directory."""
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: expected a mapping with a 'teams' list")
    try:
        parsed = _RegistryFile.model_validate(raw)
    except ValidationError as error:
        raise RegistryError(_describe(path, error)) from error
    teams = tuple(
        team.model_copy(update={"strategy": (path.parent / team.strategy).resolve()})
        for team in parsed.teams
    )
    problems = _cross_checks(teams)
    if problems:
        raise RegistryError("\n".join(f"{path}: {p}" for p in problems))
    return Registry(path=path, competition=parsed.competition, teams=teams)


def _cross_checks(teams: tuple[TeamConfig, ...]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for index, team in enumerate(teams):
        if team.team_id in seen:
            problems.append(f"teams[{index}].team_id: duplicate id {team.team_id!r}")
        seen.add(team.team_id)
        if not team.strategy.is_file():
            problems.append(f"teams[{index}].strategy: no such file {team.strategy}")
    return problems


def _describe(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        message = message.removeprefix("Value error, ")
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)
