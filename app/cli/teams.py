"""`arena teams list|add|rotate-key`: the team registry and the teams' keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from app.cli.arguments import Commands, group
from app.cli.output import console, show_keys
from app.config.registry import Registry, load_registry
from app.config.registry_edit import with_team, write_registry
from app.config.settings import ArenaSettings
from app.runtime.presence import competitions_inside, is_competition
from app.strategies.sources import StrategySourceError, guess_entry_point, read_strategy_files
from app.web.keys import ORGANISER, KeyStore
from sandbox.worker.compiler import check_strategy
from sandbox.worker.policy import ImportPolicy


def register(commands: Commands, settings: ArenaSettings) -> None:
    actions = group(commands, "teams", "the team registry")
    listing = actions.add_parser("list", help="list the registered teams")
    listing.set_defaults(handler=cmd_teams_list)
    listing.add_argument("--registry", type=Path, default=settings.registry)

    team_add = actions.add_parser("add", help="register a team and show its key once")
    team_add.set_defaults(handler=cmd_teams_add)
    team_add.add_argument("team_id")
    team_add.add_argument("--name", required=True)
    team_add.add_argument("--strategy", type=Path, required=True, help="its first strategy file")
    team_add.add_argument("--entry-point", default="Strategy")
    team_add.add_argument("--cash", type=int, default=100_000)
    team_add.add_argument("--registry", type=Path, default=settings.registry)
    team_add.add_argument("--data-dir", type=Path, default=settings.data_dir)

    rotate = actions.add_parser("rotate-key", help="a new key for a team (or organiser)")
    rotate.set_defaults(handler=cmd_rotate_key)
    rotate.add_argument("team_id", help=f"a team id, or {ORGANISER}")
    rotate.add_argument("--registry", type=Path, default=settings.registry)
    rotate.add_argument("--data-dir", type=Path, default=settings.data_dir)


def cmd_teams_list(args: argparse.Namespace) -> int:
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


def cmd_teams_add(args: argparse.Namespace) -> int:
    """Check the strategy and the new registry by every rule, then keep both and the key."""
    entry = {
        "team_id": args.team_id,
        "name": args.name,
        "strategy": _as_written(args.strategy, args.registry),
        "entry_point": args.entry_point,
        "initial_cash": args.cash,
    }
    text, registry = with_team(args.registry, entry)
    _check_entry_point(args.strategy, args.entry_point, registry)
    write_registry(args.registry, text)
    show_keys({args.team_id: KeyStore(args.data_dir).issue(args.team_id)})
    _note_competition_elsewhere(args.data_dir)
    return 0


def _note_competition_elsewhere(data_dir: Path) -> None:
    """A key opens the server on its own data directory: say so when the competition that
    runs is in a folder inside it (the demo's `data/demo`), not there."""
    inside = competitions_inside(data_dir)
    if inside and not is_competition(data_dir):
        where = " or ".join(f"--data-dir {child}" for child in inside)
        console.print(
            f"note: the key is kept in {data_dir}, which holds no competition; one is in "
            f"{', '.join(str(c) for c in inside)}: pass {where} for a key that opens it",
            markup=False,
        )


def _as_written(strategy: Path, registry: Path) -> str:
    """The strategy's path as the registry holds it: relative to the registry's folder
    (where it is read from) when it lies under it, else absolute."""
    if not strategy.is_file():
        raise ValueError(f"--strategy {strategy}: no such file")
    resolved, base = strategy.resolve(), registry.resolve().parent
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(resolved)


def _check_entry_point(strategy: Path, entry_point: str, registry: Registry) -> None:
    """The static checks `arena strategy check` runs, with the registry's blocked imports."""
    files = read_strategy_files(strategy)
    policy = ImportPolicy(blocked=frozenset(registry.competition.sandbox.blocked_imports))
    problems = [str(p) for p in check_strategy(files, entry_point, policy)]
    if not problems:
        return
    try:
        found = guess_entry_point(files)
    except StrategySourceError:
        found = None
    if found is not None and found != entry_point:
        problems.append(f"the strategy class looks like {found}: pass --entry-point {found}")
    raise StrategySourceError(
        f"--strategy {strategy} (entry point {entry_point}) fails the static checks; "
        "nothing was registered:\n" + "\n".join(problems)
    )


def cmd_rotate_key(args: argparse.Namespace) -> int:
    if args.team_id != ORGANISER:
        known = {t.team_id for t in load_registry(args.registry).teams}
        if args.team_id not in known:
            raise ValueError(f"no team {args.team_id!r} in {args.registry}")
    show_keys({args.team_id: KeyStore(args.data_dir).issue(args.team_id)})
    console.print("the old key no longer opens anything")
    _note_competition_elsewhere(args.data_dir)
    return 0
