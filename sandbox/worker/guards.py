"""Runtime guards of restricted strategy code and the builtins it sees.

RestrictedPython rewrites `a.b`, `a[b]`, `for x in a`, `a.b = c`, `x += y` and `print`
into calls of `_getattr_`, `_getitem_`, `_getiter_`, `_write_`, `_inplacevar_` and
`_print_`; this module supplies them. Allowlist first: a strategy reaches its own
objects, allowed modules and plain data; anything that reads files, unpickles,
evaluates strings or reaches the interpreter is refused by name with a SandboxViolation.
This is the second line of defence: library code can still do on a strategy's behalf
what these guards refuse, which is why the worker's OS confinement is the boundary.
"""

from __future__ import annotations

import builtins
import collections
import operator
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from RestrictedPython import PrintCollector, safe_builtins, utility_builtins
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from sandbox.worker.policy import ImportPolicy, attribute_refusal, is_private_name

PRINT_LIMIT = 4000
TRUNCATION_NOTE = "\n[print output truncated at {limit} characters]\n"


class SandboxViolation(Exception):  # noqa: N818 (a refusal, not an error of ours)
    """Strategy code tried something the sandbox refuses; the message names it."""


# Methods that accept a method *name* and look it up themselves (pandas' df.apply("to_csv")).
STRING_DISPATCH: frozenset[str] = frozenset({"apply", "agg", "aggregate", "transform"})
# Kinds of objects never handed to strategy code, whoever exposes them (e.g. a host
# object's socket): checked by the type's module so this module imports none of them.
_FORBIDDEN_VALUE_MODULES = frozenset(
    {"socket", "_socket", "mmap", "_io", "io", "ctypes", "_ctypes"}
)
_FORBIDDEN_VALUE_TYPES = (types.FrameType, types.CodeType, types.TracebackType)
# Exact types that are never a module, a class, a frame or a forbidden object: the
# common answers of attribute reads and indexing skip the checks (subclasses do not).
_PLAIN_VALUE_TYPES = frozenset(
    {int, float, str, bool, bytes, type(None), list, tuple, dict, set, frozenset}
)
INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip


def describe(obj: object) -> str:
    """A short name for messages: `numpy`, `pandas.DataFrame`, `int`."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    cls = obj if isinstance(obj, type) else type(obj)
    top = str(getattr(cls, "__module__", "")).partition(".")[0]
    return cls.__qualname__ if top in ("builtins", "") else f"{top}.{cls.__qualname__}"


def _refuse_namespace(obj: object, doing: str) -> None:
    """Refuse to read a module's or class's `__dict__` or a restricted globals dict."""
    if type(obj) is types.MappingProxyType or (
        type(obj) is dict and ("__builtins__" in obj or "__spec__" in obj)
    ):
        raise SandboxViolation(f"{doing} a namespace (a module's or class's __dict__) is refused")


def guarded_iter(obj: Any) -> Iterator[Any]:
    """`_getiter_`: plain iteration, except over namespaces."""
    _refuse_namespace(obj, "iterating over")
    return iter(obj)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`_apply_`: calls with *args/**kwargs (the arguments were unpacked by Python)."""
    return func(*args, **kwargs)


def _explain_read_only(target: object, error: ValueError) -> None:
    """Turn numpy's terse read-only errors into a message a team can act on."""
    if "read-only" in str(error):
        raise SandboxViolation(
            f"cannot write into a read-only {describe(target)} (the bars are shared and "
            "read-only): work on a copy, e.g. closes = bars[symbol]['close'].copy()"
        ) from None
    raise error


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """`_inplacevar_`: `x += y` and friends."""
    try:
        return INPLACE_OPS[op](target, value)
    except ValueError as error:
        _explain_read_only(target, error)
        raise  # unreachable: _explain_read_only always raises


class _ItemWriter:
    """What `_write_` returns for library containers: items may change, attributes not."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            self._target[key] = value
        except ValueError as error:
            _explain_read_only(self._target, error)

    def __delitem__(self, key: Any) -> None:
        del self._target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        hint = " (use set_axis() or rename())" if name in ("columns", "index", "name") else ""
        raise SandboxViolation(
            f"cannot set {describe(self._target)}.{name}: attributes of library objects "
            f"are read-only in the sandbox{hint}"
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)


class GuardedType:
    """`type` for strategies: `type(x)` and isinstance checks; never class creation."""

    def __call__(self, *args: Any) -> type:
        if len(args) != 1:
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
        return isinstance(obj, type)

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, type)

    def __repr__(self) -> str:
        return "<class 'type'>"


class PrintSink:
    """What a strategy prints during one call, up to `limit` characters."""

    def __init__(self, limit: int = PRINT_LIMIT) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._truncated = False

    def write(self, text: str) -> None:
        room = self.limit - self._size
        if len(text) > room:
            text, self._truncated = text[: max(room, 0)], True
        if text:
            self._parts.append(text)
            self._size += len(text)

    def text(self) -> str:
        body = "".join(self._parts)
        return body + TRUNCATION_NOTE.format(limit=self.limit) if self._truncated else body


class SinkPrintCollector(PrintCollector):
    """RestrictedPython's per-function collector, bounded and feeding the call's sink."""

    def __init__(self, sink: PrintSink, _getattr_: Callable[..., Any] | None = None) -> None:
        super().__init__(_getattr_)
        self._sink = sink
        self._kept = 0

    def write(self, text: str) -> None:
        self._sink.write(text)
        piece = text[: max(self._sink.limit - self._kept, 0)]  # `printed` stays bounded too
        if piece:
            self.txt.append(piece)
            self._kept += len(piece)

    def flush(self) -> None:
        """print(..., flush=True) calls this."""


def _iterable_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """min/max: one argument is an iterable to guard, several are the values."""
    return (guarded_iter(args[0]),) if len(args) == 1 else args


def _guarded_sorted(iterable: Iterable[Any], /, *, key: Any = None, reverse: bool = False) -> Any:
    return sorted(guarded_iter(iterable), key=key, reverse=reverse)


def _guarded_iter_builtin(obj: Any, *sentinel: Any) -> Iterator[Any]:
    return iter(obj, *sentinel) if sentinel else guarded_iter(obj)


def _guarded_reversed(seq: Any) -> Iterator[Any]:
    _refuse_namespace(seq, "reversing")
    return reversed(seq)


# Functions that iterate in C get their iterables through `_getiter_` first (why
# RestrictedPython 9 dropped them). Types (list, tuple, dict, set) stay the real classes
# so isinstance(), subclassing and dict.fromkeys work; `_getiter_` checks containers,
# not items, so guarding their constructors would add nothing.
GUARDED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sorted": _guarded_sorted,
    "zip": lambda *its, strict=False: zip(*map(guarded_iter, its), strict=strict),
    "min": lambda *args, **kw: min(*_iterable_args(args), **kw),
    "max": lambda *args, **kw: max(*_iterable_args(args), **kw),
    "sum": lambda iterable, /, start=0: sum(guarded_iter(iterable), start),
    "any": lambda iterable, /: any(guarded_iter(iterable)),
    "all": lambda iterable, /: all(guarded_iter(iterable)),
    "enumerate": lambda iterable, start=0: enumerate(guarded_iter(iterable), start),
    "map": lambda func, *its: map(func, *map(guarded_iter, its)),
    "filter": lambda func, iterable, /: filter(func, guarded_iter(iterable)),
    "reversed": _guarded_reversed,
    "iter": _guarded_iter_builtin,
}
PLAIN_BUILTINS: dict[str, Any] = {
    "list": list, "tuple": tuple, "dict": dict, "bytes": bytes, "object": object,
    "super": super, "classmethod": classmethod, "staticmethod": staticmethod,
    "property": property, "next": next, "bin": bin, "format": format,
    "NotImplemented": NotImplemented,
    "RecursionError": RecursionError, "type": GuardedType(),
    "set": utility_builtins["set"], "frozenset": utility_builtins["frozenset"],
}  # fmt: skip
# Replaced by guarded versions, or withheld: the worker, not the strategy, ends the process.
_WITHHELD = frozenset({"setattr", "delattr", "_getattr_", "SystemExit", "KeyboardInterrupt"})


def _data_containers() -> tuple[type, ...]:
    """Containers whose *items* strategy code may assign (never their attributes).

    An allowlist, not "anything from numpy": numpy's flags object also takes item
    assignment (`a.flags["WRITEABLE"] = True`). Looked up in sys.modules so the host,
    which checks uploads, need not import numpy or pandas.
    """
    found: list[type] = [dict, list, collections.deque]
    if (numpy := sys.modules.get("numpy")) is not None:
        found.append(numpy.ndarray)
    if (pandas := sys.modules.get("pandas")) is not None:
        found += [pandas.Series, pandas.DataFrame, pandas.core.indexing.NDFrameIndexerBase]
    return tuple(found)


def _strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings in call arguments, looking into lists, tuples and dict values."""
    if isinstance(value, str):
        yield value
    elif depth < 6 and isinstance(value, (list, tuple, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings_in(item, depth + 1)


def _guard_dispatch(method: Callable[..., Any], chain: str) -> Callable[..., Any]:
    """Wrap df.apply/agg/transform so a method *name* passed as a string is checked too."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        for name in _strings_in((args, kwargs)):
            why = attribute_refusal(name) or ("it is private" if name.startswith("_") else None)
            if why is not None:
                raise SandboxViolation(f"{chain}({name!r}) is refused: {why}")
        return method(*args, **kwargs)

    return checked


class Guards:
    """The guards of one loaded strategy: its policy, its own classes and modules, its prints."""

    def __init__(self, policy: ImportPolicy, print_limit: int = PRINT_LIMIT) -> None:
        self.policy = policy
        self.sink = PrintSink(print_limit)
        # Weak: a strategy that defines classes inside generate_signal must not leak them.
        self.team_classes: weakref.WeakSet[type] = weakref.WeakSet()
        self.team_modules: set[types.ModuleType] = set()

    # -- what belongs to the strategy -------------------------------------------------

    def is_team_object(self, obj: object) -> bool:
        """An instance of one of the strategy's classes, or one of those classes."""
        # WeakSet membership hashes its argument: test classes only (arrays are unhashable).
        return type(obj) in self.team_classes or (
            isinstance(obj, type) and obj in self.team_classes
        )

    def owns(self, obj: object, name: str) -> bool:
        """Whether `obj.name` resolves to the strategy's own code or data (not a library's)."""
        if isinstance(obj, types.ModuleType):
            return obj in self.team_modules and name in obj.__dict__
        instance_dict = None
        if type(obj) is super:
            if obj.__self_class__ is None:  # type: ignore[attr-defined]
                return False  # an unbound super(C): nothing to look up
            mro = obj.__self_class__.__mro__  # type: ignore[attr-defined]
            classes = mro[mro.index(obj.__thisclass__) + 1 :]  # type: ignore[attr-defined]
        elif isinstance(obj, type):
            classes = obj.__mro__
        else:
            classes = type(obj).__mro__
            if type(obj) in self.team_classes:
                instance_dict = getattr(obj, "__dict__", None)
        # The first class defining the name wins, as in Python's own lookup: a library
        # base's attribute stays the library's even on a strategy's subclass.
        for klass in classes:
            if name in klass.__dict__:
                return klass in self.team_classes
        return isinstance(instance_dict, dict) and name in instance_dict

    def build_class(self, func: Callable[..., Any], name: str, *bases: Any, **kw: Any) -> Any:
        """`__build_class__`: the class statement, remembering the class as the strategy's."""
        cls = builtins.__build_class__(func, name, *bases, **kw)
        self.team_classes.add(cls)
        return cls

    # -- reading ------------------------------------------------------------------------

    def getattr(self, obj: Any, name: str, default: Any = raise_) -> Any:
        """`_getattr_` and the `getattr` builtin."""
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        chain = f"{obj.__name__}.{name}" if isinstance(obj, types.ModuleType) else None
        if name.startswith("_"):
            if not self._may_read_private(obj, name):
                raise SandboxViolation(
                    f'{chain or describe(obj) + "." + name} is refused: names starting with "_" '
                    "are private (strategies may use their own _names on their own objects)"
                )
            value = getattr(obj, name) if default is raise_ else getattr(obj, name, default)
        else:
            self._check_name(obj, name, chain)
            try:
                value = safer_getattr(obj, name, default)
            except NotImplementedError as error:  # str.format, string.Formatter
                hint = " (use an f-string)" if name in ("format", "format_map") else ""
                raise SandboxViolation(
                    f"{describe(obj)}.{name} is refused: {error}{hint}"
                ) from None
        self._check_value(value, lambda: chain or f"{describe(obj)}.{name}")
        if name in STRING_DISPATCH and callable(value) and not self.owns(obj, name):
            # Any library's apply/agg (also on a strategy's DataFrame subclass), not just
            # objects whose type says "pandas": the check only refuses denied names.
            return _guard_dispatch(value, f"{describe(obj)}.{name}")
        return value

    def _may_read_private(self, obj: object, name: str) -> bool:
        if name == "__init__" and type(obj) is super:
            # super().__init__(...) in the strategy's own classes; never to re-initialise a
            # library object (super(type(m), m).__init__("x") would rename a module).
            return self.is_team_object(obj.__self__)
        return is_private_name(name) and self.owns(obj, name)

    def _check_name(self, obj: Any, name: str, chain: str | None) -> None:
        if name in INSPECT_ATTRIBUTES:
            raise SandboxViolation(
                f"{describe(obj)}.{name} is refused: frames and code are off limits"
            )
        why = attribute_refusal(name)
        if why is not None and not self.owns(obj, name):
            raise SandboxViolation(f"{chain or describe(obj) + '.' + name} is refused: {why}")
        if chain is not None and obj not in self.team_modules:
            # Before getattr: numpy imports submodules lazily in its module __getattr__.
            reason = self.policy.refusal(chain)
            if reason is not None:
                raise SandboxViolation(reason)

    def _check_value(self, value: Any, label: Callable[[], str]) -> None:
        """Refuse values no strategy may hold; `label` names where the value came from.

        The label is built only for a refusal: this runs on every attribute read and
        index of strategy code, and describing the source costs more than the check.
        """
        if type(value) in _PLAIN_VALUE_TYPES:
            return
        if isinstance(value, types.ModuleType):
            if value in self.team_modules:
                return
            reason = self.policy.refusal(value.__name__)
            if reason is not None:
                raise SandboxViolation(
                    reason
                    if (chain := label()) == value.__name__
                    else f"{chain} is the module {reason}"
                )
        elif isinstance(value, type) and issubclass(value, type):
            raise SandboxViolation(
                f"{label()} is refused: it is a metaclass ({value.__name__}), which creates "
                "classes outside the sandbox's guards"
            )
        elif (
            isinstance(value, _FORBIDDEN_VALUE_TYPES)
            or type(value).__module__ in _FORBIDDEN_VALUE_MODULES
        ):
            raise SandboxViolation(f"{label()} is refused: it is a {describe(value)} object")

    def hasattr(self, obj: Any, name: str) -> bool:
        """The `hasattr` builtin: False when missing, SandboxViolation when refused."""
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def getitem(self, obj: Any, key: Any) -> Any:
        """`_getitem_`: plain indexing, except into namespaces, and the value is checked."""
        _refuse_namespace(obj, "indexing")
        value = obj[key]
        self._check_value(value, lambda: f"{describe(obj)}[{key!r}]")
        return value

    # -- writing ------------------------------------------------------------------------

    def write(self, obj: Any) -> Any:
        """`_write_`: what `obj.x = v`, `obj[k] = v` and `del` may act on."""
        if type(obj) in (dict, list, set) or self.is_team_object(obj):
            return obj
        if isinstance(obj, types.ModuleType):
            raise SandboxViolation(
                f"cannot change the module {obj.__name__}: modules are read-only"
            )
        if isinstance(obj, _data_containers()):
            return _ItemWriter(obj)
        raise SandboxViolation(
            f"cannot change {describe(obj)}: strategy code may change its own objects, dicts, "
            "lists and sets, and items of NumPy/pandas data"
        )

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """The `setattr` builtin, under the same rules as `obj.name = value`."""
        self._check_write_name(name)
        setattr(self.write(obj), name, value)

    def delattr(self, obj: Any, name: str) -> None:
        """The `delattr` builtin, under the same rules as `del obj.name`."""
        self._check_write_name(name)
        delattr(self.write(obj), name)

    @staticmethod
    def _check_write_name(name: str) -> None:
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        if name.startswith("__"):
            raise SandboxViolation(f"setting {name} is refused: dunder attributes are off limits")

    # -- printing and the namespace ----------------------------------------------------

    def print_collector(self, _getattr_: Callable[..., Any] | None = None) -> PrintCollector:
        """`_print_`: RestrictedPython makes one per function call; all feed one sink."""
        return SinkPrintCollector(self.sink, _getattr_)

    def builtins(self, import_hook: Callable[..., Any]) -> dict[str, Any]:
        """The `__builtins__` of every module of the strategy."""
        names = {k: v for k, v in safe_builtins.items() if k not in _WITHHELD}
        names.update(PLAIN_BUILTINS)
        names.update(GUARDED_FUNCTIONS)
        names.update(
            {
                "__build_class__": self.build_class,
                "__metaclass__": type,  # RestrictedPython adds metaclass=__metaclass__
                "__import__": import_hook,
                "_getattr_": self.getattr,
                "_getitem_": self.getitem,
                "_getiter_": guarded_iter,
                "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
                "_unpack_sequence_": guarded_unpack_sequence,
                "_write_": self.write,
                "_inplacevar_": inplacevar,
                "_apply_": guarded_apply,
                "_print_": self.print_collector,
                "getattr": self.getattr,
                "hasattr": self.hasattr,
                "setattr": self.setattr,
                "delattr": self.delattr,
            }
        )
        return names
