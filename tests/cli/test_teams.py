"""`arena teams add`: the entry point checked, the organiser's registry kept as written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.config.registry import load_registry
from tests.conftest import FIXTURE_STRATEGIES, REPO

COMMENTED = REPO / "tests" / "fixtures" / "registries" / "commented.yaml"


@pytest.fixture
def competition(tmp_path: Path) -> tuple[Path, Path]:
    """A registry with comments beside its strategy, and an empty data directory."""
    shutil.copy(FIXTURE_STRATEGIES / "scripted.py", tmp_path / "scripted.py")
    registry = tmp_path / "team_registry.yaml"
    shutil.copy(COMMENTED, registry)
    return registry, tmp_path / "data"


def add(registry: Path, data: Path, team_id: str, *extra: str) -> int:
    return main(["teams", "add", team_id, "--name", team_id.title(), "--registry", str(registry),
                 "--data-dir", str(data), *extra])  # fmt: skip


def test_adding_a_team_keeps_every_comment_and_the_layout(competition):
    registry, data = competition
    before = registry.read_text()
    registry.chmod(0o640)
    strategy = registry.parent / "scripted.py"
    assert add(registry, data, "gamma", "--strategy", str(strategy),
               "--entry-point", "ScriptedStrategy") == 0  # fmt: skip
    after = registry.read_text()
    assert after.startswith(before)  # nothing of the organiser's file is changed
    assert after[len(before) :] == (
        "  - team_id: gamma\n"
        "    name: Gamma\n"
        "    strategy: scripted.py\n"  # relative to the registry, as the others are
        "    entry_point: ScriptedStrategy\n"
        "    initial_cash: 100000\n"
    )
    assert [t.team_id for t in load_registry(registry).teams] == ["alpha", "gamma"]
    assert registry.stat().st_mode & 0o777 == 0o640  # the file's own mode is kept


def test_a_missing_entry_point_is_refused_before_anything_is_kept(competition, capsys):
    registry, data = competition
    before = registry.read_text()
    strategy = registry.parent / "scripted.py"
    assert add(registry, data, "gamma", "--strategy", str(strategy)) == 1  # default: Strategy
    err = capsys.readouterr().err
    assert "no class Strategy in scripted.py (classes: ScriptedStrategy)" in err
    assert "--entry-point ScriptedStrategy" in err
    assert registry.read_text() == before
    assert not data.exists()  # no key was issued


def test_a_strategy_failing_the_static_checks_is_refused(competition, capsys):
    registry, data = competition
    bad = registry.parent / "bad.py"
    bad.write_text("import os\nclass Strategy:\n    def generate_signal(self, *a):\n        pass\n")
    assert add(registry, data, "gamma", "--strategy", str(bad)) == 1
    assert "bad.py:1: import of os refused" in capsys.readouterr().err


def test_a_bad_slug_names_the_users_file_and_field(competition, capsys):
    registry, data = competition
    before = registry.read_text()
    strategy = registry.parent / "scripted.py"
    assert add(registry, data, "Bad Id", "--strategy", str(strategy),
               "--entry-point", "ScriptedStrategy") == 1  # fmt: skip
    err = capsys.readouterr().err
    assert f"{registry}: teams.1.team_id: " in err
    assert "must be a slug" in err
    assert "candidate" not in err
    assert registry.read_text() == before
    left = sorted(p.name for p in registry.parent.iterdir())
    assert left == ["scripted.py", "team_registry.yaml"]
