"""The organiser CLI: `arena <command>` (also `python -m app <command>`).

Every failure the user can fix is one line on stderr and exit status 1; `--debug`
shows the traceback of anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from app.cli_commands import (
    cmd_demo,
    cmd_print_global,
    cmd_print_team,
    cmd_replay,
    cmd_teams_list,
)
from app.cli_data import add_data_commands
from app.cli_live import cmd_kill_switch, cmd_reconcile, cmd_run
from app.cli_sandbox import cmd_doctor, cmd_strategy_check, cmd_strategy_test
from app.cli_web import add_web_commands
from app.competition import DataDirError
from app.ledger.jsonl import LedgerCorruptError
from app.live import LiveConfigError
from app.market.replay import ReplayDataError
from app.registry import RegistryError
from app.settings import ArenaSettings
from app.strategies.sources import StrategySourceError

USER_ERRORS = (
    LiveConfigError,
    RegistryError,
    ReplayDataError,
    DataDirError,
    LedgerCorruptError,
    StrategySourceError,
    ValueError,
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _symbols(text: str) -> set[str]:
    symbols = {s.strip() for s in text.split(",") if s.strip()}
    if not symbols:
        raise argparse.ArgumentTypeError("--symbols needs at least one symbol, e.g. AAPL,MSFT")
    return symbols


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser(settings: ArenaSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="Strategy Arena organiser CLI")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def with_competition(sub: argparse.ArgumentParser, data_dir: Path) -> None:
        sub.add_argument("--registry", type=Path, default=settings.registry)
        sub.add_argument("--data-dir", type=Path, default=data_dir)

    replay = add("replay", cmd_replay, "replay recorded bars through the engine")
    replay.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    with_competition(replay, settings.data_dir)
    replay.add_argument("--start", type=_day, help="first session (YYYY-MM-DD)")
    replay.add_argument("--end", type=_day, help="last session (YYYY-MM-DD)")
    replay.add_argument("--symbols", type=_symbols, help="comma-separated subset, e.g. AAPL,MSFT")
    replay.add_argument("--speed", type=_positive, help="minutes per second (default: flat out)")
    replay.add_argument("--reset", action="store_true", help="replace an earlier run's ledgers")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")

    run = add("run", cmd_run, "run a competition on the wall clock")
    run.add_argument("--market", default="synthetic", help="synthetic | replay:PATH | alpaca")
    run.add_argument(
        "--broker",
        choices=("sim", "alpaca"),
        default="sim",
        help="the simulated broker, or Alpaca (ARENA_ALPACA_* settings)",
    )
    run.add_argument("--universe", type=_symbols, help="symbols to trade with --market alpaca")
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
    with_competition(run, settings.data_dir)

    demo = add("demo", cmd_demo, "the demo competition on a synthetic market, fast")
    demo.add_argument("--minutes", type=int, default=390, help="minutes to play (default 390)")
    demo.add_argument("--speed", type=_positive, default=60.0, help="minutes per second")
    demo.add_argument("--symbols", type=int, default=12, help="synthetic market size")
    for command in (run, demo):
        command.add_argument(
            "--serve", action=argparse.BooleanOptionalAction, default=True,
            help="serve the HTTP API beside the engine (default: yes)",
        )  # fmt: skip
        command.add_argument("--port", type=int, default=8000, help="the API's port")
    with_competition(demo, settings.data_dir / "demo")

    team = add("print-team", cmd_print_team, "a team's status from its ledgers")
    team.add_argument("team_id")
    team.add_argument("--data-dir", type=Path, default=settings.data_dir)
    team.add_argument("--trades", type=int, default=10, help="recent trades to show")

    overall = add("print-global", cmd_print_global, "the leaderboard and the account")
    overall.add_argument("--data-dir", type=Path, default=settings.data_dir)
    overall.add_argument("--registry", type=Path, default=settings.registry)

    add_sandbox_commands(commands, add)

    kill = add("kill-switch", cmd_kill_switch, "halt trading: block, cancel, flatten; or off")
    kill.add_argument("mode", choices=["block", "cancel", "flatten", "off"])
    kill.add_argument("--yes", action="store_true", help="confirm flatten without asking")
    kill.add_argument("--data-dir", type=Path, default=settings.data_dir)

    reconcile = add("reconcile", cmd_reconcile, "recover the books against Alpaca (dry run)")
    reconcile.add_argument("--universe", type=_symbols, required=True, help="e.g. AAPL,MSFT,SPY")
    reconcile.add_argument("--apply", action="store_true", help="write and cancel; lift a hold")
    with_competition(reconcile, settings.data_dir)

    emulator = add("emulator", cmd_emulator, "serve an Alpaca-compatible API over replayed bars")
    emulator.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--faults", help="fault spec, e.g. '429:0.1,timeout:0.02,partial:0.3'")
    emulator.add_argument("--speed", type=_positive, help="replay minutes per second (default: "
                          "the clock moves only through POST /_emulator/advance)")  # fmt: skip
    emulator.add_argument("--start", type=_day)
    emulator.add_argument("--end", type=_day)
    emulator.add_argument("--symbols", type=_symbols)
    emulator.add_argument("--cash", default="100000")
    emulator.add_argument("--rate-limit", type=int, help="requests per minute (Alpaca: 200)")

    teams = commands.add_parser("teams", help="the team registry")
    team_commands = teams.add_subparsers(dest="teams_command", required=True, metavar="COMMAND")
    listing = team_commands.add_parser("list", help="list the registered teams")
    listing.set_defaults(handler=cmd_teams_list)
    listing.add_argument("--registry", type=Path, default=settings.registry)
    add_web_commands(commands, add, team_commands, settings)
    add_data_commands(commands, _day, settings)
    return parser


def add_sandbox_commands(commands: Any, add: Callable) -> None:
    strategy = commands.add_parser("strategy", help="check or try a team's strategy")
    actions = strategy.add_subparsers(dest="strategy_command", required=True, metavar="COMMAND")
    check = actions.add_parser("check", help="static checks; exit 1 listing every problem")
    check.set_defaults(handler=cmd_strategy_check)
    check.add_argument("path", type=Path, help="a .py file or a directory of them")
    check.add_argument("--entry-point", help="the strategy class (default: the one found)")
    check.add_argument("--block", action="append", help="a module to refuse (repeatable)")
    test = actions.add_parser("test", help="run it in the real sandbox over replayed bars")
    test.set_defaults(handler=cmd_strategy_test)
    test.add_argument("path", type=Path)
    test.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    test.add_argument("--minutes", type=int, default=60)
    test.add_argument("--entry-point")
    test.add_argument("--params", help="JSON object handed to __init__")
    test.add_argument("--cash", type=float, default=100_000)
    test.add_argument("--symbols", type=_symbols)
    test.add_argument("--start", type=_day)
    test.add_argument("--end", type=_day)
    test.add_argument("--json", action="store_true", help="one JSON object per minute")
    add("doctor", cmd_doctor, "which sandbox isolation layers are active on this machine")


def cmd_emulator(args: argparse.Namespace) -> int:
    from app.broker.emulator import run_emulator

    settings = ArenaSettings()
    run_emulator(
        args.bars, host=args.host, port=args.port, faults=args.faults, speed=args.speed,
        api_key=settings.emulator_key, secret_key=settings.emulator_secret,
        start=args.start, end=args.end, symbols=sorted(args.symbols) if args.symbols else None,
        cash=args.cash, rate_limit=args.rate_limit,
    )  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings = ArenaSettings()
    args = build_parser(settings).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"arena: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("arena: interrupted; ledgers are flushed and closed", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(
            f"arena: internal error: {type(error).__name__}: {error} (rerun with --debug)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
