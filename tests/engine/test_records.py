"""Ledger lines that carry a team's text hold it within the stated caps."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
)
from app.domain.models import Rejection
from app.engine.records import fault_record, rejection_record

MOMENT = datetime(2026, 3, 12, 14, 1, tzinfo=UTC)


def test_a_fault_keeps_the_start_of_a_huge_message_and_of_huge_printed_output() -> None:
    record = fault_record(MOMENT, "alpha", "exception", "E" * 200_000, "p" * 50_000, "v1")
    assert MAX_ERROR_CHARS - 40 <= len(record["message"]) <= MAX_ERROR_CHARS
    assert record["message"].startswith("EEEE")
    assert "more characters]" in record["message"]
    assert MAX_PRINTED_CHARS - 40 <= len(record["printed"]) <= MAX_PRINTED_CHARS
    assert record["printed"].startswith("pppp")


def test_text_within_the_caps_is_kept_as_it_is() -> None:
    printed = "p" * 4000 + "\n[print output truncated at 4000 characters]\n"
    record = fault_record(MOMENT, "alpha", "exception", "E" * MAX_ERROR_CHARS, printed)
    assert record["message"] == "E" * MAX_ERROR_CHARS
    assert record["printed"] == printed


def test_a_rejection_line_caps_its_message_and_never_stores_the_raw_signal() -> None:
    raw = {"symbol": "AAPL", **{f"{i}{'k' * 990}": "v" * 990 for i in range(900)}}
    record = rejection_record(MOMENT, Rejection("alpha", 0, "R" * 100_000, raw), "v1")
    assert MAX_MESSAGE_CHARS - 40 <= len(record["message"]) <= MAX_MESSAGE_CHARS
    assert isinstance(record["signal"], str)
    assert len(record["signal"]) <= MAX_SIGNAL_CHARS
    assert record["signal"].startswith("{")


def test_a_rejection_keeps_a_short_copy_as_it_is_and_cuts_a_long_one() -> None:
    short = rejection_record(MOMENT, Rejection("alpha", 0, "why", "{'qty': 2}"), "v1")
    assert short["signal"] == "{'qty': 2}"
    assert short["message"] == "why"
    long = rejection_record(MOMENT, Rejection("alpha", 0, "why", "s" * 5000), "v1")
    assert len(long["signal"]) <= MAX_SIGNAL_CHARS
    assert rejection_record(MOMENT, Rejection("alpha", 0, "why"), "v1")["signal"] is None
