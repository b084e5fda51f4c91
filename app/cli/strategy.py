"""`arena strategy check|test` and `arena doctor`: the sandbox from the organiser's side."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from app.cli.arguments import Commands, command, day, group, symbols
from app.config.registry import CompetitionConfig, Registry, TeamConfig
from app.config.settings import ArenaSettings
from app.engine.lines import EventKind
from app.ledger.jsonl import read_jsonl
from app.market.replay import ReplayMarket
from app.runtime.competition import Competition, CompetitionPlan
from app.strategies.sources import guess_entry_point, main_module
from app.uploads.unpack import read_strategy_path
from sandbox.host.probe import kernel_supports, probe_layers
from sandbox.worker.compiler import check_strategy
from sandbox.worker.policy import ImportPolicy

console = Console(width=140)
LOCAL_TEAM = "local"
_ONE_MINUTE = timedelta(minutes=1)


def register(commands: Commands, settings: ArenaSettings) -> None:
    actions = group(commands, "strategy", "check or try a team's strategy")
    check = actions.add_parser("check", help="static checks; exit 1 listing every problem")
    check.set_defaults(handler=cmd_strategy_check)
    check.add_argument("path", type=Path, help="a .py file, a directory of them or a .zip")
    check.add_argument("--entry-point", help="the strategy class (default: the one found)")
    check.add_argument("--block", action="append", help="a module to refuse (repeatable)")
    test = actions.add_parser("test", help="run it in the real sandbox over replayed bars")
    test.set_defaults(handler=cmd_strategy_test)
    test.add_argument("path", type=Path, help="a .py file, a directory of them or a .zip")
    test.add_argument("--bars", type=Path, required=True, help="CSV/Parquet file or directory")
    test.add_argument("--minutes", type=int, default=60)
    test.add_argument("--entry-point")
    test.add_argument("--params", help="JSON object handed to __init__")
    test.add_argument("--cash", type=float, default=100_000)
    test.add_argument("--symbols", type=symbols)
    test.add_argument("--start", type=day)
    test.add_argument("--end", type=day)
    test.add_argument("--json", action="store_true", help="one JSON object per minute")
    command(
        commands, "doctor", cmd_doctor, "which sandbox isolation layers are active on this machine"
    )


def cmd_strategy_check(args: argparse.Namespace) -> int:
    files = read_strategy_path(args.path).sources
    entry_point = args.entry_point or guess_entry_point(files)
    policy = ImportPolicy(blocked=frozenset(args.block or ()))
    problems = check_strategy(files, entry_point, policy)
    for problem in problems:
        console.print(str(problem), markup=False, highlight=False)
    if problems:
        console.print(f"{len(problems)} problem(s) in {args.path}", markup=False)
        return 1
    console.print(f"OK: {args.path} ({main_module(files)}: {entry_point}) passes the static checks")
    return 0


def cmd_strategy_test(args: argparse.Namespace) -> int:
    """Run one strategy in the real sandbox over replayed bars and show what it did."""
    files = read_strategy_path(args.path).sources
    entry_point = args.entry_point or guess_entry_point(files)
    market = ReplayMarket.load(args.bars, args.symbols, args.start, args.end)
    minutes = market.minutes()[: args.minutes]
    if not minutes:
        raise ValueError(f"{args.bars}: no bars to test with")
    with tempfile.TemporaryDirectory(prefix="arena-test-") as tmp:
        registry = _one_team_registry(Path(tmp), files, args, entry_point)
        recorder: _Recorder | None = None

        def record(runner: Any) -> _Recorder:
            nonlocal recorder
            recorder = _Recorder(runner)
            return recorder

        plan = CompetitionPlan(
            registry, market, Path(tmp) / "data", durability="close", wrap_runner=record
        )
        competition = Competition.open(plan)
        outcome = competition.load_outcomes[LOCAL_TEAM]
        if not outcome.ok:
            competition.close()
            raise ValueError(f"the strategy did not load ({outcome.kind}):\n{outcome.error}")
        competition.run(minutes)
        assert recorder is not None
        report = _minute_report(Path(tmp) / "data", recorder.outputs)
    _print_report(report, args.json)
    return 0


def _one_team_registry(
    folder: Path, files: dict[str, str], args: argparse.Namespace, entry_point: str
) -> Registry:
    """A registry of the one team, in memory: its code is the files as the upload took
    them, written out as a package (what the competition reads a strategy from)."""
    package = folder / "strategy"
    for name, source in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(source, encoding="utf-8")
    team = TeamConfig(
        team_id=LOCAL_TEAM,
        name="Local test",
        strategy=package,
        entry_point=entry_point,
        initial_cash=args.cash,
        params=json.loads(args.params) if args.params else {},
    )
    return Registry(path=folder / "registry.yaml", competition=CompetitionConfig(), teams=(team,))


class _Recorder:
    """Keeps what the strategy returned each minute (the ledgers keep the rest)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.outputs: dict[str, Any] = {}

    def run_tick(self, tick: Any, *args: Any) -> Any:
        results = self.inner.run_tick(tick, *args)
        result = results.get(LOCAL_TEAM)
        if result is not None:
            self.outputs[(tick.replace(second=0) + _ONE_MINUTE).isoformat()] = result
        return results

    def close(self) -> None:
        self.inner.close()


def _minute_report(data_dir: Path, outputs: dict[str, Any]) -> list[dict[str, Any]]:
    team_dir = data_dir / "team" / LOCAL_TEAM
    notes: dict[str, list[dict]] = defaultdict(list)
    for kind in ("events", "trades"):
        path = team_dir / f"{kind}.jsonl"
        if path.exists():
            for record in read_jsonl(path):
                notes[record["timestamp"]].append({"ledger": kind, **record})
    report = []
    for as_of, result in outputs.items():
        stamp = as_of.replace("+00:00", "Z")
        report.append(
            {
                "minute": stamp,
                "signals": result.output,
                "error": result.error,
                "error_kind": result.error_kind,
                "printed": result.printed,
                "ms": round(result.duration_ms, 2),
                "rejections": [
                    n["message"] for n in notes[stamp] if n.get("kind") == EventKind.SIGNAL_REFUSED
                ],
                "fills": [
                    f"{n['side']} {n['quantity']} {n['symbol']} @ {n['price']}"
                    for n in notes[stamp]
                    if n["ledger"] == "trades"
                ],
            }
        )
    return report


def _print_report(report: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for line in report:
            print(orjson.dumps(line).decode())
        return
    for line in report:
        if not (line["signals"] or line["error"] or line["printed"] or line["rejections"]):
            continue
        console.print(f"[bold]{line['minute']}[/] ({line['ms']} ms)")
        for key in ("signals", "rejections", "fills"):
            if line[key]:
                console.print(f"  {key}: {line[key]}", markup=False)
        if line["printed"]:
            console.print(f"  printed: {line['printed'].rstrip()}", markup=False)
        if line["error"]:
            console.print(f"  [red]{line['error_kind']}:[/] {line['error']}")
    calls = len(report)
    faults = sum(1 for line in report if line["error"])
    console.print(
        f"{calls} minutes, {faults} faults, {sum(len(line['fills']) for line in report)} fills"
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    """Which isolation layers this machine gives each worker."""
    supported = kernel_supports()
    report = probe_layers()
    table = Table(title="Sandbox isolation layers on this machine")
    for column in ("layer", "kernel supports", "active in a worker", "detail"):
        table.add_column(column)
    for layer in report.layers:
        table.add_row(layer.name, _yes(supported.get(layer.name)), _yes(layer.active), layer.detail)
    console.print(table)
    checks = Table(title="What a hardened worker tried, and what happened")
    for column in ("attempt", "refused", "outcome"):
        checks.add_column(column)
    for check in report.checks:
        checks.add_row(check.name, _yes(check.active), check.detail)
    console.print(checks)
    missing = [
        layer.name for layer in report.layers if supported.get(layer.name) and not layer.active
    ]
    if missing:
        console.print(f"[red]supported but NOT active: {', '.join(missing)}[/]")
        return 1
    return 0


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
