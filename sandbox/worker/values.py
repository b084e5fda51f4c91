"""Which values strategy code may hold, and names it may pass, decided on exact types.

Every value a strategy obtains passes `ValueCheck.check`: what it reads (attributes, items),
what it iterates, what any call returns, and every callee and argument of a call. A value
no strategy may hold is refused wherever it turns up: a metaclass (`type` makes classes
outside the class statement), a module the import policy refuses, a frame, code object or
traceback, a namespace dict (a function's `__globals__`), the interpreter's own `getattr`,
`__import__`, `open` and the like, objects of the socket/io/ctypes/mmap modules, and
helpers that look attributes or items up outside the guards.

Decisions never trust a team's object to describe itself: `type(x)` and `issubclass` on
it (a class cannot lie about its own type), identity against the interpreter's builtins
(never `==` or `in` on a team's value), and `exact_str` turns a `str` subclass into the
characters it holds with str's own method, so `__eq__`, `__hash__`, `startswith` or
`__getitem__` written by a team never take part in a decision.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable, Iterator, MutableSet
from typing import Any

from sandbox.worker.policy import ImportPolicy


class SandboxViolation(Exception):  # noqa: N818 (a refusal, not an error of ours)
    """Strategy code tried something the sandbox refuses; the message names it."""


# The interpreter's builtins that reach past the guards; compared by identity.
_DANGEROUS_BUILTINS = {
    id(getattr(builtins, name)): name
    for name in ("getattr", "setattr", "delattr", "hasattr", "__import__", "__build_class__",
                 "open", "eval", "exec", "compile", "globals", "locals", "vars", "dir",
                 "breakpoint", "input", "help", "memoryview")
    if hasattr(builtins, name)
}  # fmt: skip
# operator.call calls whatever it is handed as data, from C: a callee no check would see.
if hasattr(operator, "call"):
    _DANGEROUS_BUILTINS[id(operator.call)] = "call, which calls what it is given, unchecked"
# Kinds of objects never handed to strategy code, whoever exposes them (e.g. a host
# object's socket): checked by the type's module so this module imports none of them.
_FORBIDDEN_MODULES = frozenset({"socket", "_socket", "mmap", "_io", "io", "ctypes", "_ctypes"})
_FORBIDDEN_TYPES: tuple[type, ...] = (
    types.FrameType, types.CodeType, types.TracebackType,
    operator.attrgetter, operator.itemgetter, operator.methodcaller,
)  # fmt: skip
# Types whose every instance has been found safe: the fast path of every check. Values of
# these kinds are decided one by one, never by their type: dicts (a namespace?), modules
# (which one?), classes (a metaclass?), builtin functions (the interpreter's own getattr?).
_BY_VALUE = (dict, types.ModuleType, type, types.BuiltinFunctionType)
_SAFE_TYPES: set[type] = {
    int, float, str, bool, bytes, complex, type(None), list, tuple, set, frozenset, range,
    slice, type(Ellipsis), type(NotImplemented),
}  # fmt: skip
_WHOLE = slice(None)


def exact_str(value: object) -> str:
    """The characters of a str (or str subclass) as an exact str; TypeError otherwise."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if issubclass(kind, str):
        return str.__getitem__(value, _WHOLE)  # str's own slicing: an exact copy
    raise TypeError(f"expected a string, got {kind.__name__}")


def exact_strings(value: Any, depth: int = 0) -> Any:
    """`value` with every str subclass inside lists, tuples and dicts made an exact str.

    What a guard checks and what a library then receives are the same exact strings."""
    kind = type(value)
    if kind is str:
        return value
    if issubclass(kind, str):
        return str.__getitem__(value, _WHOLE)
    if depth > 6 and issubclass(kind, (list, tuple, dict)):
        raise SandboxViolation("arguments nested more than 6 levels deep are refused here")
    if issubclass(kind, dict):
        return {exact_strings(k, depth + 1): exact_strings(v, depth + 1)
                for k, v in dict.items(value)}  # fmt: skip
    if issubclass(kind, list):
        return [exact_strings(v, depth + 1) for v in list.__getitem__(value, _WHOLE)]
    if issubclass(kind, tuple):
        return tuple(exact_strings(v, depth + 1) for v in tuple.__getitem__(value, _WHOLE))
    return value


def exact_strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    """Every str in `value` after `exact_strings` (lists, tuples, dict keys and values)."""
    kind = type(value)
    if kind is str:
        yield value
    elif kind is dict:
        for key, item in value.items():
            yield from exact_strings_in(key, depth + 1)
            yield from exact_strings_in(item, depth + 1)
    elif kind is list or kind is tuple:
        for item in value:
            yield from exact_strings_in(item, depth + 1)


def function_names_in(value: Any) -> Iterator[str]:
    """The method names in what a library takes as its `func`: a name, a callable, or a
    list, tuple or dict of them, after `exact_strings`.

    pandas reads names out of every list-like (an array, an Index, a DataFrame's column
    labels, a set, an iterator): anything else here raises SandboxViolation."""
    kind = type(value)
    if kind is str:
        yield value
    elif kind is dict:
        for key, item in value.items():
            yield from exact_strings_in(key)
            yield from function_names_in(item)
    elif kind is list or kind is tuple:
        for item in value:
            yield from function_names_in(item)
    elif not callable(value) or hasattr(kind, "__iter__"):
        raise SandboxViolation(
            f"functions given as a {describe(value)} are refused here: pass a name, a "
            "function, or a list, tuple or dict of them"
        )


def describe(obj: object) -> str:
    """A short name for messages: `numpy`, `pandas.DataFrame`, `int`."""
    if issubclass(type(obj), types.ModuleType):
        return str(obj.__name__)  # type: ignore[attr-defined]
    cls = obj if issubclass(type(obj), type) else type(obj)
    top = str(type.__getattribute__(cls, "__module__")).partition(".")[0]
    name = str(type.__getattribute__(cls, "__qualname__"))
    return name if top in ("builtins", "") else f"{top}.{name}"


def describe_callable(func: object) -> str:
    """`typing.get_origin`, `pandas.DataFrame.agg`: a function or method by its home and name."""
    kind = type(func)
    if kind is types.MethodType:
        func = func.__func__  # type: ignore[attr-defined]
        kind = type(func)
    if kind is types.FunctionType or kind is types.BuiltinFunctionType:
        home = object.__getattribute__(func, "__module__")
        name = object.__getattribute__(func, "__qualname__")
        top = str(home).partition(".")[0] if type(home) is str else ""
        return f"{top}.{name}" if top and top != "builtins" else str(name)  # exact: host-made
    return describe(func)


def is_namespace(obj: object) -> bool:
    """A module's or class's `__dict__`, or a function's globals."""
    kind = type(obj)
    return kind is types.MappingProxyType or (
        kind is dict and ("__builtins__" in obj or "__spec__" in obj)  # type: ignore[operator]
    )


def refuse_namespace(obj: Any, doing: str) -> Any:
    """`obj`, unless it is a namespace (reading one is reading past the guards)."""
    if is_namespace(obj):
        raise SandboxViolation(f"{doing} a namespace (a module's or class's __dict__) is refused")
    return obj


class ValueCheck:
    """The check of one loaded strategy: its import policy, its own modules and classes."""

    def __init__(
        self,
        policy: ImportPolicy,
        team_modules: set[types.ModuleType],
        team_classes: MutableSet[type],
    ) -> None:
        self.policy = policy
        self.team_modules = team_modules
        self.team_classes = team_classes

    def check(self, value: Any, label: Callable[[], str]) -> None:
        """Refuse a value no strategy may hold; `label` names where it came from.

        The label is built only for a refusal: this runs on every attribute read, item,
        iteration step and call of strategy code."""
        kind = type(value)
        if kind in _SAFE_TYPES:
            return
        if kind is dict:
            if is_namespace(value):
                raise SandboxViolation(f"{label()} is refused: it is a namespace")
            return
        if kind is types.BuiltinFunctionType:
            if id(value) in _DANGEROUS_BUILTINS:
                name = _DANGEROUS_BUILTINS[id(value)]
                raise SandboxViolation(f"{label()} is refused: it is the interpreter's {name}")
            return
        if issubclass(kind, types.ModuleType):
            self._check_module(value, label)
            return
        if issubclass(kind, type):
            if issubclass(value, type):
                raise SandboxViolation(
                    f"{label()} is refused: it is a metaclass ({value.__name__}), which "
                    "creates classes outside the sandbox's guards"
                )
            return
        if issubclass(kind, _FORBIDDEN_TYPES) or _module_of(kind) in _FORBIDDEN_MODULES:
            raise SandboxViolation(f"{label()} is refused: it is a {describe(value)} object")
        if not issubclass(kind, _BY_VALUE):
            _SAFE_TYPES.add(kind)

    def _check_module(self, module: types.ModuleType, label: Callable[[], str]) -> None:
        if module in self.team_modules:
            return
        name = exact_str(module.__name__)
        reason = self.policy.refusal(name)
        if reason is not None:
            where = label()
            same = where == name  # exact: both strings are the host's own
            raise SandboxViolation(reason if same else f"{where} is the module {reason}")

    def checked_call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call of strategy code: the callee, the arguments and the result are checked.

        A library function handed over as an argument (to map, functools.reduce,
        DataFrame.apply...) is called later by C code, where no call of the strategy's is
        rewritten: it goes as a `checked_callback`, so what it returns is checked there too."""
        kind = type(func)
        if kind not in _SAFE_CALLEES:
            self.check(func, lambda: f"calling {describe_callable(func)}")
        elif kind is types.FunctionType and func.__code__ in _CLASS_REWRITERS:
            self._refuse_library_classes(func, args)
        callbacks = False
        for arg in args:
            if type(arg) not in _SAFE_TYPES:
                self.check(arg, lambda a=arg: f"passing {describe(a)}")
            callbacks = callbacks or type(arg) in _CALLBACK_KINDS
        if kwargs:
            for arg in kwargs.values():
                if type(arg) not in _SAFE_TYPES:
                    self.check(arg, lambda a=arg: f"passing {describe(a)}")
                callbacks = callbacks or type(arg) in _CALLBACK_KINDS
            if "module" in kwargs:
                self._refuse_foreign_module_name(func, kwargs["module"])
        if callbacks:
            args = tuple([self.checked_callback(arg) for arg in args])
            kwargs = {key: self.checked_callback(arg) for key, arg in kwargs.items()}
        result = func(*args, **kwargs)
        if type(result) not in _SAFE_TYPES:
            self.check(result, lambda: f"what {describe_callable(func)} returned")
        return result

    def checked_callback(self, func: Any) -> Any:
        """`func` as C code may call it: a library function is wrapped so that its
        arguments and result are checked like a call in the strategy's source.

        The strategy's own functions need no wrapper (their calls are rewritten), nor do
        the interpreter's builtins, methods of builtin types and numpy's ufuncs and array
        functions: they compute from their arguments and keep pandas' fast paths, which
        recognise them by identity."""
        kind = type(func)
        if kind not in _CALLBACK_KINDS or self._is_team_function(func):
            return func
        if kind is types.BuiltinFunctionType and not _is_library_builtin(func):
            return func

        def checked(*args: Any, **kwargs: Any) -> Any:
            return self.checked_call(func, *args, **kwargs)

        with_name = func.func if kind is functools.partial else func
        for attribute in ("__name__", "__qualname__", "__doc__"):
            value = getattr(with_name, attribute, None)
            if type(value) is str:
                setattr(checked, attribute, value)
        return checked

    def _is_team_function(self, func: Any) -> bool:
        kind = type(func)
        if kind is types.MethodType:
            func = func.__func__
            kind = type(func)
        if kind is not types.FunctionType:
            return False
        namespace = func.__globals__
        return any(module.__dict__ is namespace for module in self.team_modules)

    def _refuse_library_classes(self, func: Any, args: tuple[Any, ...]) -> None:
        """A decorator that rewrites the class it is given, given a class not the team's."""
        for arg in args:
            if issubclass(type(arg), type) and arg not in self.team_classes:
                raise SandboxViolation(
                    f"{describe_callable(func)}({describe(arg)}) is refused: it rewrites the "
                    "class it is given, and only the strategy's own classes may be rewritten"
                )

    def _refuse_foreign_module_name(self, func: Any, module: Any) -> None:
        """`module=` names the module a class says it belongs to; code that later looks
        the module up by that name (enum.global_enum) would write into it."""
        if type(module) is not str and not issubclass(type(module), str):
            return
        name = exact_str(module)
        if not any(name == exact_str(m.__name__) for m in self.team_modules):  # exact: above
            raise SandboxViolation(
                f"{describe_callable(func)}(module={name!r}) is refused: a class may only "
                "name one of the strategy's own modules as its home"
            )

    def checked_items(self, iterator: Iterator[Any], source: object) -> Iterator[Any]:
        """Iteration of strategy code: each item is checked as it comes."""
        for item in iterator:
            if type(item) not in _SAFE_TYPES:
                self.check(item, lambda: f"an item of {describe(source)}")
            yield item


# Callees of every call that need no check: plain functions and methods of the strategy
# and of libraries (what they return is still checked).
_SAFE_CALLEES = frozenset({types.FunctionType, types.MethodType})
# Callables that C code may call later with results no check sees: see checked_callback.
_CALLBACK_KINDS = frozenset(
    {types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial}
)


def _is_library_builtin(func: Any) -> bool:
    """A C function of a module other than builtins (functools.reduce, operator.getitem)."""
    home = getattr(func, "__self__", None)
    return issubclass(type(home), types.ModuleType) and home is not builtins


def _decorator_codes() -> frozenset[types.CodeType]:
    """The code of the library decorators that rewrite the class they are given."""
    decorators: list[Any] = [
        dataclasses.dataclass,
        dataclasses.dataclass(frozen=True),  # dataclass(...) returns its inner `wrap`
        functools.total_ordering,
        typing.final,
        typing.no_type_check,
        typing.runtime_checkable,
        typing.dataclass_transform(),
    ]
    return frozenset(d.__code__ for d in decorators if type(d) is types.FunctionType)


_CLASS_REWRITERS = _decorator_codes()


def _module_of(kind: type) -> str:
    return str(type.__getattribute__(kind, "__module__"))
