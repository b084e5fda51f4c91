"""`arena strategy test|check` take what the upload takes: a .py, a directory, a .zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import REPO

PACKAGE = REPO / "tests" / "fixtures" / "strategy_package"


def arena(*args: str | Path) -> int:
    return main([str(a) for a in args])


def zipped(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    """The folder zipped as a team would: its files under the folder's name."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
        for name, content in (extra or {}).items():
            archive.writestr(f"{folder.name}/{name}", content)
    return target


def report_of(path: Path, bars: Path, capsys: pytest.CaptureFixture) -> list[dict]:
    assert arena("strategy", "test", path, "--bars", bars, "--minutes", "3", "--json") == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_directory_and_its_zip_are_tested_as_the_upload_takes_them(real_bars, tmp_path, capsys):
    for path in (PACKAGE, zipped(PACKAGE, tmp_path / "package.zip")):
        lines = report_of(path, real_bars, capsys)
        assert len(lines) == 3
        first = lines[0]
        assert first["error"] is None, first
        assert first["signals"][0]["reason"] == "package"
        assert first["printed"].startswith("call 1: buying ")
        assert any(line["fills"] for line in lines)


def test_a_zip_the_upload_refuses_is_refused_with_the_uploads_reasons(real_bars, tmp_path, capsys):
    bad = zipped(PACKAGE, tmp_path / "bad.zip", {"tool.exe": b"MZ\x00"})
    assert arena("strategy", "test", bad, "--bars", real_bars, "--minutes", "3") == 1
    err = capsys.readouterr().err
    assert "tool.exe: file type not allowed" in err
    assert "UTF-8" not in err


def test_check_takes_a_zip_too(tmp_path, capsys):
    assert arena("strategy", "check", zipped(PACKAGE, tmp_path / "package.zip")) == 0
    assert "(strategy.py: PackageStrategy) passes the static checks" in capsys.readouterr().out
