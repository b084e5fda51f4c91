"""Encoding, torn-tail repair and strict reading of JSONL ledger files."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from app.domain.models import Side
from app.domain.timefmt import parse_rfc3339, to_rfc3339
from app.ledger import jsonl
from app.ledger.jsonl import (
    JsonlAppender,
    LedgerCorruptError,
    encode_line,
    read_jsonl,
    repair_torn_tail,
    tail_jsonl,
)


def lines_of(records: list[dict]) -> bytes:
    return b"".join(encode_line(r) for r in records)


# -- encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("123.4500", "123.4500"),
        ("-5", "-5"),
        ("98765432109876.1", "98765432109876.1"),
        ("0.0000000001", "0.0000000001"),  # str() would give 1E-10
        ("1E+2", "100"),
        ("0E-10", "0.0000000000"),
    ],
)
def test_decimal_is_an_exact_fixed_point_string(value: str, text: str) -> None:
    line = encode_line({"cash": Decimal(value)})
    assert line == b'{"cash":"' + text.encode() + b'"}\n'
    assert Decimal(orjson.loads(line)["cash"]) == Decimal(value)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 12, 13, 30, tzinfo=UTC),
        datetime(2026, 3, 12, 13, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 12, 13, 30, 0, 7, tzinfo=UTC),
        datetime(2026, 3, 12, 9, 30, tzinfo=timezone(timedelta(hours=-4))),
        datetime(2026, 3, 12, 13, 30, 1, 500000),  # naive: taken as UTC
    ],
)
def test_datetime_matches_timefmt(moment: datetime) -> None:
    text = orjson.loads(encode_line({"at": moment}))["at"]
    assert text == to_rfc3339(moment)
    assert text.endswith("Z")
    assert parse_rfc3339(text) == parse_rfc3339(to_rfc3339(moment))


def test_enum_date_and_nested_values() -> None:
    record = {
        "side": Side.SELL,
        "day": date(2026, 3, 12),
        "allocations": {"alpha": Decimal("1.50"), "beta": [Decimal("2"), None, True]},
        Side.BUY: 1,  # a StrEnum key is written as its value
    }
    assert orjson.loads(encode_line(record)) == {
        "side": "sell",
        "day": "2026-03-12",
        "allocations": {"alpha": "1.50", "beta": ["2", None, True]},
        "buy": 1,
    }


def test_non_finite_numbers_become_null() -> None:
    record = {
        "a": float("nan"),
        "b": float("inf"),
        "c": float("-inf"),
        "d": Decimal("NaN"),
        "e": [float("nan")],
    }
    assert orjson.loads(encode_line(record)) == {
        "a": None,
        "b": None,
        "c": None,
        "d": None,
        "e": [None],
    }


def test_identical_records_give_identical_bytes_in_insertion_order() -> None:
    def build() -> dict:
        return {
            "z": Decimal("1.10"),
            "a": datetime(2026, 3, 12, 13, 30, tzinfo=UTC),
            "m": {"y": 1, "b": 2.5},
        }

    assert encode_line(build()) == encode_line(build())
    line = encode_line(build())
    assert line.index(b'"z"') < line.index(b'"a"') < line.index(b'"m"')
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")


def test_unknown_types_and_non_dicts_are_refused() -> None:
    with pytest.raises(TypeError):
        encode_line({"x": object()})
    with pytest.raises(TypeError):
        encode_line([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_line({"x": {1: "int key"}})


# -- appending and torn tails -------------------------------------------------------


def test_each_append_is_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_write = os.write

    def spy(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    path = tmp_path / "deep" / "er" / "trades.jsonl"
    with JsonlAppender(path) as appender:
        monkeypatch.setattr(os, "write", spy)
        appender.append({"n": 1, "text": "x" * 100_000})
        appender.append({"n": 2})
        monkeypatch.undo()
    assert [orjson.loads(w)["n"] for w in writes] == [1, 2]
    assert b"".join(writes) == path.read_bytes()


def test_torn_tail_is_saved_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    whole = lines_of([{"n": 1}, {"n": 2}])
    torn = b'{"n": 3, "sym'
    path.write_bytes(whole + torn)

    appender = JsonlAppender(path)
    repair = appender.open()
    assert repair is not None
    assert repair.path == path
    assert repair.fragment == torn
    assert repair.saved_to.name.startswith("trades.jsonl.torn-")
    assert repair.saved_to.read_bytes() == torn
    assert path.read_bytes() == whole

    appender.append({"n": 3})
    appender.close()
    assert [r["n"] for r in read_jsonl(path)] == [1, 2, 3]


def test_file_of_one_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"only": "par')
    repair = repair_torn_tail(path)
    assert repair is not None
    assert repair.fragment == b'{"only": "par'
    assert path.read_bytes() == b""
    assert repair.saved_to.read_bytes() == b'{"only": "par'
    with JsonlAppender(path) as appender:
        appender.append({"ok": True})
    assert list(read_jsonl(path)) == [{"ok": True}]


def test_torn_tail_longer_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "errors.jsonl"
    whole = encode_line({"n": 1})
    torn = b'{"blob": "' + b"y" * (3 * jsonl._BLOCK)
    path.write_bytes(whole + torn)
    repair = repair_torn_tail(path)
    assert repair is not None
    assert repair.fragment == torn
    assert path.read_bytes() == whole


def test_whole_or_missing_files_need_no_repair(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    assert repair_torn_tail(path) is None
    path.write_bytes(b"")
    assert repair_torn_tail(path) is None
    path.write_bytes(lines_of([{"n": 1}]))
    assert repair_torn_tail(path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trades.jsonl"]


def test_two_repairs_never_overwrite_each_other(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    saved = set()
    for fragment in (b"{first", b"{second"):
        with path.open("ab") as handle:
            handle.write(fragment)
        repair = repair_torn_tail(path)
        assert repair is not None
        saved.add(repair.saved_to)
        assert repair.saved_to.read_bytes() == fragment
    assert len(saved) == 2


# -- reading --------------------------------------------------------------------------


def test_corrupt_middle_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(lines_of([{"n": 1}, {"n": 2}]) + b'{"n": 3,,}\n' + lines_of([{"n": 4}]))
    seen = []
    with pytest.raises(LedgerCorruptError) as caught:
        seen.extend(read_jsonl(path))
    assert caught.value.line_no == 3
    assert caught.value.path == path
    assert seen == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize("bad", [b"\n", b"[1, 2]\n", b'"text"\n', b"\x00\x00\n"])
def test_blank_and_non_object_lines_are_corrupt(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(encode_line({"n": 1}) + bad)
    with pytest.raises(LedgerCorruptError) as caught:
        list(read_jsonl(path))
    assert caught.value.line_no == 2


def test_torn_tail_raises_unless_allowed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(lines_of([{"n": 1}, {"n": 2}]) + b'{"n": 3}')  # parseable, still torn
    with pytest.raises(LedgerCorruptError) as caught:
        list(read_jsonl(path))
    assert caught.value.line_no == 3
    with caplog.at_level(logging.WARNING):
        assert list(read_jsonl(path, allow_torn_tail=True)) == [{"n": 1}, {"n": 2}]
    assert "torn" in caplog.text


def big_file(path: Path, count: int) -> list[dict]:
    records = [{"n": i, "pad": "p" * (i % 97)} for i in range(count)]
    path.write_bytes(lines_of(records))
    return records


@pytest.mark.parametrize("n", [1, 2, 7, 999, 3000, 5000])
def test_tail_matches_a_full_read(tmp_path: Path, n: int) -> None:
    path = tmp_path / "metrics.jsonl"
    records = big_file(path, 3000)
    assert path.stat().st_size > 2 * jsonl._BLOCK
    assert tail_jsonl(path, n) == records[-n:]


def test_tail_with_lines_longer_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    records = [{"n": i, "blob": str(i) * (jsonl._BLOCK + 11)} for i in range(4)]
    path.write_bytes(lines_of(records))
    assert tail_jsonl(path, 2) == records[-2:]
    assert tail_jsonl(path, 0) == []


def test_tail_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "trades.jsonl"
    path.write_bytes(b"")
    assert tail_jsonl(path, 3) == []


def test_tail_reports_corrupt_line_number(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    records = big_file(path, 3000)
    with path.open("ab") as handle:
        handle.write(b"not json\n")
        handle.write(lines_of(records[:2]))
    assert tail_jsonl(path, 2) == records[:2]
    with pytest.raises(LedgerCorruptError) as caught:
        tail_jsonl(path, 3)
    assert caught.value.line_no == 3001


def test_tail_with_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    records = big_file(path, 10)
    with path.open("ab") as handle:
        handle.write(b'{"n": 10')
    with pytest.raises(LedgerCorruptError) as caught:
        tail_jsonl(path, 2)
    assert caught.value.line_no == 11
    assert tail_jsonl(path, 2, allow_torn_tail=True) == records[-2:]
