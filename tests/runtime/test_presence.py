"""An open competition marks its data directory as having a running engine; closing clears it."""

from __future__ import annotations

import os

from app.config.registry import load_registry
from app.market.synthetic import SyntheticMarket
from app.runtime.competition import Competition, CompetitionPlan
from app.runtime.presence import (
    ENGINE_FILE,
    mark_engine_running,
    require_competition,
    running_engine,
)


def test_an_open_competition_is_a_running_engine_until_closed(write_registry, tmp_path):
    registry = load_registry(
        write_registry({"alpha": ("scripted.py", "ScriptedStrategy", {}, 1000)})
    )
    data = tmp_path / "data"
    competition = Competition.open(CompetitionPlan(registry, SyntheticMarket(symbols=2), data))
    try:
        assert running_engine(data)["pid"] == os.getpid()
        require_competition(data)  # before its first ledger line
    finally:
        competition.close()
    assert running_engine(data) is None
    assert not (data / ENGINE_FILE).exists()


def test_a_folder_refusing_the_mark_still_runs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "control").write_text("a file where the folder would be")
    mark_engine_running(data)  # logged, not raised: the engine starts anyway
    assert running_engine(data) is None
