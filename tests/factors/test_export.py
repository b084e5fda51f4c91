"""`arena data export-qlib`: the bar lake in Qlib's binary layout, read back the way a team
would (qlib.init + D.features, in a separate Python process), gaps as NaN in place, and
later days appended without rewriting what is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from app.factors.export import ExportError, export_qlib
from app.market.lake import BarLake
from app.market.replay import ReplayMarket

pytest.importorskip("qlib", reason="the qlib extra is not installed (make qlib)")

READ_BACK = """
import json, sys, warnings
warnings.simplefilter("ignore")
import qlib
from qlib.data import D
out, freq = sys.argv[1], sys.argv[2]
symbols, fields = json.loads(sys.argv[3]), json.loads(sys.argv[4])
qlib.init(provider_uri=out, region="us", kernels=1, logging_level="WARNING",
          expression_cache=None, dataset_cache=None)
frame = D.features(symbols, fields, freq=freq)
print(json.dumps({"index": [[s, str(t)] for s, t in frame.index],
                  "columns": list(frame.columns),
                  "values": [[None if v != v else float(v) for v in row]
                             for row in frame.to_numpy()]}))
"""


@pytest.fixture(scope="module")
def lake_dir(real_market: ReplayMarket, tmp_path_factory) -> Path:
    """A data directory whose bar lake holds the whole real data set."""
    folder = tmp_path_factory.mktemp("lake")
    lake = BarLake(folder)
    for minute in real_market.minutes():
        lake.add(real_market.bars(minute).values())
    lake.flush()
    return folder


def read_back(out: Path, freq: str, symbols: list[str], fields: list[str]) -> pd.DataFrame:
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(out), freq, json.dumps(symbols), json.dumps(fields)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout.strip().splitlines()[-1])
    index = pd.MultiIndex.from_tuples(
        [(s, pd.Timestamp(t)) for s, t in data["index"]], names=["instrument", "datetime"]
    )
    return pd.DataFrame(data["values"], index=index, columns=data["columns"], dtype=float)


def lake_frame(lake_dir: Path) -> pd.DataFrame:
    frame = BarLake(lake_dir).read()
    when = frame["timestamp"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    return frame.assign(when=when).set_index(["symbol", "when"])


def test_the_export_reads_back_through_qlib_with_gaps_in_place(lake_dir, tmp_path):
    out = tmp_path / "qlib"
    assert main(["data", "export-qlib", "--data-dir", str(lake_dir), "--out", str(out)]) == 0
    calendar = (out / "calendars" / "1min.txt").read_text().splitlines()
    assert calendar[0].endswith("09:30:00")
    assert len(calendar) == 8 * 390
    bars = lake_frame(lake_dir)
    counts = bars.groupby(level="symbol").size()
    gappy = counts.idxmin()  # the symbol with the most gaps
    assert counts[gappy] < len(calendar)
    got = read_back(out, "1min", [gappy, "SPY"], ["$close", "$volume", "Mean($close, 5)"])
    for symbol in (gappy, "SPY"):
        mine = got.loc[symbol]
        assert len(mine) == len(calendar)  # every calendar position, bar or not
        expected = bars.loc[symbol]["close"].reindex(pd.DatetimeIndex(calendar))
        np.testing.assert_allclose(mine["$close"].to_numpy(), expected.to_numpy(np.float32),
                                   rtol=1e-6, equal_nan=True)  # fmt: skip
        assert mine["$close"].isna().sum() == len(calendar) - counts[symbol]
        mean = expected.astype(np.float32).rolling(5, min_periods=1).mean()
        np.testing.assert_allclose(mine["Mean($close, 5)"].to_numpy(), mean.to_numpy(),
                                   rtol=1e-5, equal_nan=True)  # fmt: skip


def test_later_days_are_appended_and_the_result_equals_a_full_export(lake_dir, tmp_path):
    days = BarLake(lake_dir).days()
    grown, whole = tmp_path / "grown", tmp_path / "whole"
    first = export_qlib(lake_dir, grown, end=days[3])
    spy = grown / "features" / "spy" / "close.1min.bin"
    before = spy.read_bytes()
    spy.write_bytes(before + b"\x00" * 12)  # as if an earlier export died mid-append
    second = export_qlib(lake_dir, grown)
    assert (first.appended, second.appended) == (False, True)
    assert second.new_positions == 4 * 390
    assert spy.read_bytes()[: len(before)] == before  # history kept, not rewritten
    export_qlib(lake_dir, whole)
    for path in sorted(whole.rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (grown / path.relative_to(whole)).read_bytes(), path


def test_a_range_that_is_not_an_append_rewrites_and_day_bars_are_built_from_minutes(
    lake_dir, tmp_path
):
    out = tmp_path / "qlib"
    days = BarLake(lake_dir).days()
    export_qlib(lake_dir, out, start=days[2])
    report = export_qlib(lake_dir, out, start=days[0], end=days[1])  # earlier: a rewrite
    assert not report.appended
    assert report.positions == 2 * 390
    export_qlib(lake_dir, out, freq="day")
    got = read_back(out, "day", ["AAPL"], ["$open", "$high", "$low", "$close", "$volume"])
    bars = lake_frame(lake_dir).loc["AAPL"]
    daily = bars.groupby(bars.index.normalize()).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    assert len(got) == len(days)
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[f"${field}"].to_numpy(), daily[field].to_numpy(np.float32),
                                   rtol=1e-6)  # fmt: skip


def test_an_empty_lake_or_range_is_a_clear_error(lake_dir, tmp_path):
    with pytest.raises(ExportError, match="no bars"):
        export_qlib(tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ExportError, match="no bars"):
        export_qlib(lake_dir, tmp_path / "out", start=date(2030, 1, 1))
    with pytest.raises(ExportError, match="--freq"):
        export_qlib(lake_dir, tmp_path / "out", freq="5min")
