"""`arena print-team` and `arena print-global`: the books as the ledgers hold them."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.arguments import Commands, command
from app.cli.output import console
from app.cli.tables import metrics_rows, team_view
from app.config.registry import Registry, RegistryError, load_registry
from app.config.settings import ArenaSettings
from app.ledger import reader
from app.ledger.paths import owner_dir, team_ids
from app.runtime.presence import require_competition


def register(commands: Commands, settings: ArenaSettings) -> None:
    team = command(commands, "print-team", cmd_print_team, "a team's status from its ledgers")
    team.add_argument("team_id")
    team.add_argument("--data-dir", type=Path, default=settings.data_dir)
    team.add_argument("--trades", type=int, default=10, help="recent trades to show")

    overall = command(commands, "print-global", cmd_print_global, "the leaderboard and the account")
    overall.add_argument("--data-dir", type=Path, default=settings.data_dir)
    overall.add_argument("--registry", type=Path, default=settings.registry)


def cmd_print_team(args: argparse.Namespace) -> int:
    require_competition(args.data_dir)
    folder = owner_dir(args.data_dir, args.team_id)
    if not folder.is_dir():
        teams = ", ".join(team_ids(args.data_dir)) or "none with ledgers yet"
        raise ValueError(
            f"no team {args.team_id!r} in the competition in {args.data_dir} (teams: {teams})"
        )
    for renderable in team_view(
        args.team_id,
        reader.latest_portfolio(folder),
        reader.latest_metrics(folder),
        reader.recent_trades(folder, args.trades),
        reader.recent_events(folder, 5),
    ):
        console.print(renderable)
    return 0


def cmd_print_global(args: argparse.Namespace) -> int:
    require_competition(args.data_dir)
    ids = team_ids(args.data_dir)
    if not ids:
        raise ValueError(f"the competition in {args.data_dir} has not written a minute yet")
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


def _team_names(registry_path: Path) -> dict[str, str]:
    try:
        registry: Registry = load_registry(registry_path)
    except RegistryError:
        return {}
    return {t.team_id: t.name for t in registry.teams}
