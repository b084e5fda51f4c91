"""What a strategy returns, turned into plain JSON data before it leaves the worker.

Only plain data crosses: dicts with string keys, lists/tuples, str, int, float, bool,
None and numpy scalars. Non-finite floats travel as tagged strings so the host can tell
a team "quantity is NaN" instead of "quantity is missing". Anything else, or too much of
it, is refused in the worker with a message for the team.

Decisions are made on exact types, and values are read with the base type's own methods
(`str.__getitem__`, `dict.items`, ...): a subclass of str, dict or list written by the team
cannot lie about its contents or its size. The host checks the same limits again
(sandbox.wire.messages): this is where a team gets a readable message, not the boundary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sandbox.wire.messages import FLOAT_TAG, MAX_DEPTH, MAX_ITEMS, MAX_STRING

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_STRING", "NotPlainDataError", "to_wire"]
_WHOLE = slice(None)
_SCALARS = (np.floating, np.integer, np.bool_)


class NotPlainDataError(ValueError):
    """The output holds something that is not plain data, or too much of it."""


def to_wire(value: Any) -> Any:
    """A plain copy of `value` for the wire (iterative: the team decides the depth)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    items = 0
    while stack:
        item, parent, slot, depth = stack.pop()
        items += 1
        if items > MAX_ITEMS:
            raise NotPlainDataError(f"output is too large (more than {MAX_ITEMS:,} items)")
        parent[slot] = _convert(item, depth, stack)
        if items + len(stack) > MAX_ITEMS:  # what is waiting counts: refuse before walking it
            raise NotPlainDataError(f"output is too large (more than {MAX_ITEMS:,} items)")
    return root[0]


def _convert(value: Any, depth: int, stack: list[tuple[Any, Any, Any, int]]) -> Any:
    """The wire form of a scalar, or an empty container whose children go on the stack."""
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {FLOAT_TAG: repr(value)}
    if issubclass(kind, str):
        return str.__getitem__(value, slice(0, MAX_STRING))  # an exact str, whatever kind is
    if issubclass(kind, _SCALARS):
        return _numpy_scalar(value)
    if issubclass(kind, int):  # subclasses: their base type's own value
        return int.__index__(value)
    if issubclass(kind, float):
        return _convert(float.__float__(value), depth, stack)
    if depth >= MAX_DEPTH:
        raise NotPlainDataError(f"output is nested more than {MAX_DEPTH} levels deep")
    if issubclass(kind, dict):
        if dict.__len__(value) > MAX_ITEMS:
            raise NotPlainDataError(f"output is too large (more than {MAX_ITEMS:,} items)")
        pairs = list(dict.items(value))
        copy: Any = {}
        for key, child in pairs:
            if not issubclass(type(key), str):
                raise NotPlainDataError("a dict in the output has a key that is not a string")
            key = str.__getitem__(key, slice(0, MAX_STRING))
            copy[key] = None
            stack.append((child, copy, key, depth + 1))
        return copy
    if issubclass(kind, (list, tuple)):
        size = list.__len__(value) if issubclass(kind, list) else tuple.__len__(value)
        if size > MAX_ITEMS:
            raise NotPlainDataError(f"output is too large (more than {MAX_ITEMS:,} items)")
        children = (
            list.__getitem__(value, _WHOLE)
            if issubclass(kind, list)
            else tuple.__getitem__(value, _WHOLE)
        )
        copy = [None] * len(children)
        stack.extend((child, copy, i, depth + 1) for i, child in enumerate(children))
        return copy
    raise NotPlainDataError(
        f"output contains a {kind.__name__}; return dicts, lists, numbers and strings"
    )


def _numpy_scalar(value: Any) -> Any:
    number = np.generic.item(value)  # numpy's own method, even on a team's subclass
    if type(number) is float:
        return number if math.isfinite(number) else {FLOAT_TAG: repr(number)}
    return number
