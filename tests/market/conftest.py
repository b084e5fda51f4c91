"""Fixtures for the market tests: the real minute-bar data set and small CSV writers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.market.replay import ReplayData, load_replay

DATASET = "us-minute-2026-03"
HEADER = "timestamp,open,high,low,close,volume"


@pytest.fixture(scope="session")
def real_data_dir(real_bars: Path) -> Path:
    """The shared real data set (tests/conftest.py finds it or skips)."""
    return real_bars


@pytest.fixture(scope="session")
def real_data(real_data_dir: Path) -> ReplayData:
    """The whole real data set, loaded once for the session."""
    return load_replay(real_data_dir)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write `rows` (lines without newline) under `header` to `tmp_path/name`."""

    def write(name: str, rows: list[str], header: str = HEADER) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path

    return write
