"""Fixtures for the ledger tests: a data directory, snapshots, and an fsync spy."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

DAY = date(2026, 3, 12)
OPEN = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _snapshot(minute: int, day: date = DAY, cash: str = "100000.0000") -> dict[str, Any]:
    """A portfolio snapshot the way the engine builds one."""
    moment = datetime.combine(day, OPEN.timetz()) + timedelta(minutes=minute)
    quantity = Decimal(minute % 7)
    return {
        "timestamp": moment,
        "cash": Decimal(cash) - minute,
        "market_value": quantity * Decimal("187.1234"),
        "equity": Decimal(cash) - minute + quantity * Decimal("187.1234"),
        "positions": {"AAPL": {"quantity": quantity, "avg_cost": Decimal("187.1234")}},
        "trades": minute,
        "drawdown": -0.25 * minute,
        "active": minute % 2 == 0,
    }


@pytest.fixture
def make_snapshot() -> Callable[..., dict[str, Any]]:
    """`make_snapshot(minute, day=2026-03-12, cash="100000.0000")`."""
    return _snapshot


class FsyncSpy:
    """Records what is fsynced; optionally skips the real (slow on some disks) call."""

    def __init__(self, real: Callable[[int], None], passthrough: bool) -> None:
        self.real = real
        self.passthrough = passthrough
        self.paths: list[Path] = []

    def __call__(self, fd: int) -> None:
        self.paths.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        if self.passthrough:
            self.real(fd)

    @property
    def files(self) -> list[Path]:
        """The regular files fsynced, in order (directory syncs for new entries left out)."""
        return [path for path in self.paths if not path.is_dir()]


@pytest.fixture
def fsync_spy(monkeypatch: pytest.MonkeyPatch) -> FsyncSpy:
    spy = FsyncSpy(os.fsync, passthrough=True)
    monkeypatch.setattr(os, "fsync", spy)
    return spy


@pytest.fixture
def fake_fsync(monkeypatch: pytest.MonkeyPatch) -> FsyncSpy:
    spy = FsyncSpy(os.fsync, passthrough=False)
    monkeypatch.setattr(os, "fsync", spy)
    return spy
