"""Host settings, in one place: from the environment (`ARENA_*`) and an optional `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArenaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARENA_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    registry: Path = Path("team_registry.yaml")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    uploads_per_minute: int = 6  # strategy uploads per team key
    # The keys `arena emulator` accepts (not secrets: the emulator is a local test double).
    emulator_key: str = "emulator-key"
    emulator_secret: str = "emulator-secret"

    # Alpaca (ARENA_ALPACA_*). Keys are SecretStr: they never print, log or serialise.
    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    alpaca_paper: bool = True
    alpaca_live_confirmed: bool = False  # trading real money needs this set explicitly too
    alpaca_trading_url: str | None = None  # e.g. http://127.0.0.1:8765 for `arena emulator`
    alpaca_data_url: str | None = None
    alpaca_feed: Literal["iex", "sip"] = "iex"
    # Alpaca allows 200 requests a minute per account; a faster emulator replay needs more.
    alpaca_requests_per_minute: int = 200
    # DRY_RUN: live market data, the simulator fills; no order ever reaches the broker.
    dry_run: bool = False
