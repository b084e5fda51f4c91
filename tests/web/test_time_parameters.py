"""Every time parameter of the API reads one way (app/web/times.py): with a zone it is
exact, without one it is UTC, and a date alone is that New York day (as `end`, the day is
included). Bars of the fixture: AAA at 14:00..14:05 UTC on 2026-03-12."""

from __future__ import annotations

import pytest


def bars(client, keys, start: str, end: str):
    answer = client.get(
        "/api/v1/market-data/AAA/range",
        params={"start": start, "end": end},
        headers={"X-API-Key": keys["alpha"]},
    )
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        ("2026-03-12", "2026-03-13", 6),  # dates: New York days
        ("2026-03-12", "2026-03-12", 6),  # one day, included
        ("2026-03-12T14:02:00", "2026-03-12T14:04:00", 2),  # naive: UTC
        ("2026-03-12T14:02:00Z", "2026-03-12T14:04:00+00:00", 2),
        ("2026-03-12T10:02:00-04:00", "2026-03-12T14:04:00", 2),  # mixed
        ("2026-03-12 14:02", "2026-03-12 14:04", 2),
    ],
)
def test_times_with_and_without_zones_and_dates_read_as_documented(client, keys, start, end, count):
    status, body = bars(client, keys, start, end)
    assert status == 200, body
    assert len(body["bars"]) == count


def test_a_date_is_the_new_york_day_not_the_utc_day(client, keys):
    status, body = bars(client, keys, "2026-03-13", "2026-03-13")
    assert status == 404, body  # 14:00 UTC on the 12th is not on the 13th in New York


BAD = [
    ("2026-03-13", "2026-03-12"),
    ("yesterday", "2026-03-12"),
    ("2026-03-12T25:00", "2026-03-13"),
    ("0001-01-01T00:00+05:00", "2026-03-13"),  # out of range once in UTC
    ("0001-01-01T00:00:00+00:00", "2000-01-01"),  # out of range in New York (the fuzz found it)
    ("2026-03-12", "9999-12-31"),
]


@pytest.mark.parametrize(("start", "end"), BAD)
def test_a_bad_time_is_a_422_naming_the_rule(client, keys, start, end):
    status, body = bars(client, keys, start, end)
    assert status == 422, body


def test_the_rule_is_in_the_api_docs(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/market-data/{symbol}/range"]["get"]
    described = {p["name"]: p.get("description", "") for p in operation["parameters"]}
    assert "UTC" in described["start"]
    assert "New York" in described["end"]
