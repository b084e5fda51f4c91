"""`arena emulator`: an Alpaca-compatible API over replayed bars."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.arguments import Commands, command, day, positive, symbols
from app.config.settings import ArenaSettings
from app.market.corporate_file import load_actions


def register(commands: Commands, settings: ArenaSettings) -> None:
    emulator = command(
        commands, "emulator", cmd_emulator, "serve an Alpaca-compatible API over replayed bars"
    )
    emulator.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--faults", help="fault spec, e.g. '429:0.1,timeout:0.02,partial:0.3'")
    emulator.add_argument(
        "--speed",
        type=positive,
        help="replay minutes per second (default: the clock moves only through "
        "POST /_emulator/advance)",
    )
    emulator.add_argument("--start", type=day)
    emulator.add_argument("--end", type=day)
    emulator.add_argument("--symbols", type=symbols)
    emulator.add_argument("--cash", default="100000")
    emulator.add_argument("--rate-limit", type=int, help="requests per minute (Alpaca: 200)")
    emulator.add_argument(
        "--actions", type=Path, help="corporate actions (CSV/JSON: symbol,kind,ex_date,amount)"
    )


def cmd_emulator(args: argparse.Namespace) -> int:
    from app.broker.emulator import run_emulator

    settings = ArenaSettings()
    run_emulator(
        args.bars,
        host=args.host,
        port=args.port,
        faults=args.faults,
        speed=args.speed,
        api_key=settings.emulator_key,
        secret_key=settings.emulator_secret,
        start=args.start,
        end=args.end,
        symbols=sorted(args.symbols) if args.symbols else None,
        cash=args.cash,
        rate_limit=args.rate_limit,
        corporate_actions=load_actions(args.actions) if args.actions else (),
    )
    return 0
