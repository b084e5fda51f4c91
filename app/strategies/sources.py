"""A strategy's source files as text: the only form in which code reaches the sandbox."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from sandbox.worker.compiler import StrategyRejected, parse_module

MAX_TOTAL_BYTES = 5 * 1024 * 1024


class StrategySourceError(ValueError):
    """The strategy's files cannot be read as a strategy."""


def read_strategy_files(path: Path) -> dict[str, str]:
    """`{relative path: source}` for a single `.py` file or every `.py` under a directory."""
    if path.is_file():
        files = [(path.name, path)]
    elif path.is_dir():
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*.py"))
    else:
        raise StrategySourceError(f"{path}: no such file or directory")
    if not files:
        raise StrategySourceError(f"{path}: no .py files")
    total = sum(p.stat().st_size for _, p in files)
    if total > MAX_TOTAL_BYTES:
        raise StrategySourceError(f"{path}: {total:,} bytes of source is more than allowed")
    try:
        return {name: p.read_text(encoding="utf-8") for name, p in files}
    except UnicodeDecodeError as error:
        raise StrategySourceError(f"{path}: not UTF-8 text: {error}") from error


def version_of(files: dict[str, str]) -> str:
    """A content hash: the same code always has the same version tag."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()[:12]


def main_module(files: dict[str, str]) -> str:
    if "strategy.py" in files:
        return "strategy.py"
    if len(files) == 1:
        return next(iter(files))
    raise StrategySourceError("a package of several files needs a strategy.py main module")


def guess_entry_point(files: dict[str, str]) -> str:
    """The one class of the main module that has a generate_signal method."""
    main = main_module(files)
    try:
        tree = parse_module(main, files[main])  # the sandbox's bounded parse: no crash here
    except StrategyRejected as rejected:
        raise StrategySourceError(str(rejected)) from None
    classes = [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(item, ast.FunctionDef) and item.name == "generate_signal"
            for item in node.body
        )
    ]
    if len(classes) != 1:
        found = ", ".join(classes) or "none"
        raise StrategySourceError(
            f"cannot tell the entry point: classes with generate_signal: {found}; "
            "name it with --entry-point"
        )
    return classes[0]
