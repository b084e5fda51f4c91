"""What the commands print: the consoles, progress, the sandbox line, a run's closing lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.tables import leaderboard_table
from app.market.replay import ReplayMarket
from app.runtime.competition import Competition, sandbox_layer_summary

MAX_PROBLEMS_SHOWN = 20


def _console(stderr: bool = False) -> Console:
    """A console; when piped or captured, wide enough that tables do not wrap names."""
    made = Console(stderr=stderr)
    if not made.is_terminal:
        made.width = 140
    return made


console = _console()
errors = _console(stderr=True)


def announce_sandbox(competition: Competition) -> None:
    """One line on the isolation every team got; loud when a layer is missing."""
    active, inactive = sandbox_layer_summary(competition.load_outcomes)
    if inactive:
        errors.print(f"[red]SANDBOX DEGRADED[/]: not active: {'; '.join(inactive)}")
    console.print(f"Sandbox: {len(active)} isolation layers active ({', '.join(active)})")
    failed = {t: o for t, o in competition.load_outcomes.items() if not o.ok}
    for team, outcome in sorted(failed.items()):
        errors.print(f"team {team}: strategy did not load ({outcome.kind}): {outcome.error}")


def finish_run(competition: Competition, problems: list[str]) -> int:
    console.print(leaderboard_table(competition.leaderboard(), "final"))
    repairs = competition.ledger.repairs
    if repairs:
        errors.print(
            f"repaired {len(repairs)} torn ledger line(s): " + "; ".join(map(str, repairs))
        )
    for problem in problems:
        errors.print(f"[red]books do not match:[/] {problem}")
    return 1 if problems else 0


def report_reading(market: ReplayMarket) -> None:
    """The one summary of what a replay load understood, then the rows it skipped."""
    for line in market.reading.lines():
        console.print(line, markup=False, highlight=False)
    report_bar_problems(market)


def report_bar_problems(market: ReplayMarket) -> None:
    problems = market.problems
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        errors.print(f"skipped bar: {problem.file}:{problem.line}: {problem.message}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        errors.print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more skipped bars")


def run_with_progress(
    competition: Competition, ticks: Iterator, total: int, quiet: bool
) -> list[str]:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} min/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, disable=quiet, transient=False) as progress:
        task = progress.add_task("replay", total=total, rate="-")

        def advance(report: Any) -> None:
            progress.advance(task)
            speed = progress.tasks[task].speed
            progress.update(
                task,
                description=f"{report.minute:%Y-%m-%d %H:%M}",
                rate=f"{speed:,.0f}" if speed else "-",
            )

        return competition.run(ticks, on_tick=advance)


def show_keys(issued: dict[str, str]) -> None:
    if not issued:
        return
    console.print("[bold]New API keys[/] (shown once; only their hashes are kept):")
    for owner, key in issued.items():
        console.print(f"  {owner:<16} {key}", markup=False, highlight=False)
