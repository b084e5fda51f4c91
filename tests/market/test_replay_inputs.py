"""Replay inputs as people have them (issue 14, part 4): all-hours bars, New York local
time, bar-end labels, newest-first files, symbol suffixes, extra and corporate-action
columns, and the shapes that stay refused. Each fixture is a small hand-made file under
tests/fixtures/replay_inputs/."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.market.calendar import SessionCalendar
from app.market.corporate_input import InputCorporateAction
from app.market.replay import ReplayData, ReplayDataError, ReplayMarket, load_replay
from app.market.replay_reading import Dropped, ReplayOptions
from tests.conftest import REPO

INPUTS = REPO / "tests" / "fixtures" / "replay_inputs"
NEW_YORK_OFFSET = timedelta(hours=4)  # March 2026 after the 8th: EDT


def ny(day: int, hh: int, mm: int, month: int = 3) -> datetime:
    """A New York wall-clock minute as UTC (EDT in March 2026, EST in January)."""
    offset = NEW_YORK_OFFSET if month == 3 else timedelta(hours=5)
    return datetime(2026, month, day, hh, mm, tzinfo=UTC) + offset


# --- hours ----------------------------------------------------------------------------


def test_all_hours_bars_keep_the_regular_session_by_default() -> None:
    data = load_replay(INPUTS / "all_hours")
    regular = [ny(12, 9, m) for m in range(30, 41)] + [ny(12, 15, m) for m in range(55, 60)]
    assert data.minutes == regular
    reading = data.reading
    assert reading.hours == "regular"
    assert reading.minutes_used == 16
    assert reading.bars_used == 32
    assert reading.dropped == (
        Dropped("before the regular session (pre-market)", minutes=4, bars=8),
        Dropped("after the regular session (after hours)", minutes=4, bars=8),
    )
    assert reading.sessions == (date(2026, 3, 12),)
    assert any("--hours extended" in line for line in reading.lines())


def test_extended_hours_are_kept_when_asked_and_the_close_rule_stays_regular() -> None:
    market = ReplayMarket.load(INPUTS / "all_hours", options=ReplayOptions(hours="extended"))
    minutes = market.minutes()
    assert minutes[0] == ny(12, 4, 0)
    assert minutes[-1] == ny(12, 19, 59)
    assert len(minutes) == 24
    assert market.reading.dropped == ()
    # Only a minute followed by another of the regular session may trade (decision 0023):
    # every extended minute counts as a close, and so does 15:59.
    closing = {m for m in minutes if market.is_session_close(m)}
    assert closing == {m for m in minutes if not ny(12, 9, 30) <= m < ny(12, 15, 59)}


def test_bars_outside_any_trading_day_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = ["2026-03-14T14:00:00Z,10,11,9,10,1", "2026-03-13T14:00:00Z,10,11,9,10,1"]
    (tmp_path / "AAA.csv").write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows))
    for hours in ("regular", "extended"):
        data = load_replay(tmp_path, options=ReplayOptions(hours=hours))
        assert data.minutes == [datetime(2026, 3, 13, 14, tzinfo=UTC)]
        assert data.reading.dropped == (Dropped("not a trading day", minutes=1, bars=1),)


# --- time zone and bar labels ---------------------------------------------------------


def test_alpha_vantage_shape_is_refused_naming_the_flags_that_read_it() -> None:
    with pytest.raises(ReplayDataError) as caught:
        load_replay(INPUTS / "alpha_vantage")
    message = str(caught.value)
    assert "--tz America/New_York --labels end" in message
    assert "04:31" in message  # what the first bar would be, read as given
    assert "\n" not in message


def test_alpha_vantage_shape_with_its_flags_is_read_right_and_newest_first_is_said() -> None:
    options = ReplayOptions(tz="America/New_York", labels="end")
    data = load_replay(INPUTS / "alpha_vantage", options=options)
    day = [ny(15, 9, 30, 1), ny(15, 9, 31, 1), ny(15, 9, 32, 1), ny(15, 11, 59, 1)]
    day += [ny(15, 15, 57, 1), ny(15, 15, 58, 1), ny(15, 15, 59, 1)]
    assert data.minutes == day + [m + timedelta(days=1) for m in day]
    first = data.bars_at(ny(15, 9, 30, 1))["AAPL"]
    assert first.timestamp == ny(15, 9, 30, 1)  # the bar that ended at 09:31 started at 09:30
    assert (first.open, first.close) == (179.95, 179.75)  # the file's 09:31 row
    reading = data.reading
    assert (reading.zone, reading.labels) == ("America/New_York", "end")
    assert reading.dropped == ()
    assert any("newest first" in w and "AAPL.csv" in w for w in reading.warnings)


def test_new_york_time_read_as_utc_is_refused_naming_tz() -> None:
    with pytest.raises(ReplayDataError, match="--tz America/New_York") as caught:
        load_replay(INPUTS / "new_york_naive")
    assert "--labels" not in str(caught.value)
    data = load_replay(INPUTS / "new_york_naive", options=ReplayOptions(tz="America/New_York"))
    assert data.minutes[0] == ny(12, 9, 30)
    assert data.reading.zone == "America/New_York"


def test_end_labels_are_refused_naming_labels_and_read_with_the_flag() -> None:
    with pytest.raises(ReplayDataError, match="--labels end") as caught:
        load_replay(INPUTS / "end_labels")
    assert "--tz" not in str(caught.value)  # the timestamps carry their zone
    data = load_replay(INPUTS / "end_labels", options=ReplayOptions(labels="end"))
    expected = [(9, 30), (9, 31), (11, 59), (15, 58), (15, 59)]
    assert data.minutes == [ny(12, hh, mm) for hh, mm in expected]


def test_explicit_flags_are_obeyed_without_a_second_guess() -> None:
    options = ReplayOptions(tz="UTC", labels="start", hours="extended")
    data = load_replay(INPUTS / "alpha_vantage", options=options)
    assert data.minutes[0] == datetime(2026, 1, 15, 9, 31, tzinfo=UTC)  # 04:31 New York


def test_an_unknown_zone_is_an_error() -> None:
    with pytest.raises(ReplayDataError, match="--tz: unknown time zone 'Mars/Olympus'"):
        load_replay(INPUTS / "all_hours", options=ReplayOptions(tz="Mars/Olympus"))


def test_a_partial_session_proves_nothing_and_is_read_as_given(tmp_path: Path) -> None:
    rows = [f"2026-03-12T14:0{m}:00Z,10,11,9,10,1" for m in range(5)]
    (tmp_path / "AAA.csv").write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows))
    assert len(load_replay(tmp_path).minutes) == 5


# --- symbols --------------------------------------------------------------------------


def _parquet_bars(path: Path, stamps: list[datetime]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(stamps)
    columns = {"timestamp": pa.array(stamps, pa.timestamp("s", tz="UTC"))}
    columns |= {c: [10.0] * n for c in ("open", "high", "low", "close", "volume")}
    pq.write_table(pa.table(columns), path)
    return path


def test_a_suffix_on_every_symbol_is_stripped_with_a_warning(tmp_path: Path) -> None:
    for name in ("AAPL_1m", "MSFT_1m"):
        _parquet_bars(tmp_path / f"{name}.parquet", [ny(12, 9, 30), ny(12, 9, 31)])
    data = load_replay(tmp_path)
    assert data.universe == ["AAPL", "MSFT"]
    assert data.reading.symbol_suffix == "_1m"
    assert any("--symbol-suffix _1m" in w for w in data.reading.warnings)
    assert load_replay(tmp_path, {"AAPL"}).universe == ["AAPL"]
    told = load_replay(tmp_path, options=ReplayOptions(symbol_suffix="_1m"))
    assert (told.universe, told.reading.warnings) == (["AAPL", "MSFT"], ())
    kept = load_replay(tmp_path, options=ReplayOptions(symbol_suffix=""))
    assert kept.universe == ["AAPL_1m", "MSFT_1m"]


def test_one_file_with_a_suffix_is_its_symbol(tmp_path: Path) -> None:
    _parquet_bars(tmp_path / "AAPL_1m.parquet", [ny(12, 9, 30)])
    assert load_replay(tmp_path).universe == ["AAPL"]


def test_a_suffix_given_but_not_on_every_name_is_an_error(tmp_path: Path) -> None:
    _parquet_bars(tmp_path / "AAPL_1m.parquet", [ny(12, 9, 30)])
    _parquet_bars(tmp_path / "MSFT.parquet", [ny(12, 9, 30)])
    with pytest.raises(ReplayDataError, match="MSFT does not end in '_1m'"):
        load_replay(tmp_path, options=ReplayOptions(symbol_suffix="_1m"))


def test_a_suffix_in_a_long_files_symbol_column_is_stripped(tmp_path: Path) -> None:
    header = "symbol,timestamp,open,high,low,close,volume"
    rows = ["AAPL_1m,2026-03-12T13:30:00Z,1,1,1,1,1", "SPY_1m,2026-03-12T13:30:00Z,1,1,1,1,1"]
    (tmp_path / "long.csv").write_text("\n".join([header, *rows]) + "\n")
    data = load_replay(tmp_path / "long.csv")
    assert data.universe == ["AAPL", "SPY"]


# --- extra and corporate-action columns -----------------------------------------------


def test_extra_columns_are_named_and_corporate_actions_are_read() -> None:
    data = load_replay(INPUTS / "yahoo")
    assert data.universe == ["AAPL", "MSFT"]
    assert len(data.minutes) == 6
    assert data.corporate_actions == [
        InputCorporateAction("AAPL", date(2026, 3, 13), "dividend", Decimal("0.26")),
        InputCorporateAction("MSFT", date(2026, 3, 13), "split", Decimal("2.0")),
    ]
    warnings = " ".join(data.reading.warnings)
    assert "adj close" in warnings
    assert "AAPL.csv" in warnings
    assert data.reading.corporate_actions == 2


def test_a_dividend_repeated_on_every_bar_of_its_day_is_one_action(tmp_path: Path) -> None:
    header = "timestamp,open,high,low,close,volume,dividend_amount,split_coefficient"
    rows = [f"2026-03-12T13:3{m}:00Z,1,1,1,1,1,0.5,1.0" for m in range(3)]
    (tmp_path / "XOM.csv").write_text("\n".join([header, *rows]) + "\n")
    data = load_replay(tmp_path)
    assert data.corporate_actions == [
        InputCorporateAction("XOM", date(2026, 3, 12), "dividend", Decimal("0.5"))
    ]
    assert data.reading.warnings == ()


def test_two_different_dividends_on_one_day_are_an_error(tmp_path: Path) -> None:
    header = "timestamp,open,high,low,close,volume,dividends"
    rows = ["2026-03-12T13:30:00Z,1,1,1,1,1,0.5", "2026-03-12T13:31:00Z,1,1,1,1,1,0.6"]
    (tmp_path / "XOM.csv").write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(ReplayDataError, match=r"XOM\.csv: two dividend amounts for XOM"):
        load_replay(tmp_path)


# --- shapes that stay refused, each with a clear word ---------------------------------


def test_a_headerless_csv_is_an_error_that_says_so() -> None:
    with pytest.raises(ReplayDataError, match="missing required column") as caught:
        load_replay(INPUTS / "headerless")
    assert "first line looks like data" in str(caught.value)


def test_epoch_millisecond_timestamps_are_bad_rows_that_say_why() -> None:
    data = load_replay(INPUTS / "epoch_ms")
    assert data.minutes == []
    assert len(data.problems) == 3
    assert all("epoch" in p.message and "ISO 8601" in p.message for p in data.problems)


def test_a_folder_of_lean_zips_is_an_error_that_says_so(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "aapl.zip", "w") as archive:
        archive.writestr("20260312_aapl_minute_trade.csv", "34200000,1000000,1,1,1,1\n")
    with pytest.raises(ReplayDataError, match=r"no \.csv or \.parquet files") as caught:
        load_replay(tmp_path)
    assert ".zip" in str(caught.value)


# --- the summary ----------------------------------------------------------------------


def test_the_real_data_reads_without_a_word(real_data: ReplayData) -> None:
    reading = real_data.reading
    assert reading.dropped == ()
    assert reading.warnings == ()
    assert reading.minutes_used == 3120
    assert len(reading.sessions) == 8
    assert len(reading.symbols) == 40
    assert (reading.zone, reading.labels, reading.hours) == ("UTC", "start", "regular")


def test_the_summary_lines_say_what_was_understood() -> None:
    lines = load_replay(INPUTS / "all_hours").reading.lines()
    text = "\n".join(lines)
    assert "2 symbols (AAA, BBB)" in text
    assert "1 session (2026-03-12)" in text
    assert "16 minutes used" in text
    assert "4 minutes before the regular session (pre-market)" in text
    assert "timestamps carry their zone" in text
    assert "labels its bar's start" in text


def test_session_bounds_follow_the_calendar_early_closes_included() -> None:
    calendar = SessionCalendar()
    assert calendar.session_bounds(date(2026, 3, 14)) is None  # a Saturday
    early_close = calendar.session_bounds(date(2025, 11, 28))  # the day after Thanksgiving
    assert early_close == (
        datetime(2025, 11, 28, 14, 30, tzinfo=UTC),
        datetime(2025, 11, 28, 18, 0, tzinfo=UTC),
    )


# --- an outside audit's findings (decision 0026) ----------------------------------------


def _bars_file(path: Path, rows: list[str], header: str = "timestamp,open,high,low,close,volume"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_new_york_all_hours_bars_with_sparse_edges_are_refused_naming_tz() -> None:
    # First bar 04:05, last 19:57: no day starts or ends on an edge under either zone, but
    # only New York time puts the busy regular session at 09:30-16:00.
    source = INPUTS / "new_york_all_hours_sparse"
    with pytest.raises(ReplayDataError) as caught:
        load_replay(source)
    message = str(caught.value)
    assert "--tz America/New_York" in message
    assert "--labels" not in message
    assert "\n" not in message
    options = ReplayOptions(tz="America/New_York")
    data = load_replay(source, options=options)
    assert (data.minutes[0], data.minutes[-1]) == (ny(12, 9, 30), ny(13, 15, 55))
    assert data.reading.warnings == ()
    extended = load_replay(source, options=replace(options, hours="extended"))
    assert (extended.minutes[0], extended.minutes[-1]) == (ny(12, 4, 5), ny(13, 19, 57))


def test_the_same_sparse_bars_in_utc_read_as_utc_without_a_word(tmp_path: Path) -> None:
    lines = (INPUTS / "new_york_all_hours_sparse" / "SPY.csv").read_text().splitlines()
    rows = []
    for line in lines[1:]:
        stamp, rest = line.split(",", 1)
        moment = datetime.fromisoformat(stamp) + NEW_YORK_OFFSET
        rows.append(f"{moment:%Y-%m-%d %H:%M:%S},{rest}")
    data = load_replay(_bars_file(tmp_path / "SPY.csv", rows).parent)
    assert data.minutes[0] == ny(12, 9, 30)
    assert data.reading.warnings == ()


def test_bars_that_fit_either_zone_are_read_as_given_with_a_warning(tmp_path: Path) -> None:
    start = datetime(2026, 3, 12)
    stamps = [start + timedelta(minutes=10 * k) for k in range(144)]  # round the clock
    _bars_file(tmp_path / "BTC.csv", [f"{t:%Y-%m-%d %H:%M:%S},10,11,9,10,1" for t in stamps])
    data = load_replay(tmp_path)
    assert data.reading.zone == "UTC"
    [warning] = data.reading.warnings
    assert "--tz UTC" in warning
    assert "--tz America/New_York" in warning
    told = load_replay(tmp_path, options=ReplayOptions(tz="UTC", labels="start"))
    assert told.reading.warnings == ()


def test_bars_that_fit_another_reading_but_not_clearly_are_read_as_given_with_a_warning(
    tmp_path: Path,
) -> None:
    rows = []
    for day in (12, 13, 16):  # pre-market bars only: no reading makes their session busy
        rows += [
            f"2026-03-{day}T{9 + k // 6:02d}:{k % 6 * 10:02d}:00Z,10,11,9,10,1" for k in range(18)
        ]
    ends = [datetime(2026, 3, 17, 13, 31, tzinfo=UTC) + timedelta(minutes=k) for k in range(390)]
    rows += [f"{t:%Y-%m-%dT%H:%M:%SZ},10,11,9,10,1" for t in ends]  # one session, 09:31-16:00
    data = load_replay(_bars_file(tmp_path / "SPY.csv", rows).parent)
    assert data.reading.labels == "start"
    [warning] = data.reading.warnings
    assert "better as each labelling its bar's end" in warning
    assert "--labels start or --labels end" in warning
    assert "--tz" not in warning


@pytest.mark.parametrize(
    ("name", "named"), [("volume_twice.csv", "volume (volume, Volume)"),
                        ("close_twice.csv", "close (close, Close)")],
)  # fmt: skip
def test_a_column_named_twice_is_an_error_naming_it(name: str, named: str) -> None:
    with pytest.raises(ReplayDataError) as caught:
        load_replay(INPUTS / "duplicate_columns" / name)
    assert f"{name}: " in str(caught.value)
    assert named in str(caught.value)


def test_a_parquet_column_named_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    columns = {"timestamp": pa.array([ny(12, 9, 30)], pa.timestamp("s", tz="UTC"))}
    columns |= {c: [10.0] for c in ("open", "high", "low", "close", "volume", "Volume")}
    pq.write_table(pa.table(columns), tmp_path / "SPY.parquet")
    with pytest.raises(ReplayDataError, match=r"SPY\.parquet: .*volume \(volume, Volume\)"):
        load_replay(tmp_path)


def test_an_unused_column_named_twice_is_only_named_as_unused(tmp_path: Path) -> None:
    header = "timestamp,open,high,low,close,volume,note,Note,,"
    _bars_file(tmp_path / "SPY.csv", ["2026-03-12T13:30:00Z,1,1,1,1,1,a,b,,"], header)
    data = load_replay(tmp_path)
    assert len(data.minutes) == 1
    assert any("column(s) not used: note" in w for w in data.reading.warnings)


def test_symbols_that_look_suffixed_are_named_in_a_warning() -> None:
    data = load_replay(INPUTS / "mixed_suffixes")
    assert data.universe == ["AAPL_1m", "IWM", "QQQ_1min", "SPY_1m"]
    [warning] = data.reading.warnings
    assert "AAPL_1m, QQQ_1min, SPY_1m" in warning
    assert "--symbol-suffix" in warning
    kept = load_replay(INPUTS / "mixed_suffixes", options=ReplayOptions(symbol_suffix=""))
    assert kept.reading.warnings == ()


def test_a_long_files_symbols_that_look_suffixed_are_named_too(tmp_path: Path) -> None:
    rows = ["AAPL_1m,2026-03-12T13:30:00Z,1,1,1,1,1", "SPY,2026-03-12T13:30:00Z,1,1,1,1,1"]
    path = _bars_file(tmp_path / "long.csv", rows, "symbol,timestamp,open,high,low,close,volume")
    [warning] = load_replay(path).reading.warnings
    assert "AAPL_1m" in warning
    assert "--symbol-suffix" in warning


def test_split_ratios_are_read_as_new_shares_for_old() -> None:
    data = load_replay(INPUTS / "split_ratios")
    assert data.corporate_actions == [
        InputCorporateAction("XOM", date(2026, 3, 12), "split", Decimal(3), Decimal(2)),
        InputCorporateAction("XOM", date(2026, 3, 13), "dividend", Decimal("0.25")),
        InputCorporateAction("XOM", date(2026, 3, 13), "split", Decimal(1), Decimal(10)),
    ]
    assert data.problems == []
    assert len(data.minutes) == 4


def test_a_garbage_dividend_cell_is_an_error_naming_file_and_line() -> None:
    with pytest.raises(ReplayDataError, match=r"SPY\.csv:3: .*'0\.24 USD'"):
        load_replay(INPUTS / "dividend_garbage")


@pytest.mark.parametrize(
    ("column", "cell"),
    [("dividends", "abc"), ("dividends", "-1"), ("dividends", "2:1"), ("dividends", "inf"),
     ("stock splits", "2:x"), ("stock splits", "-2"), ("stock splits", "2:0"),
     ("split_coefficient", "1:2:3")],
)  # fmt: skip
def test_a_corporate_cell_that_cannot_be_read_is_an_error(
    tmp_path: Path, column: str, cell: str
) -> None:
    header = f"timestamp,open,high,low,close,volume,{column}"
    rows = ["2026-03-12T13:30:00Z,1,1,1,1,1,0", f"2026-03-12T13:31:00Z,1,1,1,1,1,{cell}"]
    _bars_file(tmp_path / "XOM.csv", rows, header)
    with pytest.raises(ReplayDataError, match=rf"XOM\.csv:3: .*{re.escape(repr(cell))}"):
        load_replay(tmp_path)


def test_an_action_on_a_bad_bar_is_kept_and_one_without_a_time_is_an_error(
    tmp_path: Path,
) -> None:
    header = "timestamp,open,high,low,close,volume,dividends"
    rows = ["2026-03-12T13:30:00Z,1,1,1,1,1,0", "2026-03-12T13:31:00Z,1,0.5,2,1,1,0.5"]
    _bars_file(tmp_path / "XOM.csv", rows, header)
    data = load_replay(tmp_path)
    assert [p.line for p in data.problems] == [3]  # high < low: the bar is skipped
    assert data.corporate_actions == [
        InputCorporateAction("XOM", date(2026, 3, 12), "dividend", Decimal("0.5"))
    ]
    _bars_file(tmp_path / "XOM.csv", [*rows, "yesterday,1,1,1,1,1,0.5"], header)
    with pytest.raises(ReplayDataError, match=r"XOM\.csv:4: .*timestamp"):
        load_replay(tmp_path)
