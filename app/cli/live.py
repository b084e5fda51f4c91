"""The CLI's live-trading commands: `arena run`, `arena reconcile`, `arena kill-switch`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.alpaca.clients import corporate_actions_client
from app.cli.arguments import Commands, command, symbols, with_competition
from app.cli.output import announce_sandbox, console, errors, finish_run, report_bar_problems
from app.cli.web import add_serve_options, serve_if_asked
from app.config.registry import Registry, load_registry
from app.config.settings import ArenaSettings
from app.engine.clock import WallClock
from app.engine.controls import KillMode
from app.engine.corporate import ActionFeed
from app.engine.ports import MarketData
from app.market.alpaca_corporate import AlpacaCorporateActions
from app.market.relabel import RelabeledMarket
from app.market.replay import ReplayMarket
from app.market.synthetic import SyntheticMarket
from app.runtime.competition import AssetLimits, Competition, CompetitionPlan, prepare_data_dir
from app.runtime.controls import release_kill_switch, throw_kill_switch
from app.runtime.live import alpaca_components
from app.runtime.presence import require_competition, running_engine
from app.runtime.resume import held_problems, record_opening_cash
from app.runtime.warmup import warm_history
from app.runtime.write_failure import held_after_write_failure


def register(commands: Commands, settings: ArenaSettings) -> None:
    run = command(commands, "run", cmd_run, "run a competition on the wall clock")
    run.add_argument("--market", default="synthetic", help="synthetic | replay:PATH | alpaca")
    run.add_argument(
        "--broker",
        choices=("sim", "alpaca"),
        default="sim",
        help="the simulated broker, or Alpaca (ARENA_ALPACA_* settings)",
    )
    run.add_argument("--universe", type=symbols, help="symbols to trade with --market alpaca")
    run.add_argument("--duration", type=int, help="minutes to run (default: until Ctrl-C)")
    run.add_argument("--symbols", type=int, default=8, help="synthetic market size")
    run.add_argument("--reset", action="store_true", help="replace an earlier run's ledgers")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="journal and book, but send nothing: the simulator fills on Alpaca's bars",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue an earlier run: recover its books against the broker first",
    )
    add_serve_options(run)
    with_competition(run, settings, settings.data_dir)

    kill = command(
        commands, "kill-switch", cmd_kill_switch, "halt trading: block, cancel, flatten; or off"
    )
    kill.add_argument("mode", choices=["block", "cancel", "flatten", "off"])
    kill.add_argument("--yes", action="store_true", help="confirm flatten without asking")
    kill.add_argument("--data-dir", type=Path, default=settings.data_dir)

    reconcile = command(
        commands, "reconcile", cmd_reconcile, "recover the books against Alpaca (dry run)"
    )
    reconcile.add_argument("--universe", type=symbols, required=True, help="e.g. AAPL,MSFT,SPY")
    reconcile.add_argument("--apply", action="store_true", help="write and cancel; lift a hold")
    with_competition(reconcile, settings, settings.data_dir)


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
    plan = CompetitionPlan(
        registry,
        market,
        args.data_dir,
        broker,
        durability="tick",
        settle_seconds=settle,
        asset_limits=_asset_limits(registry, market, broker),
        backfill=market.backfill if args.market == "alpaca" else None,
        corporate_actions=_corporate_feed(args, market),
    )
    competition = Competition.open(plan)
    announce_sandbox(competition)
    server = serve_if_asked(args)
    try:
        first = _prepare_live(args, competition, market, broker, clock)
        console.print(
            f"Running on the {'broker' if args.broker == 'alpaca' else 'wall'} clock "
            f"({args.market}, {len(market.universe)} symbols, broker {args.broker}); "
            f"ledgers in {args.data_dir}. Ctrl-C stops cleanly."
        )
        # With a live broker, fills are booked while the clock waits for the next bars.
        idle = competition.engine.poll_fills
        ticks = clock.ticks(idle=idle, start=first) if broker else clock.ticks(start=first)
        problems = competition.run(_after(competition, ticks), on_tick=_show)
    finally:
        competition.close()  # when it stopped before running; run closes it too
        if server is not None:
            server.terminate()
    return finish_run(competition, problems)


def _corporate_feed(args: argparse.Namespace, market: Any) -> ActionFeed | None:
    """Alpaca's announcements on the Alpaca market. A wall-clock replay has none: its
    recorded dates are relabelled to today's, so no ex-date would fall where it belongs."""
    if args.market != "alpaca":
        return None
    client = corporate_actions_client(ArenaSettings())
    return AlpacaCorporateActions(client, sorted(market.universe))


def _asset_limits(registry: Registry, market: Any, broker: Any) -> AssetLimits | None:
    """What the broker will not short or trade in fractions, read before the start."""
    if broker is None:
        return None
    not_shortable, not_fractionable = broker.asset_limits(sorted(market.universe))
    if not_shortable and registry.competition.rules.allow_short:
        console.print(f"not shortable at the broker: {', '.join(sorted(not_shortable))}")
    return frozenset(not_shortable), frozenset(not_fractionable)


def _prepare_live(
    args: argparse.Namespace, competition: Competition, market: Any, broker: Any, clock: Any
) -> datetime | None:
    """The bar history so far (a live market), and recovery when resuming; returns the
    first minute to tick (the first the warm-up did not cover), if any."""
    first = None
    if args.market == "alpaca":
        # Minutes whose bars are published (the clock's delay), and no later: the clock
        # starts at the first one left, however long the warm-up and the recovery take.
        warmup = warm_history(competition, market.backfill, clock.now() - clock.delay)
        console.print(f"bar history: {warmup.describe()}")
        first = warmup.until
    if args.resume:
        stopped_at = held_after_write_failure(args.data_dir)
        report = competition.recover(broker)
        _print_recovery(report)
        if not report.ok:
            raise ValueError(
                "trading is held: the books and the broker disagree (see above); "
                "fix it, then `arena reconcile --apply`"
            )
        if stopped_at is not None:
            console.print(f"hold lifted: after the failed write of {stopped_at}, the books "
                          "recovered from the ledgers equal the broker")  # fmt: skip
    return first


def _show(report: Any) -> None:
    console.print(
        f"{report.minute:%Y-%m-%d %H:%M}Z bars={report.bars} intents={report.intents} "
        f"blocks={report.blocks} rejected={report.rejections} faults={report.faults}"
    )


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
    require_competition(args.data_dir)  # books to recover: never an empty folder's
    broker, market, _clock = alpaca_components(ArenaSettings(), sorted(args.universe), None)
    plan = CompetitionPlan(registry, market, args.data_dir, broker, strategies=False)
    competition = Competition.open(plan)  # the books alone: no strategy is started
    try:
        held = held_problems(args.data_dir)
        if held:
            errors.print("trading is held: " + "; ".join(held))
        report = competition.recover(broker, dry_run=not args.apply)
    finally:
        competition.close()
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
        if not released:
            require_competition(args.data_dir)  # `off` in the wrong folder is said, too
        console.print("kill switch released" if released else "the kill switch was not thrown")
        return 0
    require_competition(args.data_dir)
    if args.mode == "flatten" and not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("flatten closes every team's positions: confirm with --yes")
        answer = input("Flatten closes every team's positions at market. Type FLATTEN: ")
        if answer.strip() != "FLATTEN":
            console.print("not confirmed: nothing changed")
            return 1
    switch = throw_kill_switch(args.data_dir, KillMode(args.mode), by="cli")
    if running_engine(args.data_dir) is None:
        when = (f"no engine is running on {args.data_dir}: the next one started there "
                "acts on it at its first tick")  # fmt: skip
    else:
        when = "the running engine acts at its next tick"
    console.print(f"kill switch: {switch.mode.value} ({when}); `arena kill-switch off` releases it")
    return 0


def _refuse_if_held(data_dir: Path) -> None:
    """A reconciliation's hold refuses; a failed write's is for recovery to lift (0029)."""
    held = held_problems(data_dir)
    stopped_at = held_after_write_failure(data_dir)
    if held and stopped_at is not None:
        console.print(f"trading was stopped by a failed write of {stopped_at}: recovering the "
                      "books; the hold is lifted if they equal the broker")  # fmt: skip
    elif held:
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
        return wall_clock_market(args.market, args.symbols), None, WallClock(duration=duration)
    if args.market != "alpaca" or args.broker != "alpaca":
        raise ValueError("Alpaca trading needs both --broker alpaca and --market alpaca")
    if not args.universe:
        raise ValueError("--market alpaca needs --universe, e.g. --universe AAPL,MSFT,SPY")
    broker, market, clock = alpaca_components(settings, sorted(args.universe), duration)
    return market, broker, clock


def wall_clock_market(spec: str, symbols: int) -> MarketData:
    """`synthetic` or `replay:PATH`, replayed minute by minute under wall-clock labels."""
    if spec == "synthetic":
        synthetic = SyntheticMarket(symbols=symbols)
        return RelabeledMarket(synthetic, synthetic.minutes(sessions=30))
    if spec.startswith("replay:"):
        replay = ReplayMarket.load(Path(spec.removeprefix("replay:")))
        report_bar_problems(replay)
        return RelabeledMarket(replay, replay.minutes())
    raise ValueError(f"--market must be 'synthetic' or 'replay:PATH', got {spec!r}")
