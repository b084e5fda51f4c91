"""What each `arena` command does; app.cli parses the arguments and reports errors."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli_views import leaderboard_table, metrics_rows, team_view
from app.cli_web import serve_beside
from app.competition import (
    Competition,
    build_competition,
    prepare_data_dir,
    sandbox_layer_summary,
)
from app.engine.clock import ReplayClock
from app.engine.ports import MarketData
from app.ledger import reader
from app.ledger.paths import owner_dir, team_ids
from app.market.relabel import RelabeledMarket
from app.market.replay import ReplayMarket
from app.market.synthetic import SyntheticMarket
from app.registry import Registry, RegistryError, load_registry


def _console(stderr: bool = False) -> Console:
    """A console; when piped or captured, wide enough that tables do not wrap names."""
    made = Console(stderr=stderr)
    if not made.is_terminal:
        made.width = 140
    return made


console = _console()
errors = _console(stderr=True)
MAX_PROBLEMS_SHOWN = 20


def cmd_replay(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    market = ReplayMarket.load(args.bars, args.symbols, args.start, args.end)
    _report_bar_problems(market)
    minutes = market.minutes()
    if not minutes:
        raise ValueError(f"{args.bars}: no bars in the selected sessions and symbols")
    prepare_data_dir(args.data_dir, args.reset)
    competition = build_competition(registry, market, args.data_dir, durability="close")
    announce_sandbox(competition)
    ticks = ReplayClock(minutes, args.speed).ticks()
    sessions = len({m.date() for m in minutes})
    console.print(
        f"Replaying {len(minutes):,} minutes ({sessions} sessions) × {len(market.universe)} "
        f"symbols for {len(competition.engine.books)} teams into {args.data_dir}"
    )
    problems = _run_with_progress(competition, ticks, len(minutes), args.quiet)
    return finish_run(competition, problems)


def cmd_demo(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    market = SyntheticMarket(symbols=args.symbols)
    minutes = market.minutes(sessions=max(1, -(-args.minutes // 390)))[: args.minutes]
    prepare_data_dir(args.data_dir, reset=True)  # the demo always starts afresh
    server = serve_if_asked(args)
    competition = build_competition(registry, market, args.data_dir, durability="close")
    announce_sandbox(competition)
    console.print(
        f"[bold]{registry.competition.name}[/]: {len(competition.engine.books)} teams, "
        f"{len(market.universe)} synthetic symbols, {len(minutes)} minutes at "
        f"{args.speed:g} minutes/second; ledgers in {args.data_dir}"
    )
    ticks = ReplayClock(minutes, args.speed).ticks()
    with Live(leaderboard_table(competition.leaderboard()), console=console) as live:

        def refresh(report: Any) -> None:
            if report.minute.minute % 5 == 0:
                title = f"{report.minute:%Y-%m-%d %H:%M} UTC"
                live.update(leaderboard_table(competition.leaderboard(), title))

        problems = competition.run(ticks, on_tick=refresh)
        live.update(leaderboard_table(competition.leaderboard(), "final"))
    console.print()
    console.print(f"Next: arena print-global --data-dir {args.data_dir}")
    if server is not None:
        console.print(f"The API keeps serving on port {args.port}; Ctrl-C stops it.")
        try:
            server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait()
    return 1 if problems else 0


def serve_if_asked(args: argparse.Namespace) -> Any:
    """`arena serve` next to the engine, unless --no-serve; its keys print once."""
    if not args.serve:
        return None
    server = serve_beside(args.data_dir, args.registry, args.port)
    console.print(f"API: http://127.0.0.1:{args.port}/api/v1/leaderboard (docs at /docs)")
    return server


def cmd_print_team(args: argparse.Namespace) -> int:
    folder = owner_dir(args.data_dir, args.team_id)
    if not folder.is_dir():
        raise ValueError(f"no ledgers for team {args.team_id!r} in {args.data_dir}")
    for renderable in team_view(
        args.team_id,
        reader.latest_portfolio(folder),
        reader.latest_metrics(folder),
        reader.recent_trades(folder, args.trades),
        reader.recent_errors(folder, 5),
    ):
        console.print(renderable)
    return 0


def cmd_print_global(args: argparse.Namespace) -> int:
    ids = team_ids(args.data_dir)
    if not ids:
        raise ValueError(f"no team ledgers in {args.data_dir}")
    names = _team_names(args.registry)
    latest = {t: reader.latest_metrics(owner_dir(args.data_dir, t)) for t in ids}
    console.print(metrics_rows(latest, names))
    account = reader.latest_portfolio(owner_dir(args.data_dir, None))
    if account:
        console.print(
            f"Account at {account['timestamp']}: equity {account['equity']}, "
            f"cash {account['cash']}, {len(account['positions'])} positions, "
            f"fees {account['fees']}"
        )
    return 0


def cmd_teams_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    registry = load_registry(args.registry)
    table = Table(title=f"{registry.competition.name}: {args.registry}")
    for column in ("team", "name", "initial cash", "strategy", "entry point", "enabled"):
        table.add_column(column)
    base = args.registry.resolve().parent
    for team in registry.teams:
        strategy = (
            team.strategy.relative_to(base) if team.strategy.is_relative_to(base) else team.strategy
        )
        table.add_row(
            team.team_id,
            team.name,
            f"{team.initial_cash:,}",
            str(strategy),
            team.entry_point,
            "yes" if team.enabled else "no",
        )
    console.print(table)
    return 0


def _run_with_progress(
    competition: Competition, ticks: Iterator, total: int, quiet: bool
) -> list[str]:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} min/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, disable=quiet, transient=False) as progress:
        task = progress.add_task("replay", total=total, rate="-")

        def advance(report: Any) -> None:
            progress.advance(task)
            speed = progress.tasks[task].speed
            progress.update(
                task,
                description=f"{report.minute:%Y-%m-%d %H:%M}",
                rate=f"{speed:,.0f}" if speed else "-",
            )

        return competition.run(ticks, on_tick=advance)


def announce_sandbox(competition: Competition) -> None:
    """One line on the isolation every team got; loud when a layer is missing."""
    active, inactive = sandbox_layer_summary(competition.load_outcomes)
    if inactive:
        errors.print(f"[red]SANDBOX DEGRADED[/]: not active: {'; '.join(inactive)}")
    console.print(f"Sandbox: {len(active)} isolation layers active ({', '.join(active)})")
    failed = {t: o for t, o in competition.load_outcomes.items() if not o.ok}
    for team, outcome in sorted(failed.items()):
        errors.print(f"team {team}: strategy did not load ({outcome.kind}): {outcome.error}")


def finish_run(competition: Competition, problems: list[str]) -> int:
    console.print(leaderboard_table(competition.leaderboard(), "final"))
    repairs = competition.ledger.repairs
    if repairs:
        errors.print(
            f"repaired {len(repairs)} torn ledger line(s): " + "; ".join(map(str, repairs))
        )
    for problem in problems:
        errors.print(f"[red]books do not match:[/] {problem}")
    return 1 if problems else 0


def _report_bar_problems(market: ReplayMarket) -> None:
    problems = market.problems
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        errors.print(f"skipped bar: {problem.file}:{problem.line}: {problem.message}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        errors.print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more skipped bars")


def wall_clock_market(spec: str, symbols: int) -> MarketData:
    """`synthetic` or `replay:PATH`, replayed minute by minute under wall-clock labels."""
    if spec == "synthetic":
        synthetic = SyntheticMarket(symbols=symbols)
        return RelabeledMarket(synthetic, synthetic.minutes(sessions=30))
    if spec.startswith("replay:"):
        replay = ReplayMarket.load(Path(spec.removeprefix("replay:")))
        _report_bar_problems(replay)
        return RelabeledMarket(replay, replay.minutes())
    raise ValueError(f"--market must be 'synthetic' or 'replay:PATH', got {spec!r}")


def _team_names(registry_path: Path) -> dict[str, str]:
    try:
        registry: Registry = load_registry(registry_path)
    except RegistryError:
        return {}
    return {t.team_id: t.name for t in registry.teams}
