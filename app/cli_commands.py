"""What each `arena` command does; app.cli parses the arguments and reports errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli_views import leaderboard_table, metrics_rows, team_view
from app.competition import (
    Competition,
    build_competition,
    prepare_data_dir,
    sandbox_layer_summary,
)
from app.controls import release_kill_switch, throw_kill_switch
from app.engine.clock import ReplayClock, WallClock
from app.engine.controls import KillMode
from app.engine.ports import MarketData
from app.ledger import reader
from app.ledger.paths import owner_dir, team_ids
from app.live import alpaca_components
from app.market.relabel import RelabeledMarket
from app.market.replay import ReplayMarket
from app.market.synthetic import SyntheticMarket
from app.registry import Registry, RegistryError, load_registry
from app.resume import held_problems, record_opening_cash, resume
from app.settings import ArenaSettings
from app.warmup import daily_backfill, warm_history


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
    _announce_sandbox(competition)
    ticks = ReplayClock(minutes, args.speed).ticks()
    sessions = len({m.date() for m in minutes})
    console.print(
        f"Replaying {len(minutes):,} minutes ({sessions} sessions) × {len(market.universe)} "
        f"symbols for {len(competition.engine.books)} teams into {args.data_dir}"
    )
    problems = _run_with_progress(competition, ticks, len(minutes), args.quiet)
    return _finish(competition, problems)


def cmd_run(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    market, broker, clock = _live_parts(args)
    if args.resume:
        _refuse_if_held(args.data_dir)
        if broker is None:
            raise ValueError("--resume needs --broker alpaca: a simulated broker keeps no state")
        args.data_dir.mkdir(parents=True, exist_ok=True)
    else:
        prepare_data_dir(args.data_dir, args.reset)
        if broker is not None:
            record_opening_cash(args.data_dir, broker)  # what later cash checks start from
    settle = 15.0 if broker is not None else 0.0  # a live broker's last fills come moments late
    competition = build_competition(
        registry, market, args.data_dir, broker, durability="tick", settle_seconds=settle
    )
    _announce_sandbox(competition)
    if broker is not None:
        not_shortable, not_fractionable = broker.asset_limits(sorted(market.universe))
        config = competition.engine.config
        config.rules = replace(
            config.rules, not_shortable=not_shortable, not_fractionable=not_fractionable
        )
        if not_shortable and config.rules.allow_short:
            console.print(f"not shortable at the broker: {', '.join(sorted(not_shortable))}")
    if args.market == "alpaca":
        backfill = market.backfill  # type: ignore[attr-defined]
        competition.engine.set_day_end_hook(daily_backfill(competition, backfill))
        warmed = warm_history(competition, backfill, clock.now())
        console.print(f"bar history: {warmed} minutes of the previous and current session")
    if args.resume:
        report = resume(competition, broker)
        _print_recovery(report)
        if not report.ok:
            competition.engine.runner.close()
            competition.ledger.close()
            raise ValueError("trading is held: the books and the broker disagree (see above); "
                             "fix it, then `arena reconcile --apply`")  # fmt: skip
    console.print(
        f"Running on the {'broker' if args.broker == 'alpaca' else 'wall'} clock "
        f"({args.market}, {len(market.universe)} symbols, broker {args.broker}); "
        f"ledgers in {args.data_dir}. Ctrl-C stops cleanly."
    )

    def show(report: Any) -> None:
        console.print(
            f"{report.minute:%Y-%m-%d %H:%M}Z bars={report.bars} intents={report.intents} "
            f"blocks={report.blocks} rejected={report.rejections} faults={report.faults}"
        )

    problems = competition.run(_after(competition, clock.ticks()), on_tick=show)
    return _finish(competition, problems)


def _after(competition: Competition, minutes: Iterator[Any]) -> Iterator[Any]:
    """Minutes the engine has not processed yet (after a restart, the clock may repeat one)."""
    for minute in minutes:
        last = competition.engine.last_minute
        if last is None or minute > last:
            yield minute


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Recover the books against the broker; a dry run unless --apply."""
    registry = load_registry(args.registry)
    if not args.universe:
        raise ValueError("reconcile needs --universe (the symbols the competition trades)")
    broker, market, _clock = alpaca_components(ArenaSettings(), sorted(args.universe), None)
    competition = build_competition(registry, market, args.data_dir, broker, durability="tick")
    try:
        held = held_problems(args.data_dir)
        if held:
            errors.print("trading is held: " + "; ".join(held))
        report = resume(competition, broker, dry_run=not args.apply)
    finally:
        competition.engine.runner.close()
        competition.ledger.close()
    _print_recovery(report)
    if not args.apply:
        console.print("dry run: nothing written, no order canceled (--apply to do it)")
    elif report.ok:
        console.print("[green]books equal the broker; trading is not held[/]")
    return 0 if report.ok else 1


def cmd_kill_switch(args: argparse.Namespace) -> int:
    """Throw (block, cancel, flatten) or release (off) the kill switch of a running engine."""
    if args.mode == "off":
        released = release_kill_switch(args.data_dir, by="cli")
        console.print("kill switch released" if released else "the kill switch was not thrown")
        return 0
    if args.mode == "flatten" and not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("flatten closes every team's positions: confirm with --yes")
        answer = input("Flatten closes every team's positions at market. Type FLATTEN: ")
        if answer.strip() != "FLATTEN":
            console.print("not confirmed: nothing changed")
            return 1
    switch = throw_kill_switch(args.data_dir, KillMode(args.mode), by="cli")
    console.print(
        f"kill switch: {switch.mode.value} (the running engine acts at its next tick); "
        "`arena kill-switch off` releases it"
    )
    return 0


def _refuse_if_held(data_dir: Path) -> None:
    held = held_problems(data_dir)
    if held:
        raise ValueError(
            "trading is held until the books match the broker: "
            + "; ".join(held)
            + " — run `arena reconcile` (dry run), then `arena reconcile --apply`"
        )


def _print_recovery(report: Any) -> None:
    for line in report.lines():
        (errors if line.startswith("PROBLEM") else console).print(line, markup=False)


def _live_parts(args: argparse.Namespace) -> tuple[MarketData, Any, Any]:
    """Market, broker (None: the simulator) and clock for `arena run`."""
    duration = None if args.duration is None else timedelta(minutes=args.duration)
    settings = ArenaSettings()
    if args.dry_run or settings.dry_run:
        if args.market != "alpaca" or not args.universe:
            raise ValueError(
                "--dry-run runs on Alpaca's market data: --market alpaca --universe ..."
            )
        _broker, market, clock = alpaca_components(settings, sorted(args.universe), duration)
        console.print("[bold yellow]DRY RUN[/]: orders are journaled and filled by the simulator "
                      "on Alpaca's bars; nothing is sent to the broker")  # fmt: skip
        return market, None, clock
    if args.broker == "sim" and args.market != "alpaca":
        return _wall_clock_market(args.market, args.symbols), None, WallClock(duration=duration)
    if args.market != "alpaca" or args.broker != "alpaca":
        raise ValueError("Alpaca trading needs both --broker alpaca and --market alpaca")
    if not args.universe:
        raise ValueError("--market alpaca needs --universe, e.g. --universe AAPL,MSFT,SPY")
    broker, market, clock = alpaca_components(settings, sorted(args.universe), duration)
    return market, broker, clock


def cmd_demo(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    market = SyntheticMarket(symbols=args.symbols)
    minutes = market.minutes(sessions=max(1, -(-args.minutes // 390)))[: args.minutes]
    prepare_data_dir(args.data_dir, reset=True)  # the demo always starts afresh
    competition = build_competition(registry, market, args.data_dir, durability="close")
    _announce_sandbox(competition)
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
    return 1 if problems else 0


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


def _announce_sandbox(competition: Competition) -> None:
    """One line on the isolation every team got; loud when a layer is missing."""
    active, inactive = sandbox_layer_summary(competition.load_outcomes)
    if inactive:
        errors.print(f"[red]SANDBOX DEGRADED[/]: not active: {'; '.join(inactive)}")
    console.print(f"Sandbox: {len(active)} isolation layers active ({', '.join(active)})")
    failed = {t: o for t, o in competition.load_outcomes.items() if not o.ok}
    for team, outcome in sorted(failed.items()):
        errors.print(f"team {team}: strategy did not load ({outcome.kind}): {outcome.error}")


def _finish(competition: Competition, problems: list[str]) -> int:
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


def _wall_clock_market(spec: str, symbols: int) -> MarketData:
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
