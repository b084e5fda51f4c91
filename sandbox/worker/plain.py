"""What a strategy returns, turned into plain JSON data before it leaves the worker.

Only plain data crosses: dicts with string keys, lists/tuples, str, int, float, bool,
None and numpy scalars. Non-finite floats travel as tagged strings so the host can tell
a team "quantity is NaN" instead of "quantity is missing". Anything else, or too much of
it, is refused in the worker with a message for the team.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_ITEMS = 10_000
MAX_DEPTH = 8
MAX_STRING = 1_000
_FLOAT_TAG = "$float"


class NotPlainDataError(ValueError):
    """The output holds something that is not plain data, or too much of it."""


def to_wire(value: Any) -> Any:
    budget = [MAX_ITEMS]
    return _convert(value, 0, budget)


def _convert(value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise NotPlainDataError(f"output is too large (more than {MAX_ITEMS:,} items)")
    if depth > MAX_DEPTH:
        raise NotPlainDataError(f"output is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool | int | str):
        return value[:MAX_STRING] if isinstance(value, str) else value
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else {_FLOAT_TAG: repr(number)}
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotPlainDataError("a dict in the output has a key that is not a string")
        return {k[:MAX_STRING]: _convert(v, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_convert(v, depth + 1, budget) for v in value]
    raise NotPlainDataError(
        f"output contains a {type(value).__name__}; return dicts, lists, numbers and strings"
    )


def from_wire(value: Any) -> Any:
    """Undo the float tags (host side)."""
    if isinstance(value, dict):
        if len(value) == 1 and _FLOAT_TAG in value and isinstance(value[_FLOAT_TAG], str):
            try:
                return float(value[_FLOAT_TAG])
            except ValueError:
                return value
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value
