"""Replay loading: the real data set, every kind of bad row, both layouts, both formats."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.domain.timefmt import parse_rfc3339
from app.market.calendar import SessionCalendar
from app.market.replay import BarProblem, ReplayData, ReplayDataError, ReplayMarket, load_replay

README_SYMBOLS = [
    "SPY", "QQQ", "IWM", "SMH", "ARKK", "KWEB", "SOXS", "UVXY", "AAPL", "MSFT", "NVDA", "TSLA",
    "AMZN", "META", "GOOG", "AVGO", "AMD", "ADBE", "ARM", "ASML", "BABA", "BILI", "COIN", "DAL",
    "DIS", "IBKR", "INTC", "MU", "NFLX", "NVO", "ORCL", "OXY", "PDD", "PLTR", "QCOM", "RIVN",
    "RKLB", "SMCI", "TSM", "XPEV",
]  # fmt: skip
README_SESSIONS = [date(2026, 3, d) for d in (12, 13, 20, 23, 24, 25, 26, 27)]
GOOD = "2026-03-12T13:30:00Z,10,11,9,10.5,100"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def raw_timestamps(folder: Path) -> dict[str, list[datetime]]:
    """Each file's timestamps, read without the loader (csv module + timefmt)."""
    stamps = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as handle:
            stamps[path.stem] = [parse_rfc3339(row["timestamp"]) for row in csv.DictReader(handle)]
    return stamps


# --- the real data set ----------------------------------------------------------------


def test_real_data_loads_cleanly(real_data: ReplayData) -> None:
    assert real_data.universe == sorted(README_SYMBOLS)
    assert real_data.problems == []


def test_real_minutes_are_the_union_of_all_bar_minutes(
    real_data: ReplayData, real_data_dir: Path
) -> None:
    stamps = raw_timestamps(real_data_dir)
    union = sorted({t for values in stamps.values() for t in values})
    assert real_data.minutes == union
    assert real_data.bar_counts() == {s: len(v) for s, v in stamps.items()}


def test_real_minutes_are_session_minutes_of_the_eight_sessions(real_data: ReplayData) -> None:
    calendar = SessionCalendar()
    assert all(calendar.is_session_minute(m) for m in real_data.minutes)
    assert sorted({calendar.session_of(m) for m in real_data.minutes}) == README_SESSIONS


def test_real_2026_03_27_gaps_differ_by_symbol_and_stay_gaps(real_data: ReplayData) -> None:
    # The data set's README says 11:10-11:11 ET are missing for every symbol (3,118
    # minutes); the files miss 11:10-11:11 for 14 symbols and 11:25-11:26 for the other
    # 26, so every minute has some bar and the union is 8 x 390 = 3,120 minutes.
    assert len(real_data.minutes) == 3120
    early = {utc(2026, 3, 27, 15, 10), utc(2026, 3, 27, 15, 11)}
    late = {utc(2026, 3, 27, 15, 25), utc(2026, 3, 27, 15, 26)}
    missing_early = {s for s in real_data.universe if s not in real_data.bars_at(min(early))}
    missing_late = {s for s in real_data.universe if s not in real_data.bars_at(min(late))}
    assert len(missing_early) == 14
    assert "SPY" in missing_early
    assert missing_late | missing_early == set(real_data.universe)
    assert (missing_late & missing_early) <= {"BILI"}  # BILI is thin: it misses both


def test_real_2026_03_27_has_388_bars_per_full_symbol(real_data_dir: Path) -> None:
    day = load_replay(real_data_dir, start=date(2026, 3, 27), end=date(2026, 3, 27))
    counts = day.bar_counts()
    assert counts["SPY"] == counts["AAPL"] == 388
    assert max(counts.values()) == 388


def test_real_gaps_stay_gaps(real_data: ReplayData) -> None:
    counts = real_data.bar_counts()
    assert counts["BILI"] < len(real_data.minutes)
    missing = [m for m in real_data.minutes if "BILI" not in real_data.bars_at(m)]
    assert len(missing) == len(real_data.minutes) - counts["BILI"]
    assert all(bar.timestamp == missing[0] for bar in real_data.bars_at(missing[0]).values())


def test_real_bars_match_the_file(real_data: ReplayData, real_data_dir: Path) -> None:
    with (real_data_dir / "AAPL.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in (rows[0], rows[len(rows) // 2], rows[-1]):
        bar = real_data.bars_at(parse_rfc3339(row["timestamp"]))["AAPL"]
        fields = ("open", "high", "low", "close", "volume")
        assert [getattr(bar, f) for f in fields] == [float(row[f]) for f in fields]
        assert bar.trade_count is None
        assert bar.vwap is None


def test_real_subset_by_symbols_and_dates(real_data_dir: Path) -> None:
    data = load_replay(real_data_dir, {"SPY", "BILI"}, date(2026, 3, 13), date(2026, 3, 13))
    assert data.universe == ["BILI", "SPY"]
    assert data.minutes == SessionCalendar().session_minutes(date(2026, 3, 13))
    assert data.bar_counts()["SPY"] == 390


def test_unknown_symbol_is_an_error(real_data_dir: Path) -> None:
    with pytest.raises(ReplayDataError, match="NOPE"):
        load_replay(real_data_dir, {"SPY", "NOPE"})


def test_replay_market_port(real_data: ReplayData) -> None:
    market = ReplayMarket(real_data)
    minutes = market.minutes()
    minutes.clear()  # a copy: the market's own list is untouched
    assert market.minutes() == real_data.minutes
    assert market.universe == real_data.universe
    minute = real_data.minutes[100]
    assert market.bars(minute) == real_data.bars_at(minute)
    assert market.bars(utc(2026, 3, 14, 15, 0)) == {}


# --- bad rows -------------------------------------------------------------------------

BAD_ROWS = [
    ("2026-03-12T13:31:00Z,abc,11,9,10,100", "unparsable open"),
    ("2026-03-12T13:31:00Z,10,11,9,,100", "unparsable close"),
    ("not-a-time,10,11,9,10,100", "unparsable timestamp"),
    ("2026-03-12T13:31:00Z,10,9,11,10,100", "high 9.0 < low 11.0"),
    ("2026-03-12T13:31:00Z,12,11,9,10,100", "open 12.0 outside"),
    ("2026-03-12T13:31:00Z,10,11,9,8.5,100", "close 8.5 outside"),
    ("2026-03-12T13:31:00Z,10,11,9,10,-1", "negative volume"),
    ("2026-03-12T13:31:00Z,nan,11,9,10,100", "open is not finite"),
    ("2026-03-12T13:31:00Z,10,inf,9,10,100", "high is not finite"),
    ("2026-03-12T13:31:00Z,0,0,0,0,100", "non-positive low"),
    ("2026-03-12T13:31:00Z,-2,-1,-3,-2,100", "non-positive open"),
    ("2026-03-12T13:31:30Z,10,11,9,10,100", "not a whole minute"),
    ("2026-03-12T13:30:00Z,10,11,9,10,100", "duplicate bar for AAA at 2026-03-12T13:30:00Z"),
    ("2026-03-12T13:31:00Z,10,11,9,10", "expected 6 fields, got 5"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_each_bad_row_is_reported_and_skipped(
    write_csv: Callable[..., Path], row: str, message: str
) -> None:
    folder = write_csv("bars/AAA.csv", [GOOD, row, "2026-03-12T13:32:00Z,10,11,9,10,100"]).parent
    data = load_replay(folder)
    assert len(data.problems) == 1
    problem = data.problems[0]
    assert (Path(problem.file).name, problem.line) == ("AAA.csv", 3)
    assert message in problem.message
    assert data.minutes == [utc(2026, 3, 12, 13, 30), utc(2026, 3, 12, 13, 32)]


def test_problems_carry_file_and_line_and_good_rows_survive(
    write_csv: Callable[..., Path],
) -> None:
    rows = [GOOD, "", "2026-03-12T13:31:00Z,10,9,11,10,100", "2026-03-12T13:32:00Z,x,1,1,1,1"]
    folder = write_csv("bars/AAA.csv", rows).parent
    write_csv("bars/BBB.csv", ["2026-03-12T13:31:00Z,10,11,9,10,-5", GOOD])
    data = load_replay(folder)
    where = [(Path(p.file).name, p.line) for p in data.problems]
    assert where == [("AAA.csv", 4), ("AAA.csv", 5), ("BBB.csv", 2)]  # the blank line counts
    assert data.universe == ["AAA", "BBB"]
    assert sorted(data.bars_at(utc(2026, 3, 12, 13, 30))) == ["AAA", "BBB"]
    assert data.bars_at(utc(2026, 3, 12, 13, 31)) == {}


def test_a_row_with_several_faults_is_one_problem(write_csv: Callable[..., Path]) -> None:
    folder = write_csv("bars/AAA.csv", ["2026-03-12T13:30:10Z,10,9,11,10,-1"]).parent
    (problem,) = load_replay(folder).problems
    assert "whole minute" in problem.message
    assert "high" in problem.message
    assert "negative volume" in problem.message


def test_zoned_and_naive_timestamps(write_csv: Callable[..., Path]) -> None:
    rows = [
        "2026-03-12T09:30:00-04:00,10,11,9,10,1",  # New York summer time
        "2026-03-12 13:31:00,10,11,9,10,1",  # naive: UTC
        "2026-03-12T13:32:00Z,10,11,9,10,1",
        "2026-03-12T14:33:00+01:00,10,11,9,10,1",
    ]
    data = load_replay(write_csv("bars/AAA.csv", rows).parent)
    assert data.problems == []
    assert data.minutes == [utc(2026, 3, 12, 13, m) for m in (30, 31, 32, 33)]
    assert data.bars_at(datetime(2026, 3, 12, 13, 31))["AAA"].timestamp == utc(2026, 3, 12, 13, 31)


def test_optional_columns(write_csv: Callable[..., Path]) -> None:
    header = "Timestamp,Open,High,Low,Close,Volume,Trade_Count,VWAP"
    rows = [GOOD + ",42,10.2", "2026-03-12T13:31:00Z,10,11,9,10,100,,", GOOD[:-3] + "1,x,10"]
    data = load_replay(write_csv("bars/AAA.csv", rows, header=header).parent)
    first = data.bars_at(utc(2026, 3, 12, 13, 30))["AAA"]
    second = data.bars_at(utc(2026, 3, 12, 13, 31))["AAA"]
    assert (first.trade_count, first.vwap) == (42.0, 10.2)
    assert (second.trade_count, second.vwap) == (None, None)
    assert [(p.line, "unparsable trade_count" in p.message) for p in data.problems] == [(4, True)]


def test_long_format_csv(write_csv: Callable[..., Path]) -> None:
    header = "symbol,timestamp,open,high,low,close,volume"
    rows = [
        "BBB,2026-03-12T13:30:00Z,20,21,19,20,5",
        "AAA,2026-03-12T13:30:00Z,10,11,9,10,5",
        "AAA,2026-03-12T13:31:00Z,10,11,9,10,5",
        "BBB,2026-03-12T13:30:00Z,20,21,19,20,7",
        ",2026-03-12T13:32:00Z,10,11,9,10,5",
    ]
    path = write_csv("long.csv", rows, header=header)
    data = load_replay(path)
    assert data.universe == ["AAA", "BBB"]
    assert sorted(data.bars_at(utc(2026, 3, 12, 13, 30))) == ["AAA", "BBB"]
    assert list(data.bars_at(utc(2026, 3, 12, 13, 31))) == ["AAA"]  # BBB's gap stays a gap
    assert data.bars_at(utc(2026, 3, 12, 13, 30))["BBB"].volume == 5.0  # the first copy wins
    assert [(p.file, p.line) for p in data.problems] == [(str(path), 5), (str(path), 6)]
    assert "first at line 2" in data.problems[0].message
    assert "empty symbol" in data.problems[1].message
    assert load_replay(path, symbols={"BBB"}).universe == ["BBB"]


def test_dates_select_new_york_sessions(write_csv: Callable[..., Path]) -> None:
    rows = ["2026-03-12T19:59:00Z,10,11,9,10,1", "2026-03-13T13:30:00Z,10,11,9,10,1"]
    folder = write_csv("bars/AAA.csv", rows).parent
    assert load_replay(folder, start=date(2026, 3, 13)).minutes == [utc(2026, 3, 13, 13, 30)]
    assert load_replay(folder, end=date(2026, 3, 12)).minutes == [utc(2026, 3, 12, 19, 59)]


def test_bad_rows_outside_the_dates_are_not_reported(write_csv: Callable[..., Path]) -> None:
    rows = ["2026-03-11T13:30:00Z,10,9,11,10,1", "2026-03-12T13:30:00Z,10,11,9,10,1"]
    folder = write_csv("bars/AAA.csv", rows).parent
    assert load_replay(folder, start=date(2026, 3, 12)).problems == []
    assert len(load_replay(folder).problems) == 1


# --- Parquet --------------------------------------------------------------------------


def _parquet(path: Path, columns: dict[str, list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_directory(tmp_path: Path) -> None:
    stamps = [utc(2026, 3, 12, 13, 30), utc(2026, 3, 12, 13, 31), utc(2026, 3, 12, 13, 32)]
    columns = {
        "timestamp": pa.array(stamps, pa.timestamp("s", tz="UTC")),
        "open": [10.0, 10.0, 10.0],
        "high": [11.0, 9.0, 11.0],  # the second row's high is below its low
        "low": [9.0, 9.5, 9.0],
        "close": [10.5, 9.5, 10.0],
        "volume": [1.0, 2.0, 3.0],
    }
    folder = _parquet(tmp_path / "bars" / "AAA.parquet", columns).parent
    data = load_replay(folder)
    assert data.minutes == [stamps[0], stamps[2]]
    assert [(Path(p.file).name, p.line) for p in data.problems] == [("AAA.parquet", 3)]


def test_parquet_long_file_with_naive_and_string_timestamps(tmp_path: Path) -> None:
    columns = {
        "symbol": ["AAA", "BBB"],
        "timestamp": pa.array([datetime(2026, 3, 12, 13, 30)] * 2, pa.timestamp("us")),
        "open": [1.0, 2.0],
        "high": [1.0, 2.0],
        "low": [1.0, 2.0],
        "close": [1.0, 2.0],
        "volume": [0.0, 1.0],
    }
    data = load_replay(_parquet(tmp_path / "long.parquet", columns))
    assert data.universe == ["AAA", "BBB"]
    assert data.minutes == [utc(2026, 3, 12, 13, 30)]
    text = dict(columns, timestamp=["2026-03-12T13:30:00Z", "garbage"])
    data = load_replay(_parquet(tmp_path / "text.parquet", text))
    assert data.universe == ["AAA"]
    assert [(p.line, "unparsable timestamp" in p.message) for p in data.problems] == [(3, True)]


# --- errors ---------------------------------------------------------------------------


def test_missing_required_column(write_csv: Callable[..., Path]) -> None:
    folder = write_csv("bars/AAA.csv", ["2026-03-12T13:30:00Z,1,1,1,1"], "timestamp,o,h,l,c").parent
    with pytest.raises(ReplayDataError, match="missing required column") as caught:
        load_replay(folder)
    assert "\n" not in str(caught.value)
    long_file = write_csv("long.csv", [GOOD])
    with pytest.raises(ReplayDataError, match="symbol"):
        load_replay(long_file)


@pytest.mark.parametrize(
    ("name", "content"),
    [("AAA.parquet", b"this is not parquet"), ("AAA.csv", b"timestamp,open\n\xff\xfe\xfa,1\n")],
)
def test_unreadable_file(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ReplayDataError, match="cannot read") as caught:
        load_replay(tmp_path)
    assert "\n" not in str(caught.value)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ReplayDataError, match="no such file"):
        load_replay(tmp_path / "nowhere")
    with pytest.raises(ReplayDataError, match=r"no \.csv or \.parquet"):
        load_replay(tmp_path)


def test_two_files_for_one_symbol(write_csv: Callable[..., Path], tmp_path: Path) -> None:
    write_csv("bars/AAA.csv", [GOOD])
    _parquet(tmp_path / "bars" / "AAA.parquet", {"timestamp": ["2026-03-12T13:30:00Z"]})
    with pytest.raises(ReplayDataError, match="two files for AAA"):
        load_replay(tmp_path / "bars")


def test_problem_is_a_plain_record() -> None:
    problem = BarProblem("a.csv", 3, "bad")
    assert Counter([problem, BarProblem("a.csv", 3, "bad")])[problem] == 2
