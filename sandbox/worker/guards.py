"""Runtime guards of restricted strategy code and the builtins it sees.

RestrictedPython rewrites `a.b`, `a[b]`, `for x in a`, `a.b = c`, `x += y` and `print`
into calls of `_getattr_`, `_getitem_`, `_getiter_`, `_write_`, `_inplacevar_` and
`_print_`, and (sandbox.worker.policy) every call `f(x)` into `_apply_(f, x)`; this module
supplies them. Allowlist first: a strategy reaches its own objects, allowed modules and
plain data; anything that reads files, unpickles, evaluates strings or reaches the
interpreter is refused by name with a SandboxViolation, and every value it obtains passes
sandbox.worker.values. Library registries (module and class attributes that are dicts,
lists or sets, like `copy.dispatch_table`) are handed out as copies.

This is the second line of defence: library code can still do on a strategy's behalf
what these guards refuse, which is why the worker's OS confinement is the boundary.
"""

from __future__ import annotations

import builtins
import collections
import functools
import sys
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from RestrictedPython import PrintCollector, safe_builtins
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from sandbox.worker.policy import ImportPolicy, attribute_refusal, is_private_name
from sandbox.worker.printing import PRINT_LIMIT, TRUNCATION_NOTE, PrintSink, SinkPrintCollector
from sandbox.worker.restricted_builtins import (
    PLAIN_BUILTINS,
    WITHHELD,
    GuardedType,
    explain_read_only,
    inplacevar,
    iterating_functions,
)
from sandbox.worker.values import (
    SandboxViolation,
    ValueCheck,
    describe,
    exact_strings,
    exact_strings_in,
    function_names_in,
    refuse_namespace,
)

__all__ = [
    "PRINT_LIMIT", "TRUNCATION_NOTE", "GuardedType", "Guards", "PrintSink", "SandboxViolation",
    "describe",
]  # fmt: skip

# Methods that accept a method *name* and look it up themselves (pandas' df.apply("to_csv")).
# pivot_table and crosstab hand their aggfunc to groupby's agg.
STRING_DISPATCH: frozenset[str] = frozenset(
    {"apply", "agg", "aggregate", "transform", "pivot_table", "crosstab"}
)
# What the strategy may iterate without a check of each item: they hold ints or strings.
_PLAIN_ITERABLES = frozenset({range, str, bytes})
# Registries a library keeps in a module or class attribute: a strategy gets a copy.
_MUTABLE_CONTAINERS = (dict, list, set, bytearray, collections.deque)


class _ItemWriter:
    """What `_write_` returns for library containers: items may change, attributes not."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            self._target[key] = value
        except ValueError as error:
            explain_read_only(self._target, error)

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


def _copy_of(container: Any) -> Any:
    """A plain copy of a library's registry: what the strategy does to it stays with it."""
    base = next(b for b in _MUTABLE_CONTAINERS if issubclass(type(container), b))
    return base(container)


def _guard_dispatch(method: Callable[..., Any], chain: str) -> Callable[..., Any]:
    """Wrap df.apply/agg/transform so a method *name* passed as a string is checked too.

    The arguments are first made exact strings, so the names checked here are the names
    the library then looks up. Where the library takes its functions (`func`, `aggfunc`),
    only names, callables and lists, tuples and dicts of them pass."""
    position = _FUNCTIONS_POSITION.get(chain.rpartition(".")[2], 0)
    if type(method) is types.FunctionType:  # pandas.pivot_table(data, ...): data comes first
        position += 1

    def checked(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = exact_strings(args), exact_strings(kwargs)
        given = [*args[position : position + 1], kwargs.get("func"), kwargs.get("aggfunc")]
        functions = [f for f in given if f is not None]
        try:
            names = [*exact_strings_in((args, kwargs)), *function_names_in(functions)]
        except SandboxViolation as error:
            raise SandboxViolation(f"{chain}: {error}") from None
        for name in names:
            refusal = attribute_refusal(name)
            why = refusal or ("it is private" if name[:1] == "_" else None)  # exact: from above
            if why is not None:
                raise SandboxViolation(f"{chain}({name!r}) is refused: {why}")
        return method(*args, **kwargs)

    return checked


# The position of the functions among a method's positional arguments: DataFrame's
# pivot_table(values, index, columns, aggfunc); apply, agg and transform take them first.
_FUNCTIONS_POSITION = {"pivot_table": 3, "crosstab": 4}


class Guards:
    """The guards of one loaded strategy: its policy, its own classes and modules, its prints."""

    def __init__(self, policy: ImportPolicy, print_limit: int = PRINT_LIMIT) -> None:
        self.policy = policy
        self.sink = PrintSink(print_limit)
        # Weak: a strategy that defines classes inside generate_signal must not leak them.
        self.team_classes: weakref.WeakSet[type] = weakref.WeakSet()
        self.team_modules: set[types.ModuleType] = set()
        self.values = ValueCheck(policy, self.team_modules, self.team_classes)

    # -- what belongs to the strategy -------------------------------------------------

    def is_team_object(self, obj: object) -> bool:
        """An instance of one of the strategy's classes, or one of those classes."""
        # WeakSet membership hashes its argument: test classes only (arrays are unhashable).
        kind = type(obj)
        return kind in self.team_classes or (issubclass(kind, type) and obj in self.team_classes)

    def owns(self, obj: object, name: str) -> bool:
        """Whether `obj.name` resolves to the strategy's own code or data (not a library's)."""
        kind = type(obj)
        if issubclass(kind, types.ModuleType):
            return obj in self.team_modules and name in obj.__dict__
        instance_dict = None
        if kind is super:
            if obj.__self_class__ is None:  # type: ignore[attr-defined]
                return False  # an unbound super(C): nothing to look up
            mro = obj.__self_class__.__mro__  # type: ignore[attr-defined]
            classes = mro[mro.index(obj.__thisclass__) + 1 :]  # type: ignore[attr-defined]
        elif issubclass(kind, type):
            classes = obj.__mro__  # type: ignore[attr-defined]
        else:
            classes = kind.__mro__
            if kind in self.team_classes:
                instance_dict = getattr(obj, "__dict__", None)
        # The first class defining the name wins, as in Python's own lookup: a library
        # base's attribute stays the library's even on a strategy's subclass.
        for klass in classes:
            if name in klass.__dict__:
                return klass in self.team_classes
        return type(instance_dict) is dict and name in instance_dict

    def build_class(self, func: Callable[..., Any], name: str, *bases: Any, **kw: Any) -> Any:
        """`__build_class__`: the class statement, remembering the class as the strategy's."""
        for base in bases:
            if issubclass(type(base), type) and issubclass(base, type):
                raise SandboxViolation(
                    f"class {name} would be a metaclass (a subclass of {base.__name__}), "
                    "which creates classes outside the sandbox's guards"
                )
        metaclass = kw.get("metaclass", type)
        if metaclass is not type:
            raise SandboxViolation(f"class {name}: a metaclass of one's own is refused")
        cls = builtins.__build_class__(func, name, *bases, **kw)
        self.team_classes.add(cls)
        return cls

    # -- reading ------------------------------------------------------------------------

    def getattr(self, obj: Any, name: str, default: Any = raise_) -> Any:
        """`_getattr_` and the `getattr` builtin."""
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        is_module = issubclass(type(obj), types.ModuleType)
        chain = f"{obj.__name__}.{name}" if is_module else None
        if name[:1] == "_":  # exact: type(name) is str, checked above
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
                raise SandboxViolation(f"{describe(obj)}.{name} is refused: {error}") from None
        self.values.check(value, lambda: chain or f"{describe(obj)}.{name}")
        if issubclass(type(value), _MUTABLE_CONTAINERS) and self._is_library_namespace(obj, name):
            return _copy_of(value)
        if name in STRING_DISPATCH and callable(value) and not self.owns(obj, name):
            # Any library's apply/agg (also on a strategy's DataFrame subclass), not just
            # objects whose type says "pandas": the check only refuses denied names.
            return _guard_dispatch(value, f"{describe(obj)}.{name}")
        return value

    def _is_library_namespace(self, obj: Any, name: str) -> bool:
        """A library module or class (not one of the strategy's own names)."""
        kind = type(obj)
        return (issubclass(kind, types.ModuleType) or issubclass(kind, type)) and not self.owns(
            obj, name
        )

    def _may_read_private(self, obj: object, name: str) -> bool:
        if name == "__init__" and type(obj) is super:  # exact: name is an exact str
            # super().__init__(...) in the strategy's own classes; never to re-initialise a
            # library object (super(type(m), m).__init__("x") would rename a module).
            return self.is_team_object(obj.__self__)  # type: ignore[attr-defined]
        return is_private_name(name) and self.owns(obj, name)

    def _check_name(self, obj: Any, name: str, chain: str | None) -> None:
        if name in INSPECT_ATTRIBUTES:
            raise SandboxViolation(
                f"{describe(obj)}.{name} is refused: frames and code are off limits"
            )
        if chain is not None and obj not in self.team_modules:
            # Before getattr: numpy imports submodules lazily in its module __getattr__.
            reason = self.policy.refusal(chain)
            if reason is not None:
                raise SandboxViolation(reason)
        why = attribute_refusal(name)
        if why is not None and not self.owns(obj, name):
            raise SandboxViolation(f"{chain or describe(obj) + '.' + name} is refused: {why}")

    def hasattr(self, obj: Any, name: str) -> bool:
        """The `hasattr` builtin: False when missing, SandboxViolation when refused."""
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def getitem(self, obj: Any, key: Any) -> Any:
        """`_getitem_`: plain indexing, except into namespaces, and the value is checked."""
        refuse_namespace(obj, "indexing")
        value = obj[key]
        self.values.check(value, lambda: f"{describe(obj)}[{key!r:.60}]")
        return value

    def iter(self, obj: Any) -> Iterator[Any]:
        """`_getiter_`: iteration, except over namespaces; each item is checked."""
        refuse_namespace(obj, "iterating over")
        iterator = iter(obj)
        if type(obj) in _PLAIN_ITERABLES:
            return iterator
        return self.values.checked_items(iterator, obj)

    # -- writing ------------------------------------------------------------------------

    def write(self, obj: Any) -> Any:
        """`_write_`: what `obj.x = v`, `obj[k] = v` and `del` may act on."""
        kind = type(obj)
        if kind in (dict, list, set) or self.is_team_object(obj):
            return obj
        if issubclass(kind, types.ModuleType):
            raise SandboxViolation(
                f"cannot change the module {obj.__name__}: modules are read-only"
            )
        if issubclass(kind, _data_containers()):
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
        if name[:2] == "__":  # exact: type(name) is str, checked above
            raise SandboxViolation(f"setting {name} is refused: dunder attributes are off limits")

    def decorate(self, decorator: Any) -> Callable[[Any], Any]:
        """`_decorate_`: applying `@decorator` is a checked call (see policy's rewrite)."""
        return functools.partial(self.values.checked_call, decorator)

    # -- printing and the namespace ----------------------------------------------------

    def print_collector(self, _getattr_: Callable[..., Any] | None = None) -> PrintCollector:
        """`_print_`: RestrictedPython makes one per function call; all feed one sink."""
        return SinkPrintCollector(self.sink, _getattr_)

    def builtins(self, import_hook: Callable[..., Any]) -> dict[str, Any]:
        """The `__builtins__` of every module of the strategy."""
        names = {k: v for k, v in safe_builtins.items() if k not in WITHHELD}
        names.update(PLAIN_BUILTINS)
        names.update(iterating_functions(self.iter))
        names.update(
            {
                "__build_class__": self.build_class,
                "__metaclass__": type,  # RestrictedPython adds metaclass=__metaclass__
                "__import__": import_hook,
                "_getattr_": self.getattr,
                "_getitem_": self.getitem,
                "_getiter_": self.iter,
                "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
                "_unpack_sequence_": guarded_unpack_sequence,
                "_write_": self.write,
                "_inplacevar_": inplacevar,
                "_apply_": self.values.checked_call,
                "_decorate_": self.decorate,
                "_print_": self.print_collector,
                "getattr": self.getattr,
                "hasattr": self.hasattr,
                "setattr": self.setattr,
                "delattr": self.delattr,
            }
        )
        return names
