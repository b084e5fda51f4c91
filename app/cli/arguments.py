"""What every command group shares: declaring a command and parsing its common arguments."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from app.config.settings import ArenaSettings

Commands = Any  # argparse's sub-parsers action (a private class)


def command(
    commands: Commands, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
) -> argparse.ArgumentParser:
    """A command whose handler gets the parsed arguments and returns the exit status."""
    sub = commands.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    return sub


def group(commands: Commands, name: str, help_text: str) -> Commands:
    """A command with sub-commands (`arena teams list`)."""
    parent = commands.add_parser(name, help=help_text)
    return parent.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def with_competition(sub: argparse.ArgumentParser, settings: ArenaSettings, data_dir: Path) -> None:
    sub.add_argument("--registry", type=Path, default=settings.registry)
    sub.add_argument("--data-dir", type=Path, default=data_dir)


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def symbols(text: str) -> set[str]:
    found = {s.strip() for s in text.split(",") if s.strip()}
    if not found:
        raise argparse.ArgumentTypeError("--symbols needs at least one symbol, e.g. AAPL,MSFT")
    return found


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
