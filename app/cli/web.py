"""`arena serve`: the HTTP API and pages over a data directory, alone or beside the engine."""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.cli.arguments import Commands, command
from app.cli.output import console, show_keys
from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.web.keys import ORGANISER, KeyStore


def register(commands: Commands, settings: ArenaSettings) -> None:
    serve = command(
        commands, "serve", cmd_serve, "serve the HTTP API and pages over a data directory"
    )
    serve.add_argument("--data-dir", type=Path, default=settings.data_dir)
    serve.add_argument("--registry", type=Path, default=settings.registry)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)


def add_serve_options(sub: argparse.ArgumentParser) -> None:
    """--serve/--no-serve and --port, for commands that run the engine."""
    sub.add_argument(
        "--serve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the HTTP API beside the engine (default: yes)",
    )
    sub.add_argument("--port", type=int, default=8000, help="the API's port")


def issue_missing_keys(data_dir: Path, registry_path: Path) -> dict[str, str]:
    """Keys for the registry's teams and the organiser that have none; shown once, here."""
    owners = [t.team_id for t in load_registry(registry_path).teams] + [ORGANISER]
    issued = KeyStore(data_dir).ensure(owners)
    show_keys(issued)
    return issued


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
        [
            sys.executable, "-m", "app", "serve", "--data-dir", str(data_dir),
            "--registry", str(registry), "--port", str(port),
        ],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def serve_if_asked(args: argparse.Namespace) -> Any:
    """`arena serve` next to the engine, unless --no-serve; its keys print once."""
    if not args.serve:
        return None
    server = serve_beside(args.data_dir, args.registry, args.port)
    console.print(f"API: http://127.0.0.1:{args.port}/api/v1/leaderboard (docs at /docs)")
    return server
