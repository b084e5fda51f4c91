"""One timestamp format for every ledger line and API answer: RFC 3339 in UTC with `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def to_rfc3339(moment: datetime) -> str:
    """`2026-03-12T13:30:00Z`; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; a missing zone means UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
