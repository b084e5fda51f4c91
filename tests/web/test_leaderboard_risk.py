"""The public leaderboard's Qlib-consistent risk block equals qlib's risk_analysis over each
team's per-minute returns from its ledger (N = US minutes a year, passed explicitly)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.domain.metrics import MINUTES_PER_YEAR, simple_returns
from app.ledger.fold import read_portfolio
from app.ledger.paths import owner_dir

evaluate = pytest.importorskip("qlib.contrib.evaluate", reason="make qlib installs it")


def test_the_leaderboards_risk_figures_are_qlibs(client: TestClient, arena_dir: tuple[Path, Path]):
    _registry, data = arena_dir
    rows = client.get("/api/v1/leaderboard").json()["teams"]
    for row in rows:
        equity = [
            100_000.0,
            *(float(e) for e in read_portfolio(owner_dir(data, row["team_id"]))["equity"]),
        ]
        returns = pd.Series(simple_returns(equity))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qlib = evaluate.risk_analysis(returns, N=MINUTES_PER_YEAR)["risk"]
        risk = row["risk"]
        assert set(risk) == {"annualized_return", "information_ratio", "max_drawdown"}
        for figure, value in risk.items():
            assert value == pytest.approx(qlib[figure], rel=1e-8, abs=1e-12), (
                row["team_id"],
                figure,
            )
    assert any(row["risk"]["max_drawdown"] < 0 for row in rows)  # a figure that says something
