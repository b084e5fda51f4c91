"""What strategy code may say and reach: the import policy, denied attributes, the language.

- Modules: an allowlist of top-level modules (submodules follow them), a built-in denylist
  that wins over everything (modules that reach the operating system or run code, even
  as submodules of an allowed library) and the organisers' per-competition blacklist,
  which wins over the allowlist.
- Attributes: names that read or write files, unpickle, evaluate strings or reach raw
  memory, refused on every object that is not the strategy's own.
- Language: `sandbox.worker.language.StrategyPolicy`, the RestrictedPython transformer.
Imports none of the libraries it names.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

DEFAULT_ALLOWED: frozenset[str] = frozenset(
    {
        "math", "statistics", "collections", "itertools", "functools", "datetime",
        "dataclasses", "typing", "decimal", "fractions", "heapq", "bisect", "random",
        "operator", "numbers", "enum", "re", "string", "copy", "numpy", "pandas",
    }
)  # fmt: skip

# Refused wherever they appear as a component of a module name (`os`, `numpy.core.os`,
# `pandas.io`), even if an organiser lists them in `allowed`: each reaches the operating
# system, the interpreter's internals or code execution.
FORBIDDEN_MODULE_NAMES: frozenset[str] = frozenset(
    {
        "os", "posix", "nt", "sys", "subprocess", "ctypes", "socket", "importlib",
        "builtins", "gc", "inspect", "pickle", "marshal", "shutil", "pathlib", "io",
        "tempfile", "threading", "multiprocessing", "signal", "resource", "mmap",
    }
)  # fmt: skip

# Submodules refused although their library is allowed, with the reason a team reads.
DENIED_SUBMODULES: dict[str, str] = {
    "numpy.f2py": "it compiles and runs Fortran/C code and starts processes",
    "numpy.ctypeslib": "it loads shared libraries and reads raw memory",
    "numpy.distutils": "it builds extensions and starts processes",
    "numpy.testing": "its helpers start processes and touch files",
    "numpy.lib.format": "it reads and writes .npy files, including pickled objects",
    "numpy.lib.npyio": "it loads and saves files (load, save, loadtxt, genfromtxt)",
    "numpy.core": "it is the deprecated alias of NumPy's private internals",
    "pandas.compat": "it re-exports the interpreter's internals (sys, os)",
    "pandas.io": "it reads and writes files, pickles and databases",
    "pandas.util": "its helpers are internal and reach the interpreter",
    "pandas.testing": "its helpers are meant for test suites, not strategies",
    "pandas._testing": "its helpers touch files and the interpreter",
    "pandas.plotting": "it imports plotting back-ends by name",
    "pandas.core": (
        "it is pandas' internals (its classes call attributes by name, outside the guards); "
        "use the public pandas API"
    ),
    "pandas.arrays": "it exposes pandas' internal array classes",
    "pandas.api.extensions": "it registers accessors and types process-wide",
}

# `from __future__ import annotations` is a compiler directive: always allowed.
FUTURE = "__future__"

# What the warm parent imports before forking workers, so that no strategy import (nor
# a library's lazy import on first use) ever reaches the disk in a worker. Measured with
# numpy 2.4 / pandas 3.1: rolling, ewm, groupby, resample, to_datetime and time zones
# are imported with pandas itself; what stays lazy is listed explicitly below.
DEFAULT_PRELOAD: tuple[str, ...] = (
    *sorted(DEFAULT_ALLOWED),
    FUTURE,
    "collections.abc",
    # numpy submodules loaded lazily through numpy.__getattr__ on first attribute use
    "numpy.linalg", "numpy.random", "numpy.fft", "numpy.polynomial", "numpy.ma",
    "numpy.lib.stride_tricks", "numpy.lib.scimath", "numpy.strings",
    "numpy.char", "numpy.rec", "numpy.dtypes", "numpy.exceptions",
    # pandas: public namespaces strategies import, then modules pandas imports on
    # first use of repr()/print(df), to_dict() and crosstab/stack
    "pandas.api", "pandas.api.types", "pandas.tseries.offsets", "pandas.errors",
    "pandas.io.formats.string", "pandas.core.methods.to_dict", "pandas.core.reshape.reshape",
    # pandas 3 strings are pyarrow-backed: building a frame imports its pandas bridge
    "pyarrow", "pyarrow.pandas_compat", "pyarrow.vendored.version",
)  # fmt: skip


_FILES = "it reads or writes files"
_PICKLE = "it unpickles data, which runs code"
_CODE = "it evaluates code or expression strings outside the sandbox's guards"
_MEMORY = "it reaches raw memory"

# Refused on every object that is not the strategy's own, whatever library it comes from.
DENIED_ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys(
        ["load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt",
         "fromfile", "fromregex", "tofile", "memmap", "open_memmap", "DataSource",
         "ExcelWriter", "ExcelFile", "HDFStore"],
        _FILES,
    ),
    **dict.fromkeys(["loads", "dump", "dumps"], _PICKLE),
    # query/eval parse strings with pandas' own evaluator (no underscore rule); style
    # renders Jinja templates; get_type_hints/singledispatch eval string annotations.
    **dict.fromkeys(
        ["eval", "query", "style", "get_type_hints", "singledispatch", "singledispatchmethod"],
        _CODE,
    ),
    **dict.fromkeys(
        ["attrgetter", "methodcaller", "itemgetter"],
        "it looks attributes or items up outside the guards (use a lambda)",
    ),
    # A format string reads the attributes and items it names, outside the guards, on
    # str and on every look-alike (collections.UserString, string.Template subclasses...).
    **dict.fromkeys(
        ["format", "format_map", "vformat"],
        "a format string reads attributes outside the guards (use an f-string)",
    ),
    **dict.fromkeys(
        ["ctypes", "ctypeslib", "cffi", "capsule", "frombuffer", "from_dlpack", "as_strided",
         "add_docstring", "add_newdoc"],
        _MEMORY,
    ),
    # Arrays that are not views of a read-only mapping can be made writable again.
    **dict.fromkeys(["setflags", "base"], "it can make the shared, read-only bars writable"),
    **dict.fromkeys(
        ["set_option", "reset_option", "option_context", "options", "plot", "hist", "boxplot"],
        "it changes library-wide settings or imports plotting back-ends by name",
    ),
    **dict.fromkeys(
        ["make_dataclass", "mro", "update_wrapper", "wraps"],
        "it builds, inspects or rewrites classes and functions outside the class statement",
    ),
    # enum.global_enum writes a class's members into the module its __module__ names.
    **dict.fromkeys(
        ["global_enum", "global_str", "global_enum_repr", "global_flag_repr"],
        "it writes into the namespace of the module a class names",
    ),
    **dict.fromkeys(
        ["test", "info", "show_config", "show_runtime", "show_versions"],
        "it reads the installation, runs test suites or prints past print()",
    ),
}  # fmt: skip
DENIED_PREFIXES: dict[str, str] = {
    "read_": _FILES,
    "to_": "it writes files or hands data to other libraries",
    "register_": "it changes library classes for the whole process",
}
# `to_*` conversions that return values and never take a path.
SAFE_CONVERSIONS: frozenset[str] = frozenset(
    {
        "to_bytes", "to_datetime", "to_datetime64", "to_dict", "to_eng_string", "to_frame",
        "to_flat_index", "to_integral", "to_integral_exact", "to_integral_value",
        "to_julian_date", "to_list", "to_numeric", "to_numpy", "to_offset", "to_period",
        "to_pydatetime", "to_pytimedelta", "to_records", "to_series", "to_timedelta",
        "to_timedelta64", "to_timestamp", "to_tuples",
    }
)  # fmt: skip


def is_private_name(name: str) -> bool:
    """`_helper`: a single leading underscore, not a dunder (strategies may use these)."""
    return len(name) > 1 and name[0] == "_" and name[1] != "_"  # exact: names from getattr/ast


def attribute_refusal(name: str) -> str | None:
    """Why attribute `name` is refused on objects that are not the strategy's, or None.

    Only an exact str is answered: a subclass could lie to the cache's and the tables'
    lookups (`__hash__`, `__eq__`) and to the prefix test (`startswith`)."""
    if type(name) is not str:
        raise TypeError(f"an attribute name must be a str, not {type(name).__name__}")
    return _attribute_refusal(name)


@functools.lru_cache(maxsize=4096)  # every attribute read asks; the answer never changes
def _attribute_refusal(name: str) -> str | None:
    if name in DENIED_ATTRIBUTES:
        return DENIED_ATTRIBUTES[name]
    if name in SAFE_CONVERSIONS:
        return None
    found = (why for prefix, why in DENIED_PREFIXES.items() if name.startswith(prefix))  # exact:
    return next(found, None)


def _prefixes(module_name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`, `a.b.c`]."""
    parts = module_name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class ImportPolicy:
    """The allowlist and the organisers' blacklist; the blacklist wins."""

    allowed: frozenset[str] = DEFAULT_ALLOWED
    blocked: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable of names (e.g. lists from a YAML file) but store frozensets.
        object.__setattr__(self, "allowed", frozenset(self.allowed))
        object.__setattr__(self, "blocked", frozenset(self.blocked))

    def refusal(self, module_name: str) -> str | None:
        """Why `module_name` may not be used, or None when it may."""
        if type(module_name) is not str:  # a subclass could lie to every test below
            raise TypeError(f"a module name must be a str, not {type(module_name).__name__}")
        if module_name.partition(".")[0] == FUTURE:  # exact: checked above
            return None
        parts = module_name.split(".")
        if not module_name or not all(part.isidentifier() for part in parts):
            return f"{module_name!r} is not a module name"
        for prefix in _prefixes(module_name):
            if prefix in self.blocked:
                return f"{prefix} is blocked by the organisers of this competition"
            if prefix in DENIED_SUBMODULES:
                return f"{prefix} is refused: {DENIED_SUBMODULES[prefix]}"
        for part in parts:
            if part in FORBIDDEN_MODULE_NAMES:
                what = "it" if part == module_name else part  # exact: checked above
                return (
                    f"{module_name} is never available to strategies: {what} reaches "
                    "the operating system or the interpreter's internals"
                )
        private = next((p for p in parts if p[:1] == "_"), None)  # exact: checked above
        if private is not None:
            return f"{module_name} is refused: {private} is a private module"
        if not any(prefix in self.allowed for prefix in _prefixes(module_name)):
            return (
                f"{module_name} is not on this competition's allowlist "
                f"(allowed: {', '.join(sorted(self.allowed))})"
            )
        return None

    def is_allowed(self, module_name: str) -> bool:
        """True when strategies may import `module_name`."""
        return self.refusal(module_name) is None

    def import_problems(
        self, tree: ast.AST, own_modules: Collection[str]
    ) -> Iterator[tuple[int, str]]:
        """(line, why) for every import statement in `tree` (functions too) refused here."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    binds = alias.name if alias.asname else alias.name.partition(".")[0]
                    for name in dict.fromkeys([alias.name, binds]):  # `import a.b` binds a
                        if (why := self._module_problem(name, own_modules)) is not None:
                            yield node.lineno, why
            elif isinstance(node, ast.ImportFrom):
                for why in self._import_from_problems(node, own_modules):
                    yield node.lineno, why

    def _module_problem(self, name: str, own_modules: Collection[str]) -> str | None:
        top = name.partition(".")[0]
        if top in own_modules:
            return None if top == name else f"{name}: the strategy's own modules have no submodules"
        reason = self.refusal(name)
        if reason is None:
            return None
        # A name nobody knows is most likely a module of the team's that was not uploaded.
        unknown = top not in sys.stdlib_module_names and top not in self.allowed | self.blocked
        missing = f"; nor is there a {top}.py in the upload" if unknown else ""
        return f"import of {name} refused: {reason}{missing}"

    def _import_from_problems(
        self, node: ast.ImportFrom, own_modules: Collection[str]
    ) -> Iterator[str]:
        names = [alias.name for alias in node.names if alias.name != "*"]  # `*`: see compiler
        module = node.module or ""
        if node.level > 1:
            yield "relative imports reach only the strategy's own modules (one dot)"
        elif node.level == 1:
            for name in [module] if module else names:
                if name not in own_modules:
                    yield f"there is no {name}.py in the upload"
        elif (why := self._module_problem(module, own_modules)) is not None:
            yield why
        elif module.partition(".")[0] not in own_modules:
            for name in names:  # `from m import x` reads m.x: the attribute rules apply
                why = "it is private" if name.startswith("_") else attribute_refusal(name)
                if (why := why or self.refusal(f"{module}.{name}")) is not None:
                    yield f"from {module} import {name} refused: {why}"
