"""`arena replay`: a competition over recorded minutes (`arena demo` is app.cli.demo)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from app.cli.arguments import Commands, command, day, positive, symbols, with_competition
from app.cli.output import (
    announce_sandbox,
    console,
    finish_run,
    report_reading,
    run_with_progress,
)
from app.config.registry import Registry, load_registry
from app.config.settings import ArenaSettings
from app.engine.clock import ReplayClock
from app.market.corporate_file import ActionList, from_replay_input, load_actions
from app.market.replay import ReplayMarket, load_replay
from app.market.replay_reading import HOURS, LABELS, ReplayOptions
from app.runtime.competition import (
    CompetitionPlan,
    DataDirError,
    prepare_data_dir,
)
from app.runtime.continuation import (
    earlier_replay,
    finish_replay,
    first_day,
    last_session,
    open_replay,
)
from app.runtime.replay_record import ReplayRecord, actions_print, read_record


def register(commands: Commands, settings: ArenaSettings) -> None:
    replay = command(commands, "replay", cmd_replay, "replay recorded bars through the engine")
    replay.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    with_competition(replay, settings, settings.data_dir)
    replay.add_argument("--start", type=day, help="first session (YYYY-MM-DD)")
    replay.add_argument("--end", type=day, help="last session (YYYY-MM-DD)")
    replay.add_argument("--symbols", type=symbols, help="comma-separated subset, e.g. AAPL,MSFT")
    replay.add_argument("--speed", type=positive, help="minutes per second (default: flat out)")
    runs = replay.add_mutually_exclusive_group()
    runs.add_argument("--reset", action="store_true", help="replace an earlier run's ledgers")
    runs.add_argument(
        "--continue",
        dest="continue_run",
        action="store_true",
        help="append later sessions to the earlier replay in --data-dir (the two parts write "
        "what one run would)",
    )
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.add_argument(
        "--actions",
        type=Path,
        help="corporate actions (CSV/JSON: symbol,kind,ex_date,amount), besides the input's "
        "dividend and split columns",
    )
    add_reading_options(replay)


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    """How to read the input: its hours, the zone of its times, its bar labels, symbols."""
    group = parser.add_argument_group("reading the input (README: Replay input)")
    group.add_argument(
        "--hours",
        choices=HOURS,
        help="regular (default): the regular session only; extended: pre-market and after "
        "hours too (04:00-20:00 New York), seen by the strategies, traded on in the regular "
        "session only",
    )
    group.add_argument(
        "--tz",
        metavar="ZONE",
        help="the zone of timestamps written without one: UTC (default), America/New_York, ...",
    )
    group.add_argument(
        "--labels",
        choices=LABELS,
        help="a timestamp names its bar's start (default) or its end (Alpha Vantage)",
    )
    group.add_argument(
        "--symbol-suffix",
        metavar="SUFFIX",
        help="strip SUFFIX from every symbol, e.g. _1m for AAPL_1m.parquet (default: a "
        "suffix every symbol shares is stripped with a warning; '' strips nothing)",
    )


def reading_options(args: argparse.Namespace) -> ReplayOptions:
    return ReplayOptions(
        hours=args.hours or "regular",
        tz=args.tz,
        labels=args.labels,
        symbol_suffix=args.symbol_suffix,
    )


def cmd_replay(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    options, symbols, start, earlier = reading_options(args), args.symbols, args.start, None
    if args.continue_run:
        earlier = _earlier_part(args, registry)
        options, symbols = replace(options, hours=earlier.hours), _set(earlier.symbols)
        start = first_day(earlier, args.start)
    data = load_replay(args.bars, symbols, start, args.end, options)
    market = ReplayMarket(data, earlier.universe if earlier else None)
    report_reading(market)
    minutes = market.minutes()
    if not minutes:
        after = (
            f" after the earlier part's last session, {last_session(earlier)}" if earlier else ""
        )
        raise ValueError(f"{args.bars}: no bars in the selected sessions and symbols{after}")
    fingerprint = actions_print(args.actions)
    record = ReplayRecord.begin(registry, options.hours, symbols, market.universe, fingerprint)
    if earlier is None:
        _prepare(args.data_dir, args.reset)
    actions = corporate_actions(market, args.actions)
    plan = CompetitionPlan(
        registry, market, args.data_dir, durability="close", corporate_actions=actions
    )
    competition = open_replay(plan, record, minutes[0], earlier)
    announce_sandbox(competition)
    console.print(
        f"Replaying {len(minutes):,} minutes of {len(data.reading.sessions)} session(s) × "
        f"{len(market.universe)} symbols for {len(competition.engine.books)} teams into "
        f"{args.data_dir}" + (", after the earlier part" if earlier else "")
    )
    ticks = ReplayClock(minutes, args.speed).ticks()
    problems = run_with_progress(competition, ticks, len(minutes), args.quiet)
    finish_replay(competition, record, problems)
    return finish_run(competition, problems)


def corporate_actions(market: ReplayMarket, side_file: Path | None) -> ActionList | None:
    """The input's dividend and split columns and the --actions file, as one feed."""
    columns = from_replay_input(market.corporate_actions)
    if side_file is None:
        return ActionList(columns) if columns else None
    feed = ActionList(columns, load_actions(side_file))
    console.print(f"corporate actions: {len(feed)} (the input's columns and {side_file})")
    return feed


def _prepare(data_dir: Path, reset: bool) -> None:
    try:
        prepare_data_dir(data_dir, reset)
    except DataDirError as error:
        raise DataDirError(f"{error}; --continue appends later sessions to it") from None


def _earlier_part(args: argparse.Namespace, registry: Registry) -> ReplayRecord:
    """The replay this one continues, if it may: the same registry and --actions file, and
    the earlier part's hours and symbols unless said (then they must be the same)."""
    found = read_record(args.data_dir)
    hours = args.hours or (found.hours if found else "regular")
    symbols = args.symbols if args.symbols is not None else _set(found and found.symbols)
    now = ReplayRecord.begin(registry, hours, symbols, [], actions_print(args.actions))
    return earlier_replay(args.data_dir, now)


def _set(symbols: list[str] | None) -> set[str] | None:
    return None if symbols is None else set(symbols)
