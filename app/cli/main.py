"""`arena <command>` (also `python -m app <command>`): the parser and the error contract.

Every failure the user can fix is one line on stderr and exit status 1; `--debug`
shows the traceback of anything unexpected. Each command group lives in its own module
with a `register(commands, settings)`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.alpaca.clients import LiveConfigError
from app.cli import data, demo, emulator, live, replay, strategy, teams, views, web
from app.config.registry import RegistryError
from app.config.settings import ArenaSettings
from app.engine.stop import LedgerWriteError
from app.ledger.jsonl import LedgerCorruptError
from app.market.replay import ReplayDataError
from app.runtime.competition import DataDirError
from app.runtime.write_failure import TradingStoppedError
from app.strategies.sources import StrategySourceError

GROUPS = (replay, demo, live, views, strategy, emulator, teams, web, data)
USER_ERRORS = (
    LiveConfigError,
    RegistryError,
    ReplayDataError,
    DataDirError,
    LedgerCorruptError,
    LedgerWriteError,  # a file the command writes: the path and the cause
    TradingStoppedError,  # a failed write stopped trading (decision 0029)
    StrategySourceError,
    ValueError,
)


def build_parser(settings: ArenaSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="Strategy Arena organiser CLI")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in GROUPS:
        module.register(commands, settings)
    return parser


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
