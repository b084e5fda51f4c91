"""The builtins strategy code sees besides RestrictedPython's safe ones, and why each is here.

Functions that iterate in C (sorted, zip, min, ...) get their iterables through the
strategy's `_getiter_` first (why RestrictedPython 9 dropped them), so every item they see
was checked. `type` is a stand-in that answers `type(x)` and isinstance checks but never
creates a class. Types (list, tuple, dict, set) stay the real classes so isinstance(),
subclassing and dict.fromkeys work.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from RestrictedPython import utility_builtins

from sandbox.worker.values import SandboxViolation, describe, refuse_namespace

INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip
# Replaced by guarded versions, or withheld: the worker, not the strategy, ends the process.
WITHHELD = frozenset({"setattr", "delattr", "_getattr_", "SystemExit", "KeyboardInterrupt"})


class GuardedType:
    """`type` for strategies: `type(x)` and isinstance checks; never class creation."""

    def __call__(self, *args: Any) -> type:
        if len(args) != 1:  # exact: len() of the call's own argument tuple
            raise SandboxViolation(
                "type() with three arguments creates a class outside the sandbox's guards: "
                "use a class statement"
            )
        cls = type(args[0])
        if issubclass(cls, type):
            raise SandboxViolation(
                f"type() of a class returns its metaclass ({cls.__name__}), which creates "
                "classes outside the sandbox's guards"
            )
        return cls

    def __instancecheck__(self, obj: Any) -> bool:
        return issubclass(type(obj), type)

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, type)

    def __repr__(self) -> str:
        return "<class 'type'>"


PLAIN_BUILTINS: dict[str, Any] = {
    "list": list, "tuple": tuple, "dict": dict, "bytes": bytes, "object": object,
    "super": super, "classmethod": classmethod, "staticmethod": staticmethod,
    "property": property, "next": next, "bin": bin, "format": format,
    "NotImplemented": NotImplemented,
    "RecursionError": RecursionError, "type": GuardedType(),
    "set": utility_builtins["set"], "frozenset": utility_builtins["frozenset"],
}  # fmt: skip


def iterating_functions(guarded_iter: Callable[[Any], Iterator[Any]]) -> dict[str, Any]:
    """sorted, zip, min, ... over `guarded_iter`, the strategy's own `_getiter_`."""

    def min_max_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
        """min/max: one argument is an iterable to guard, several are the values."""
        return (guarded_iter(args[0]),) if len(args) == 1 else args  # exact: as above

    def guarded_sorted(iterable: Iterable[Any], /, *, key: Any = None, reverse: bool = False):
        return sorted(guarded_iter(iterable), key=key, reverse=reverse)

    def guarded_iter_builtin(obj: Any, *sentinel: Any) -> Iterator[Any]:
        if sentinel:  # iter(callable, sentinel): each call's result is checked by _getiter_
            return guarded_iter(iter(obj, *sentinel))
        return guarded_iter(obj)

    return {
        "sorted": guarded_sorted,
        "zip": lambda *its, strict=False: zip(*map(guarded_iter, its), strict=strict),
        "min": lambda *args, **kw: min(*min_max_args(args), **kw),
        "max": lambda *args, **kw: max(*min_max_args(args), **kw),
        "sum": lambda iterable, /, start=0: sum(guarded_iter(iterable), start),
        "any": lambda iterable, /: any(guarded_iter(iterable)),
        "all": lambda iterable, /: all(guarded_iter(iterable)),
        "enumerate": lambda iterable, start=0: enumerate(guarded_iter(iterable), start),
        "map": lambda func, *its: map(func, *map(guarded_iter, its)),
        "filter": lambda func, iterable, /: filter(func, guarded_iter(iterable)),
        "reversed": lambda seq: guarded_iter(reversed(refuse_namespace(seq, "reversing"))),
        "iter": guarded_iter_builtin,
    }


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """`_inplacevar_`: `x += y` and friends."""
    try:
        return INPLACE_OPS[op](target, value)
    except ValueError as error:
        explain_read_only(target, error)
        raise  # unreachable: explain_read_only always raises


def explain_read_only(target: object, error: ValueError) -> None:
    """Turn numpy's terse read-only errors into a message a team can act on."""
    if "read-only" in str(error):
        raise SandboxViolation(
            f"cannot write into a read-only {describe(target)} (the bars are shared and "
            "read-only): work on a copy, e.g. closes = bars[symbol]['close'].copy()"
        ) from None
    raise error
