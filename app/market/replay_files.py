"""A replay input's files: which ones, which symbol each holds, their raw rows.

A directory holds one file per symbol (`SYMBOL.csv` or `SYMBOL.parquet`, the symbol its
stem); a single file is one long table with a `symbol` column. A suffix on every symbol
(`AAPL_1m`: no ticker has an underscore) is stripped, said in a warning unless the
`--symbol-suffix` flag said it first.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.market.replay_problems import BarProblem, ReplayDataError

SUFFIXES = (".csv", ".parquet")
TIMESTAMP_ALIASES = ("datetime", "date", "time")  # yfinance writes "Datetime"
SHOWN_NAMES = 3


@dataclass(frozen=True, slots=True)
class Naming:
    """The suffix stripped from every symbol, whether it was found rather than told, and
    the names kept that look suffixed all the same (an underscore, but not on every name)."""

    suffix: str = ""
    detected: bool = False
    suffixed: tuple[str, ...] = ()

    def strip(self, name: str) -> str:
        return name[: -len(self.suffix)] if self.suffix and name.endswith(self.suffix) else name

    def warning(self, examples: Iterable[str]) -> str | None:
        if self.suffixed:
            return (
                f"symbol(s) with an underscore, which no ticker has: {_shown(self.suffixed)}: "
                "kept as named, as no suffix is on every symbol (rename them, or pass "
                "--symbol-suffix SUFFIX if every name ends in SUFFIX; --symbol-suffix '' "
                "keeps the names without this warning)"
            )
        if not self.detected:
            return None
        names = sorted(examples)
        return (
            f"every symbol ends in {self.suffix!r} ({_shown(names)}): stripped, so {names[0]} is "
            f"{self.strip(names[0])}; pass --symbol-suffix {self.suffix} to say so, or "
            "--symbol-suffix '' to keep the names"
        )


def _shown(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")


def decide_naming(names: Iterable[str], given: str | None, where: str) -> Naming:
    """The suffix `--symbol-suffix` gave (each name must end in it), or the one every name
    shares from its first underscore on, or none (naming the names that have one)."""
    names = sorted({n for n in names if n})
    if given is not None:
        wrong = [n for n in names if given and (not n.endswith(given) or n == given)]
        if wrong:
            raise ReplayDataError(f"{where}: --symbol-suffix: {wrong[0]} does not end in {given!r}")
        return Naming(given)
    tails = {n[n.find("_") :] if n.find("_") > 0 else "" for n in names}
    if len(tails) == 1 and (tail := tails.pop()):
        return Naming(tail, detected=True)
    return Naming(suffixed=tuple(n for n in names if n.find("_") > 0))


def directory_sources(
    path: Path, wanted: set[str] | None, suffix: str | None
) -> tuple[list[tuple[Path, str]], Naming]:
    """The files to read, each with its symbol, and how the stems became symbols."""
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        zips = [p.name for p in path.iterdir() if p.suffix.lower() == ".zip"]
        hint = (
            f" (found {len(zips)} .zip file(s) such as {zips[0]}: archives such as LEAN's are "
            "not read; unpack them into CSV with a header timestamp,open,high,low,close,volume)"
            if zips
            else ""
        )
        raise ReplayDataError(f"{path}: no .csv or .parquet files{hint}")
    naming = decide_naming((f.stem.strip() for f in files), suffix, str(path))
    by_symbol: dict[str, Path] = {}
    for file in files:
        symbol = naming.strip(file.stem.strip())
        if symbol in by_symbol:
            raise ReplayDataError(
                f"{path}: two files for {symbol}: {by_symbol[symbol].name}, {file.name}"
            )
        by_symbol[symbol] = file
    if wanted is not None and (missing := wanted - by_symbol.keys()):
        raise ReplayDataError(f"{path}: no file for symbol(s) {', '.join(sorted(missing))}")
    chosen = by_symbol if wanted is None else {s: by_symbol[s] for s in wanted}
    return [(file, symbol) for symbol, file in sorted(chosen.items())], naming


def read_raw(
    file: Path, reads: Callable[[str], bool]
) -> tuple[pd.DataFrame, np.ndarray, list[BarProblem]]:
    """Raw columns (header names lower-cased, a timestamp alias renamed), each row's line
    number, and malformed rows. `reads` says which (lower-cased) names a replay reads: one
    of those named twice, letter case aside, is an error; another keeps its first column."""
    try:
        if file.suffix.lower() == ".parquet":
            raw = pq.read_table(file).to_pandas()
            header = [str(c) for c in raw.columns]
            raw.columns = pd.RangeIndex(len(header))
            lines, problems = np.arange(2, len(raw) + 2), []
        else:
            header, raw, lines, problems = _read_csv(file)
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReplayDataError(f"{file}: cannot read: {reason}") from exc
    raw = _named(file, header, raw, reads)
    if "timestamp" not in raw.columns:
        alias = next((a for a in TIMESTAMP_ALIASES if a in raw.columns), None)
        if alias is not None:
            raw = raw.rename(columns={alias: "timestamp"})
    return raw, lines, problems


def _named(
    file: Path, header: list[str], raw: pd.DataFrame, reads: Callable[[str], bool]
) -> pd.DataFrame:
    """`raw` (columns by position) named by its lower-cased header, each name once."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().lower(), []).append(i)
    twice = [
        f"{name} ({', '.join(header[i].strip() for i in found)})"
        for name, found in positions.items()
        if len(found) > 1 and reads(name)
    ]
    if twice:
        raise ReplayDataError(
            f"{file}: column(s) named more than once (letter case aside): {'; '.join(twice)}; "
            "keep one of each (the replay cannot tell which is meant)"
        )
    raw = raw.iloc[:, [found[0] for found in positions.values()]]
    raw.columns = list(positions)
    return raw


def _read_csv(file: Path) -> tuple[list[str], pd.DataFrame, np.ndarray, list[BarProblem]]:
    """The header as written, the rows' columns by position, their lines, bad rows."""
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: list[BarProblem] = []
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ReplayDataError(f"{file}: empty file, no header line")
        last = reader.line_num
        for row in reader:
            # A quoted field may span lines: a row starts right after the previous one ended.
            line, last = last + 1, reader.line_num
            if len(row) == len(header):
                rows.append(row)
                lines.append(line)
            elif row:  # blank lines are not rows
                message = f"expected {len(header)} fields, got {len(row)}"
                problems.append(BarProblem(str(file), line, message))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    raw = pd.DataFrame(dict(enumerate(columns)), columns=range(len(header)), dtype=str)
    return header, raw, np.asarray(lines, dtype=np.int64), problems
