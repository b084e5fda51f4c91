"""Issue 15, item 2: uploading the code a team already has is validated again and staged
again, so a team disabled by faults trades again when the same file passes; a version the
store already holds is not refused as a duplicate."""

from __future__ import annotations

import time

import pytest
import yaml

from app.config.registry import load_registry
from app.market.lake import BarLake
from app.runtime.competition import build_competition
from app.uploads.pipeline import UploadPipeline
from app.uploads.store import StrategyStore
from sandbox.host.supervisor import SandboxSettings
from tests.conftest import FIXTURE_STRATEGIES, ScriptedMarket, bar, minute

PAIRS = FIXTURE_STRATEGIES / "pairs.py"


@pytest.fixture
def disabled(tmp_path):
    """A competition whose team was registered with a wrong entry point: disabled."""
    team = {"team_id": "pairsquad", "name": "Pairs", "strategy": str(PAIRS),
            "entry_point": "Strategy", "initial_cash": 100_000}  # fmt: skip
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": [team]}))
    minutes = [minute(14, m) for m in range(20)]
    market = ScriptedMarket({m: {"AAA": bar("AAA", m, 10.0)} for m in minutes})
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    for m in minutes[:6]:
        competition.engine.tick(m)
    assert not competition.engine.books["pairsquad"].enabled
    pipeline = UploadPipeline(
        StrategyStore(tmp_path / "data"), BarLake(tmp_path / "data"), SandboxSettings(2.0)
    )
    competition.inbox.start()
    yield competition, pipeline, minutes[6:]
    pipeline.close()
    competition.close()


def staged(competition) -> list[str]:
    """What the inbox stages once its watcher has seen the upload."""
    for _ in range(100):
        teams = competition.inbox.drain(competition.engine)
        if teams:
            return teams
        time.sleep(0.05)
    return []


def test_the_registrys_own_file_uploaded_again_revives_a_disabled_team(disabled):
    competition, pipeline, minutes = disabled
    book = competition.engine.books["pairsquad"]
    outcome = pipeline.accept("pairsquad", "pairs.py", PAIRS.read_bytes(), None, {})
    assert outcome.accepted, outcome.problems
    assert outcome.version == book.version  # the registry's content hash: the same code
    assert staged(competition) == ["pairsquad"]
    competition.engine.tick(minutes[0])
    assert book.enabled
    assert book.consecutive_faults == 0


def test_a_version_the_store_holds_is_validated_and_staged_again(disabled):
    competition, pipeline, minutes = disabled
    book = competition.engine.books["pairsquad"]
    first = pipeline.accept("pairsquad", "pairs.py", PAIRS.read_bytes(), None, {})
    assert staged(competition) == ["pairsquad"]
    competition.engine.tick(minutes[0])
    assert book.enabled
    # Disabled again (the organiser's switch, faults...): the same file revives it.
    book.enabled = False
    wrong = pipeline.accept("pairsquad", "pairs.py", PAIRS.read_bytes(), "Nope", {})
    assert not wrong.accepted  # checked again: a wrong entry point is refused as before
    assert any("Nope" in p for p in wrong.problems), wrong.problems
    again = pipeline.accept("pairsquad", "pairs.py", PAIRS.read_bytes(), None, {})
    assert again.accepted, again.problems
    assert (again.version, again.report["smoke"]["output"]["action"]) == (first.version, "buy")
    assert len(pipeline.store.versions("pairsquad")) == 2  # each upload is in the log
    assert staged(competition) == ["pairsquad"]
    competition.engine.tick(minutes[1])
    assert book.enabled
