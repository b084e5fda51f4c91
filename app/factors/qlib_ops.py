"""Qlib's operators over the host's bar window: expression trees become Qlib objects by
class name (never `eval`), and Qlib reads bars from the window through a feature provider
registered in memory (no files, no `qlib.init`, no network).

Qlib keeps every loaded series in a process-wide cache (`qlib.data.cache.H["f"]`) keyed on
(expression, instrument, start, end, frequency) and a bar window moves every minute, so the
cache is cleared whenever the window changes: a stale tick is never served. Qlib is an
optional extra; `available()` says whether it can be used here.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from typing import Any

import numpy as np
import pandas as pd

from app.factors.expressions import Field, Node, Op
from app.factors.window import FeatureWindow

FREQ = "1min"
ENABLE_HINT = (
    "factor expressions need Qlib on the host: the organiser installs it with `make qlib` "
    "(pip install -e '.[qlib]' then pip install --no-deps pyqlib==0.9.7; see the README)"
)
_lock = threading.Lock()
_provider: Any = None


@functools.cache
def available() -> bool:
    """Whether Qlib is installed (looked up once: it is asked on every request)."""
    return importlib.util.find_spec("qlib") is not None


def prepare() -> Any:
    """Import Qlib and register the window's feature provider, once; return the provider."""
    global _provider
    with _lock:
        if _provider is None:
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            from qlib.data.data import FeatureD, FeatureProvider

            class WindowFeatures(FeatureProvider):
                """Qlib asks for `$close` of an instrument between two calendar positions."""

                window: FeatureWindow | None = None

                def feature(
                    self, instrument: str, field: str, start_index: int, end_index: int, freq: str
                ) -> pd.Series:
                    assert self.window is not None, "no window set"
                    values = self.window.column(instrument, field.removeprefix("$"))
                    index = pd.RangeIndex(start_index, end_index + 1)
                    return pd.Series(values[start_index : end_index + 1], index=index)

            _provider = WindowFeatures()
            FeatureD.register(_provider)
            import qlib.data.ops  # noqa: F401 - the operators, loaded now rather than mid-tick
        return _provider


def activate(window: FeatureWindow) -> None:
    """Evaluate over `window` from now on; Qlib's cached series of another window are dropped."""
    from qlib.data.data import FeatureD

    provider = prepare()
    if provider.window is not window or FeatureD.__dict__.get("_provider") is not provider:
        from qlib.data.cache import H

        FeatureD.register(provider)  # again, in case a qlib.init in this process replaced it
        H["f"].clear()
        provider.window = window


def build(tree: Node) -> Any:
    """The Qlib object for a checked tree (operators looked up by name in qlib.data.ops)."""
    from qlib.data import ops  # imported by prepare() already: these are look-ups
    from qlib.data.base import Feature

    if isinstance(tree, Field):
        return Feature(tree.name)
    if isinstance(tree, Op):
        args = [build(arg) for arg in tree.args]
        return getattr(ops, tree.name)(*args)
    return int(tree) if isinstance(tree, float) and tree.is_integer() else tree


def evaluate(built: Any, symbol: str, length: int) -> np.ndarray:
    """`built` for `symbol` at every position of the current window (a float64 copy)."""
    if length == 0:
        return np.array([], dtype=np.float64)
    series = built.load(symbol, 0, length - 1, FREQ)
    values = np.full(length, np.nan)
    positions = series.index.to_numpy()
    values[positions] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values[~np.isfinite(values)] = np.nan  # inf (a division by zero) means "no value" too
    return values
