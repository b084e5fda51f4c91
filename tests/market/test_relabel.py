"""`arena run --market replay:PATH`: the source's k-th minute plays at the k-th wall tick."""

from __future__ import annotations

from datetime import UTC, datetime

from app.market.relabel import RelabeledMarket
from app.market.synthetic import SyntheticMarket


def test_each_wall_minute_gets_the_next_source_minute_under_its_own_timestamp() -> None:
    source = SyntheticMarket(symbols=3, seed=11)
    source_minutes = source.minutes(sessions=1)[:3]
    expected = [SyntheticMarket(symbols=3, seed=11).bars(m) for m in source_minutes]
    market = RelabeledMarket(source, source_minutes)
    wall = [datetime(2026, 11, 21, 22, m, tzinfo=UTC) for m in range(4)]

    played = [market.bars(m) for m in wall]

    for minute, bars, original in zip(wall[:3], played[:3], expected, strict=True):
        assert set(bars) == set(original)
        assert all(bar.timestamp == minute for bar in bars.values())
        assert [b.close for b in bars.values()] == [b.close for b in original.values()]
    assert played[3] == {}  # the source is spent: no invented bars
    assert market.universe == source.universe
