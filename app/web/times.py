"""The one rule for every time parameter of the API (query or path):

- a time with a zone or offset (`2026-03-12T14:30:00Z`, `...T10:30:00-04:00`) is exact;
- a time without one (`2026-03-12T14:30:00`, `2026-03-12 14:30`) is UTC, as every time the
  ledgers and the API write is;
- a date alone (`2026-03-12`) is that New York day, the exchange's: as a start its first
  moment, as an end its last (the day is included).

Anything else is refused (422) with the rule. The API docs show it on each parameter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import BeforeValidator, WithJsonSchema

NEW_YORK = ZoneInfo("America/New_York")
RULE = (
    "a time with a zone is exact (2026-03-12T14:30:00Z, 2026-03-12T10:30:00-04:00); one "
    "without a zone is UTC (2026-03-12T14:30:00); a date alone (2026-03-12) is that New "
    "York day"
)
Edge = Literal["start", "end"]


def parse_time(value: object, edge: Edge) -> datetime:
    """`value` read by the rule above, as an aware UTC datetime."""
    try:
        return _parse(value, edge)
    except OverflowError:  # 0001-01-01T00:00Z (in New York a day of year 0), 9999-12-31 as end
        raise ValueError(f"{str(value)[:40]!r} is out of range") from None


def _parse(value: object, edge: Edge) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return _day_edge(value, edge)
    else:
        text = str(value).strip()
        if len(text) == 10:
            try:
                return _day_edge(date.fromisoformat(text), edge)
            except ValueError:
                raise ValueError(f"{text!r} is not a date or a time: {RULE}") from None
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a date or a time: {RULE}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    moment.astimezone(NEW_YORK)  # its New York day must exist too (the lake's days are)
    return moment.astimezone(UTC)


def _day_edge(day: date, edge: Edge) -> datetime:
    """The first moment of the New York day, or (as an end) the first of the next one."""
    if edge == "end":
        day += timedelta(days=1)
    return datetime.combine(day, time(), NEW_YORK).astimezone(UTC)


def _schema(edge: Edge) -> dict:
    shown = "first moment" if edge == "start" else "end (the day included)"
    return {
        "anyOf": [
            {"type": "string", "format": "date-time"},
            {"type": "string", "format": "date"},
            {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"},
        ],
        "description": f"{RULE}; as `{edge}` a date means its {shown}",
    }


def time_parameter(edge: Edge) -> object:
    """A query parameter's type: an aware UTC datetime, read by the rule."""
    return Annotated[
        datetime,
        BeforeValidator(lambda value: parse_time(value, edge)),
        WithJsonSchema(_schema(edge)),
        Query(description=_schema(edge)["description"]),
    ]


StartTime = time_parameter("start")
EndTime = time_parameter("end")
