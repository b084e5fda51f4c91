"""Load a strategy class from a file and build an instance of it."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any


class StrategyLoadError(Exception):
    """The strategy file could not be imported or does not follow the contract."""


def load_strategy(path: Path, entry_point: str, params: dict[str, Any] | None) -> Any:
    """Import `path`, find `entry_point`, and instantiate it with `params`."""
    module = _import_file(path)
    cls = getattr(module, entry_point, None)
    if cls is None:
        raise StrategyLoadError(f"{path.name}: no class named {entry_point!r}")
    if not callable(getattr(cls, "generate_signal", None)):
        raise StrategyLoadError(f"{path.name}: {entry_point} has no generate_signal method")
    try:
        return cls(dict(params or {}))
    except Exception as error:
        raise StrategyLoadError(
            f"{path.name}: {entry_point}(params) raised {trimmed_traceback(error, path)}"
        ) from error


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"arena_strategy_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StrategyLoadError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        source = path.read_bytes()
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)  # trusted demo strategies only; the sandbox replaces this
    except SyntaxError as error:
        raise StrategyLoadError(f"{path.name}:{error.lineno}: syntax error: {error.msg}") from error
    except Exception as error:
        raise StrategyLoadError(
            f"{path.name}: module code raised {trimmed_traceback(error, path)}"
        ) from error
    sys.modules.pop(name, None)
    return module


def trimmed_traceback(error: BaseException, strategy_path: Path) -> str:
    """The exception with only the frames inside the team's own file."""
    frames = [
        f"  {Path(f.filename).name}:{f.lineno} in {f.name}: {f.line or ''}".rstrip()
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve() == strategy_path.resolve()
    ]
    head = f"{type(error).__name__}: {error}"
    return "\n".join([head, *frames]) if frames else head
