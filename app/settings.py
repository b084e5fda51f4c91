"""Host settings, in one place: from the environment (`ARENA_*`) and an optional `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ArenaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARENA_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    registry: Path = Path("team_registry.yaml")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    # The keys `arena emulator` accepts (not secrets: the emulator is a local test double).
    emulator_key: str = "emulator-key"
    emulator_secret: str = "emulator-secret"
