"""One statement of precision (decision 0024): prices at 6 decimals, quantities at 9, so
every amount the books make fits the ledgers, JSONL and Parquet alike, exactly."""

from __future__ import annotations

import csv
from decimal import Decimal

from app.config.registry import load_registry
from app.ledger.fold import read_portfolio
from app.ledger.jsonl import read_jsonl
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from tests.conftest import DAY


def noisy_copy(real_bars, folder) -> None:
    """SPY's first session with prices as a float-writing source gives them
    (`671.1600000000001`, `275.07501220703125`): more digits than were published."""
    folder.mkdir()
    with (real_bars / "SPY.csv").open() as source, (folder / "SPY.csv").open("w") as out:
        rows = csv.DictReader(source)
        writer = csv.DictWriter(out, rows.fieldnames or [])
        writer.writeheader()
        for row in rows:
            if not row["timestamp"].startswith(str(DAY)):
                continue
            for field in ("open", "high", "low", "close"):
                row[field] = repr(float(row[field]) * (1 + 1e-12) + 1.2e-11)
            writer.writerow(row)


def test_a_session_of_float_noisy_prices_with_fractions_and_limits_folds_exactly(
    write_registry, real_bars, tmp_path
) -> None:
    noisy_copy(real_bars, tmp_path / "bars")
    limit = {"symbol": "SPY", "action": "buy", "quantity": 0.123456789, "order_type": "limit",
             "limit_price": 700.123456}  # fmt: skip
    script = {"0": {"symbol": "SPY", "action": "buy", "quantity": 1.5}, "3": limit,
              "9": {"symbol": "SPY", "action": "sell", "quantity": 0.75}}  # fmt: skip
    teams = {"frac": ("scripted.py", "ScriptedStrategy", {"script": script}, 100_000)}
    rules = {"rules": {"allow_fractional": True},
             "broker": {"slippage_bps": "3.3", "fee_bps": "1.7"}}  # fmt: skip
    registry = load_registry(write_registry(teams, rules))
    market = ReplayMarket.load(tmp_path / "bars")
    data = tmp_path / "data"
    competition = build_competition(registry, market, data, durability="close")
    assert competition.run(market.minutes()) == []  # the day's fold did not fail
    trades = list(read_jsonl(data / "team" / "frac" / "trades.jsonl"))
    assert len(trades) == 3
    assert all(len(t["price"].partition(".")[2]) <= 6 for t in trades)
    folded = read_portfolio(data / "team" / "frac")
    snapshots = list(read_jsonl(data / "team" / "frac" / "portfolio" / f"{DAY}.jsonl"))
    assert len(folded) == len(snapshots)
    for column in ("cash", "equity", "market_value", "fees"):
        assert [Decimal(str(v)) for v in folded[column]] == [Decimal(s[column]) for s in snapshots]
