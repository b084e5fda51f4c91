"""What a replay load reports: a row it skipped, or a source it cannot use at all."""

from __future__ import annotations

from dataclasses import dataclass


class ReplayDataError(Exception):
    """The replay source cannot be used at all (missing column, unreadable file, ...)."""


@dataclass(frozen=True, slots=True)
class BarProblem:
    """A row that was skipped, and why."""

    file: str
    line: int
    message: str
