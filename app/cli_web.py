"""The CLI's web and key commands: `arena serve`, `arena teams add`, `arena teams rotate-key`."""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from app.registry import load_registry
from app.settings import ArenaSettings
from app.web.keys import ORGANISER, KeyStore

console = Console()


def add_web_commands(commands: Any, add: Callable, team_commands: Any, settings: Any) -> None:
    serve = add("serve", cmd_serve, "serve the HTTP API and pages over a data directory")
    serve.add_argument("--data-dir", type=Path, default=settings.data_dir)
    serve.add_argument("--registry", type=Path, default=settings.registry)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    team_add = team_commands.add_parser("add", help="register a team and show its key once")
    team_add.set_defaults(handler=cmd_teams_add)
    team_add.add_argument("team_id")
    team_add.add_argument("--name", required=True)
    team_add.add_argument("--strategy", type=Path, required=True, help="its first strategy file")
    team_add.add_argument("--entry-point", default="Strategy")
    team_add.add_argument("--cash", type=int, default=100_000)
    team_add.add_argument("--registry", type=Path, default=settings.registry)
    team_add.add_argument("--data-dir", type=Path, default=settings.data_dir)

    rotate = team_commands.add_parser("rotate-key", help="a new key for a team (or organiser)")
    rotate.set_defaults(handler=cmd_rotate_key)
    rotate.add_argument("team_id", help=f"a team id, or {ORGANISER}")
    rotate.add_argument("--registry", type=Path, default=settings.registry)
    rotate.add_argument("--data-dir", type=Path, default=settings.data_dir)


def issue_missing_keys(data_dir: Path, registry_path: Path) -> dict[str, str]:
    """Keys for the registry's teams and the organiser that have none; shown once, here."""
    owners = [t.team_id for t in load_registry(registry_path).teams] + [ORGANISER]
    issued = KeyStore(data_dir).ensure(owners)
    show_keys(issued)
    return issued


def show_keys(issued: dict[str, str]) -> None:
    if not issued:
        return
    console.print("[bold]New API keys[/] (shown once; only their hashes are kept):")
    for owner, key in issued.items():
        console.print(f"  {owner:<16} {key}", markup=False, highlight=False)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.web import create_app

    issue_missing_keys(args.data_dir, args.registry)
    settings = ArenaSettings(data_dir=args.data_dir, registry=args.registry)
    console.print(f"API on http://{args.host}:{args.port} (docs at /docs)")
    app = create_app(settings)
    gc.freeze()  # the app and its libraries are never garbage: keep them out of collections
    # asyncio's own loop, not uvloop: under 64 busy connections uvloop served some of them
    # 100+ ms late (p99 133 ms against 17 ms at the same req/s; decision 0017).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", loop="asyncio")
    return 0


def serve_beside(data_dir: Path, registry: Path, port: int) -> subprocess.Popen:
    """`arena serve` in its own process: the API never competes with the engine's GIL."""
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--data-dir", str(data_dir),
         "--registry", str(registry), "--port", str(port)],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


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
