"""`arena demo`: the demo competition on a synthetic market, happening where a newcomer can
watch it: fresh every time (new keys, the registry's own strategies, nothing of an earlier
demo), one synthetic session after another at a minute a second until Ctrl-C (or for
`--minutes N`), the terminal saying what happens and where to look. One Ctrl-C or one
SIGTERM stops everything it started."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.live import Live
from rich.text import Text

from app.cli.arguments import Commands, command, positive, with_competition
from app.cli.output import announce_sandbox, console
from app.cli.tables import leaderboard_table
from app.cli.web import add_serve_options, serve_if_asked
from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.engine.clock import ReplayClock
from app.engine.engine import TickReport
from app.market.calendar import SessionCalendar
from app.market.synthetic import SyntheticMarket
from app.runtime.competition import RUN_OUTPUTS, build_competition

NEW_YORK = ZoneInfo("America/New_York")
# Everything a demo leaves in its data directory: the next demo starts without any of it.
DEMO_OUTPUTS = (*RUN_OUTPUTS, "strategies", "keys", "control", "HOLD.json")


def register(commands: Commands, settings: ArenaSettings) -> None:
    demo = command(commands, "demo", cmd_demo, "the demo competition, happening: until Ctrl-C")
    demo.add_argument(
        "--minutes", type=int, help="minutes to play, then stop (default: until Ctrl-C)"
    )
    demo.add_argument(
        "--speed", type=positive, default=1.0, help="market minutes per second (default 1)"
    )
    demo.add_argument("--symbols", type=int, default=12, help="synthetic market size")
    add_serve_options(demo)
    with_competition(demo, settings, settings.data_dir / "demo")


def cmd_demo(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    market = SyntheticMarket(symbols=args.symbols)
    start_fresh(args.data_dir)
    server = serve_if_asked(args)  # prints every team's new key, and the organiser's
    try:
        with stop_on_sigterm():
            competition = build_competition(registry, market, args.data_dir, durability="close")
            announce_sandbox(competition)
            console.print(
                f"[bold]{registry.competition.name}[/]: {len(competition.engine.books)} teams, "
                f"{len(market.universe)} synthetic symbols, {args.speed:g} market minute(s) "
                f"a second{_length(args.minutes)}; ledgers in {args.data_dir}"
            )
            minutes = session_minutes(market, args.minutes)
            watch = DemoWatch(args, competition)
            problems = watch.play(ReplayClock(minutes, args.speed).ticks())
    finally:
        stop(server)
    console.print()  # the live view leaves the cursor at the end of its last line
    console.print(f"Next: arena print-global --data-dir {args.data_dir}")
    return 1 if problems else 0


def start_fresh(data_dir: Path) -> None:
    """Remove what an earlier demo left (its ledgers, uploads, keys, controls), and only that."""
    for name in DEMO_OUTPUTS:
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)


def session_minutes(market: SyntheticMarket, limit: int | None) -> Iterator[datetime]:
    """The market's session minutes, one session after another; `limit` of them, or all."""
    calendar = SessionCalendar()
    day = market.minutes(1)[0].astimezone(NEW_YORK).date()
    played = 0
    while limit is None or played < limit:
        for minute in calendar.session_minutes(day):
            if limit is not None and played >= limit:
                return
            played += 1
            yield minute
        day = calendar.sessions_from(day + timedelta(days=1), 1)[0]


@dataclass
class DemoWatch:
    """The terminal's view of the demo: the minute, what happened so far, the leaderboard."""

    args: argparse.Namespace
    competition: Any
    orders: int = 0
    refused: int = 0
    faults: int = 0

    def play(self, ticks: Iterator[datetime]) -> list[str]:
        with Live(self.view(None), console=console, refresh_per_second=4) as live:

            def shown(report: TickReport) -> None:
                self.orders += report.blocks
                self.refused += report.rejections
                self.faults += report.faults
                live.update(self.view(report.minute))

            try:
                problems = self.competition.run(ticks, on_tick=shown)
            except KeyboardInterrupt:  # the competition finished its books and closed
                problems = []
            live.update(self.view(None, final=True))
        return problems

    def view(self, minute: datetime | None, final: bool = False) -> Group:
        if final:
            when = "final"
        elif minute is None:
            when = "starting"
        else:
            when = f"{minute.astimezone(NEW_YORK):%a %Y-%m-%d %H:%M} New York"
        lines = [
            Text.from_markup(
                f"[bold]{when}[/]  orders sent {self.orders}  signals refused {self.refused}  "
                f"strategy faults {self.faults}"
            )
        ]
        if self.args.serve and not final:
            base = f"http://127.0.0.1:{self.args.port}"
            lines.append(
                Text(f"watch: {base}/ (leaderboard)  {base}/team (a team's key)  {base}/docs")
            )
        if not final:
            lines.append(Text("Ctrl-C stops the demo and everything it started"))
        board = leaderboard_table(self.competition.leaderboard(), "final" if final else "")
        return Group(*lines, board)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM stops the demo as Ctrl-C does: the books are finished, the children stopped."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop(server: subprocess.Popen | None) -> None:
    """The API server beside the demo stops with it."""
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _length(minutes: int | None) -> str:
    return f" for {minutes} minutes" if minutes else ", until Ctrl-C"
