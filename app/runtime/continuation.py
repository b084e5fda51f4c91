"""`arena replay --continue`: later sessions appended to an earlier replay, so that the parts
together write what one run would have written, byte for byte (decision 0027).

Before the first tick the continuation puts back what one run would carry across the
session boundary: the books from the trade and corporate-action lines (`rebuild_books`, as
`--resume` does), the equity curves from the snapshots, the simulated broker's positions
(it keeps no state of its own), the strategies' window and history from the run's own bar
lake, and the corporate actions that came due between the parts, booked as one run books
them at the new session's open. The engine is not told where the earlier run stopped
(`resume_at`): that run already closed its last session (settlement, fold, lake), and a
continuation starts a new session as one run does. What lived only in memory is not
carried: the strategies' own state, fault counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from app.broker.simulator import SimulatedBroker
from app.domain.models import Bar
from app.engine.recovery import RecoveryReport, rebuild_books
from app.market.lake import BarLake
from app.market.replay import ReplayData
from app.runtime.competition import (
    RUN_OUTPUTS,
    Competition,
    CompetitionPlan,
    simulated_broker,
)
from app.runtime.replay_record import ReplayRecord, read_record, record_path, write_record
from app.runtime.resume import HOLD_FILE, held_problems, read_book_lines, restore_trackers

NEW_YORK = ZoneInfo("America/New_York")


class ContinuationError(ValueError):
    """The earlier replay cannot be continued as asked."""


def earlier_replay(data_dir: Path, now: ReplayRecord) -> ReplayRecord:
    """The earlier part's record, if `now` (the registry, hours, symbols and --actions of
    this part) may continue it; ContinuationError says why not."""
    earlier = read_record(data_dir)
    if earlier is None:
        held = [n for n in RUN_OUTPUTS if (Path(data_dir) / n).exists()]
        if held:
            raise ContinuationError(
                f"{data_dir} holds ledgers ({', '.join(held)}) but no replay record "
                f"({record_path(data_dir).name}): they are not a replay this version can "
                "continue; replay them again with --reset"
            )
        raise ContinuationError(
            f"--continue: {data_dir} holds no earlier replay; replay the first sessions "
            "without --continue"
        )
    if (problems := held_problems(data_dir)) is not None:
        raise ContinuationError(
            f"trading is held ({HOLD_FILE} in {data_dir}): {'; '.join(problems)}; "
            "a held run is not continued"
        )
    if not earlier.finished or earlier.last_minute is None:
        raise ContinuationError(
            f"the earlier replay in {data_dir} did not finish (it was stopped or failed): "
            "its books cannot be continued exactly; replay it again with --reset"
        )
    _check_same_competition(earlier, now)
    return earlier


def _check_same_competition(earlier: ReplayRecord, now: ReplayRecord) -> None:
    added = sorted(now.teams.keys() - earlier.teams.keys())
    removed = sorted(earlier.teams.keys() - now.teams.keys())
    if added or removed:
        change = "; ".join(
            f"{what}: {', '.join(teams)}"
            for what, teams in (("added", added), ("gone", removed))
            if teams
        )
        raise ContinuationError(f"the registry's teams differ from the earlier part's ({change})")
    changed = sorted(t for t in now.teams if now.teams[t] != earlier.teams[t])
    if changed:
        raise ContinuationError(
            f"team(s) {', '.join(changed)} differ from the earlier part (name, cash, entry "
            "point, params or strategy code): the parts would not be one competition"
        )
    if now.competition != earlier.competition:
        raise ContinuationError(
            "the registry's competition settings (rules, broker, sandbox, window) differ "
            "from the earlier part's"
        )
    if now.hours != earlier.hours:
        raise ContinuationError(
            f"the earlier part was replayed with --hours {earlier.hours}; continue it the same way"
        )
    if now.symbols != earlier.symbols:
        said = (
            "without --symbols"
            if earlier.symbols is None
            else f"with --symbols {','.join(earlier.symbols)}"
        )
        raise ContinuationError(f"the earlier part was replayed {said}; continue it the same way")
    if now.actions != earlier.actions:
        raise ContinuationError(_other_actions(earlier.actions, now.actions))


def _other_actions(earlier: str | None, now: str | None) -> str:
    """Why a continuation with other corporate actions (--actions) is refused."""
    if earlier is None:
        return (
            "the earlier part was replayed without --actions; continue it the same way "
            "(its corporate actions would not be one run's)"
        )
    if now is None:
        said = "continue it with the same file"
    else:
        said = f"this one's content differs ({now}); continue it with the same file"
    return f"the earlier part was replayed with an --actions file (content {earlier}); {said}"


def last_session(earlier: ReplayRecord) -> date:
    """The New York date of the earlier part's last minute."""
    assert earlier.last_minute is not None
    return earlier.last_minute.astimezone(NEW_YORK).date()


def first_day(earlier: ReplayRecord, start: date | None) -> date:
    """The first session a continuation may replay: strictly after the earlier last one."""
    last_day = last_session(earlier)
    if start is not None and start <= last_day:
        raise ContinuationError(
            f"--continue: --start {start} is not after the earlier part, which ended with "
            f"the session of {last_day} (its last minute {earlier.last_minute:%Y-%m-%d %H:%M} UTC)"
        )
    return start or last_day + timedelta(days=1)


def open_replay(
    plan: CompetitionPlan, record: ReplayRecord, first: datetime, earlier: ReplayRecord | None
) -> Competition:
    """The replay's competition opened; a continuation of `earlier` gets that part's state
    back (`continue_books`, `first` being this part's first minute); then the run's record
    is written, unfinished until `finish_replay`."""
    broker = None if earlier is None else simulated_broker(plan.registry)
    competition = Competition.open(plan if broker is None else replace(plan, broker=broker))
    try:
        if earlier is not None and broker is not None and earlier.last_minute is not None:
            continue_books(competition, broker, earlier.last_minute, first)
        write_record(plan.data_dir, record)
    except BaseException:
        competition.close()
        raise
    return competition


def finish_replay(competition: Competition, record: ReplayRecord, problems: list[str]) -> None:
    """The record marked finished, unless the books disagreed: such a run is not continued."""
    if not problems:
        write_record(competition.data_dir, record.finished_at(competition.engine.last_minute))


def continue_books(
    competition: Competition, broker: SimulatedBroker, earlier: datetime, first: datetime
) -> int:
    """The earlier part's books, curves, broker positions and bar history put back before
    the first tick (module docstring), and the corporate actions that came due between
    the earlier part's last minute and this part's `first` booked as one run books them
    at that tick; returns the minutes of history warmed."""
    data_dir = competition.data_dir
    engine = competition.engine
    team_lines, account_lines = read_book_lines(data_dir)
    report = RecoveryReport()
    booked = rebuild_books(engine.books, engine.account, team_lines, account_lines, report)
    if report.problems:
        raise ContinuationError(f"the earlier part's books: {'; '.join(report.problems)}")
    engine.corporate.mark_booked(booked.actions)
    restore_trackers(competition)  # not the engine's last minute: it would settle it again
    broker.hold_positions(engine.account.positions())
    warmed = competition.warm(lake_minutes(BarLake(data_dir)))
    day = first.astimezone(NEW_YORK).date()
    engine.corporate.open_session(earlier.astimezone(NEW_YORK).date(), day, first, engine.prices)
    return warmed


def lake_minutes(lake: BarLake) -> Iterator[dict[str, Bar]]:
    """Every bar the lake holds, minute by minute, made as a replay makes them (the same
    `ReplayData`, so the same bars in the same order)."""
    frame = lake.read()
    frame["ts"] = pd.DatetimeIndex(frame["timestamp"]).tz_convert(None).as_unit("s").asi8
    data = ReplayData(frame.drop(columns="timestamp"), [])
    return (data.bars_at(minute) for minute in data.minutes)
