"""`arena teams add`, `arena teams rotate-key` and `arena serve`."""

from __future__ import annotations

import re

import requests
import yaml

from app.cli import main
from app.cli.web import serve_beside
from app.web.keys import KeyStore
from tests.conftest import FIXTURE_STRATEGIES
from tests.runtime.live_processes import free_port, wait_until_answering


def test_a_team_added_gets_a_registry_entry_and_a_key_shown_once(tmp_path, capsys):
    registry, data = tmp_path / "registry.yaml", tmp_path / "data"
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": []}))
    strategy = str(FIXTURE_STRATEGIES / "scripted.py")
    args = ["teams", "add", "gamma", "--name", "Gamma", "--strategy", strategy,
            "--entry-point", "ScriptedStrategy", "--registry", str(registry),
            "--data-dir", str(data)]  # fmt: skip
    assert main(args) == 0
    key = re.search(r"gamma\s+(arena_team_\S+)", capsys.readouterr().out).group(1)
    assert KeyStore(data).who(key) == "gamma"
    assert yaml.safe_load(registry.read_text())["teams"][0]["team_id"] == "gamma"
    assert main(args) == 1  # a second add of the same team is refused
    assert "already registered" in capsys.readouterr().err
    rotate = ["teams", "rotate-key", "gamma", "--registry", str(registry), "--data-dir", str(data)]
    assert main(rotate) == 0
    new = re.search(r"gamma\s+(arena_team_\S+)", capsys.readouterr().out).group(1)
    assert KeyStore(data).who(key) is None
    assert KeyStore(data).who(new) == "gamma"


def test_arena_serve_answers_over_a_data_directory(arena_dir):
    registry, data = arena_dir
    port = free_port()
    server = serve_beside(data, registry, port)
    try:
        answer = wait_until_answering(f"http://127.0.0.1:{port}/api/v1/leaderboard")
        assert answer.status_code == 200
        assert {row["team_id"] for row in answer.json()["teams"]} == {"alpha", "beta"}
        docs = requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/api/v1/team/{team_id}/trades" in docs["paths"]
    finally:
        server.terminate()
        server.wait(timeout=10)
