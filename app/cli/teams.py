"""`arena teams list|add|rotate-key`: the team registry and the teams' keys."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.table import Table

from app.cli.arguments import Commands, group
from app.cli.output import console, show_keys
from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.web.keys import ORGANISER, KeyStore


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
    document = yaml.safe_load(args.registry.read_text()) if args.registry.exists() else {}
    document = document or {}
    teams = document.setdefault("teams", [])
    if any(t.get("team_id") == args.team_id for t in teams):
        raise ValueError(f"team {args.team_id!r} is already registered")
    teams.append(
        {
            "team_id": args.team_id,
            "name": args.name,
            "strategy": str(args.strategy),
            "entry_point": args.entry_point,
            "initial_cash": args.cash,
        }
    )
    candidate = args.registry.with_suffix(".candidate.yaml")
    candidate.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        load_registry(candidate)  # every rule of the registry, before anything is kept
    except Exception:
        candidate.unlink()
        raise
    candidate.replace(args.registry)
    show_keys({args.team_id: KeyStore(args.data_dir).issue(args.team_id)})
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    if args.team_id != ORGANISER:
        known = {t.team_id for t in load_registry(args.registry).teams}
        if args.team_id not in known:
            raise ValueError(f"no team {args.team_id!r} in {args.registry}")
    show_keys({args.team_id: KeyStore(args.data_dir).issue(args.team_id)})
    console.print("the old key no longer opens anything")
    return 0
