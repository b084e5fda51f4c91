"""Fixtures for the market tests: the real minute-bar data set and small CSV writers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app.market.replay import ReplayData, load_replay

DATASET = "us-minute-2026-03"
HEADER = "timestamp,open,high,low,close,volume"


def _find_real_data() -> Path | None:
    """The shared data set: `<workdir>/shared/data/...` next to the repository, else the
    path in ARENA_SHARED_DATA (the data set itself, or a folder holding it)."""
    here = Path(__file__).resolve()
    repo = next((p for p in here.parents if (p / "pyproject.toml").is_file()), here.parents[2])
    candidates = [repo.parent / "shared" / "data" / DATASET]
    if env := os.environ.get("ARENA_SHARED_DATA"):
        base = Path(env)
        candidates += [base, base / DATASET, base / "data" / DATASET]
    return next((c for c in candidates if (c / "SPY.csv").is_file()), None)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    found = _find_real_data()
    if found is None:
        pytest.skip(
            f"real data set {DATASET} not found next to the repository "
            "(../shared/data/) and ARENA_SHARED_DATA is not set to it"
        )
    return found


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
