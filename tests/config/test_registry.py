"""The team registry: the shipped one loads; every kind of mistake is named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.config.registry import RegistryError, load_registry
from tests.conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "s.py").write_text("class S:\n    def generate_signal(self, *a):\n        pass\n")
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    return path


def test_the_shipped_registry_registers_the_demo_teams():
    registry = load_registry(REPO / "team_registry.yaml")
    assert [t.team_id for t in registry.enabled_teams] == ["momentum", "reversion", "benchmark"]
    assert all(t.strategy.is_file() for t in registry.teams)
    assert registry.team("benchmark").initial_cash == Decimal(50000)
    assert registry.competition.rules.allow_short is False


def test_strategy_paths_are_resolved_against_the_registry_file(tmp_path):
    path = write(
        tmp_path,
        "teams:\n  - {team_id: a, name: A, strategy: s.py, entry_point: S, initial_cash: 1000}\n",
    )
    assert load_registry(path).team("a").strategy == (tmp_path / "s.py").resolve()


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        (
            "[{team_id: a, name: A, strategy: s.py, entry_point: S, initial_cash: 1},"
            " {team_id: a, name: B, strategy: s.py, entry_point: S, initial_cash: 1}]",
            "teams[1].team_id: duplicate id 'a'",
        ),
        (
            "[{team_id: A_B, name: A, strategy: s.py, entry_point: S, initial_cash: 1}]",
            "teams.0.team_id: must be a slug",
        ),
        (
            "[{team_id: a-very-long-team-id-indeed, name: A, strategy: s.py, entry_point: S,"
            " initial_cash: 1}]",
            "must be a slug",
        ),
        (
            "[{team_id: a, name: A, strategy: missing.py, entry_point: S, initial_cash: 1}]",
            "teams[0].strategy: no such file",
        ),
        (
            "[{team_id: a, name: A, strategy: s.py, entry_point: S, initial_cash: 1, cash: 2}]",
            "teams.0.cash: unknown key",
        ),
        (
            "[{team_id: a, name: A, strategy: s.py, entry_point: 'not valid', initial_cash: 1}]",
            "teams.0.entry_point",
        ),
        (
            "[{team_id: a, name: A, strategy: s.py, entry_point: S, initial_cash: 0}]",
            "teams.0.initial_cash",
        ),
        (
            "[{team_id: a, name: A, strategy: s.py, entry_point: S}]",
            "teams.0.initial_cash: Field required",
        ),
    ],
)
def test_each_mistake_is_named_with_its_place(tmp_path, teams, message):
    path = write(tmp_path, f"teams: {teams}\n")
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_unknown_competition_settings_and_non_mappings_are_refused(tmp_path):
    path = write(tmp_path, "competition: {rules: {allow_shorts: true}}\nteams: []\n")
    with pytest.raises(RegistryError, match=r"competition\.rules\.allow_shorts: unknown key"):
        load_registry(path)
    with pytest.raises(RegistryError, match="expected a mapping"):
        load_registry(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(write(tmp_path, "teams: [unclosed\n"))


@pytest.mark.parametrize(
    ("team_id", "message"),
    [
        ("net", "'net' is reserved for the host"),
        ("account", "'account' is reserved for the host"),
        ("alpha\n", "must be a slug"),
    ],
)
def test_reserved_ids_and_trailing_newlines_are_refused(tmp_path, team_id, message):
    document = {
        "teams": [
            {
                "team_id": team_id,
                "name": "A",
                "strategy": "s.py",
                "entry_point": "S",
                "initial_cash": 1,
            }
        ]
    }
    path = write(tmp_path, yaml.safe_dump(document))
    with pytest.raises(RegistryError, match=message):
        load_registry(path)
