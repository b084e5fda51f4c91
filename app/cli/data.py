"""The CLI's data commands: `arena data export-qlib` (the bar lake in Qlib's layout)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.arguments import Commands, day, group
from app.cli.output import console
from app.config.settings import ArenaSettings
from app.factors.export import FREQUENCIES, export_qlib


def register(commands: Commands, settings: ArenaSettings) -> None:
    actions = group(commands, "data", "the bar lake: export for offline research")
    export = actions.add_parser(
        "export-qlib",
        help="write the bar lake in Qlib's binary layout (qlib.init(provider_uri=OUT))",
        description="Write the bar lake in Qlib's binary layout; days after an earlier "
        "export are appended, anything else rewrites that frequency.",
    )
    export.set_defaults(handler=cmd_export_qlib)
    export.add_argument("--data-dir", type=Path, default=settings.data_dir)
    export.add_argument("--out", type=Path, required=True, help="the Qlib data directory")
    export.add_argument("--freq", choices=FREQUENCIES, default="1min")
    export.add_argument("--start", type=day, help="first day (YYYY-MM-DD)")
    export.add_argument("--end", type=day, help="last day (YYYY-MM-DD)")


def cmd_export_qlib(args: argparse.Namespace) -> int:
    report = export_qlib(args.data_dir, args.out, args.freq, args.start, args.end)
    how = "appended" if report.appended else "written"
    console.print(
        f"{report.symbols} symbols, {report.positions} {report.freq} calendar positions "
        f"({report.new_positions} {how}) in {report.out}\n"
        f'qlib.init(provider_uri="{report.out}", region="us"); '
        f'D.features(["SPY"], ["$close"], freq="{report.freq}")'
    )
    return 0
