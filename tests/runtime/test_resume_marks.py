"""A restart knows a price for every holding before its first bar: the marks of the earlier
run's last snapshots (a split's cash in lieu needs one even when the history could not be
fetched, decision 0030)."""

from __future__ import annotations

from decimal import Decimal

from app.config.registry import load_registry
from app.ledger.paths import ACCOUNT, owner_dir
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from app.runtime.resume import last_marks
from tests.conftest import DAY


def test_the_last_snapshots_marks_price_each_holding_and_fill_only_the_gaps(
    write_registry, real_bars, tmp_path
) -> None:
    script = {"script": {"0": {"symbol": "AAPL", "action": "buy", "quantity": 2}}}
    registry = load_registry(
        write_registry({"alpha": ("scripted.py", "ScriptedStrategy", script, 100_000)})
    )
    market = ReplayMarket.load(real_bars, {"AAPL", "SPY"}, DAY, DAY)
    data = tmp_path / "data"
    competition = build_competition(registry, market, data, durability="close")
    assert competition.run(market.minutes()) == []
    close = competition.engine.prices["AAPL"]
    marks = last_marks([owner_dir(data, "alpha"), owner_dir(data, ACCOUNT)])
    assert marks == {"AAPL": close}
    later = build_competition(registry, market, tmp_path / "other", durability="close")
    try:
        later.engine.prices["SPY"] = Decimal(1)
        later.engine.remember_prices({"AAPL": close, "SPY": Decimal(2)})
        assert later.engine.prices == {"AAPL": close, "SPY": Decimal(1)}  # a bar's price wins
    finally:
        later.close()
