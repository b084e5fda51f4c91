"""Replay inputs as people have them (issue 14, part 4): all-hours bars, New York local
time, bar-end labels, newest-first files, symbol suffixes, extra and corporate-action
columns, and the shapes that stay refused. Each fixture is a small hand-made file under
tests/fixtures/replay_inputs/."""

from __future__ import annotations

import zipfile
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


def test_a_bad_corporate_value_is_a_bad_row(tmp_path: Path) -> None:
    header = "timestamp,open,high,low,close,volume,dividends"
    rows = ["2026-03-12T13:30:00Z,1,1,1,1,1,x", "2026-03-12T13:31:00Z,1,1,1,1,1,-1"]
    (tmp_path / "XOM.csv").write_text("\n".join([header, *rows]) + "\n")
    data = load_replay(tmp_path)
    assert [(p.line, p.message) for p in data.problems] == [
        (2, "unparsable dividends 'x'"),
        (3, "negative dividends -1.0"),
    ]


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
