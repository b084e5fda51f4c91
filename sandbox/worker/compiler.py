"""Check, compile and load a team's strategy (one file or a flat package) from strings.

`check_strategy` reports every problem of an upload at once; `load_strategy` compiles
each module with RestrictedPython, runs it against the guards of sandbox.worker.guards with
an import hook that serves only preloaded allowed modules and the team's own modules,
and returns the instance. Nothing here reads a file: sources arrive as strings and are
registered in `linecache` so tracebacks still show the team's lines. Import-light: this
runs in every worker.
"""

from __future__ import annotations

import ast
import copy
import keyword
import linecache
import re
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from RestrictedPython import compile_restricted_exec

from sandbox.worker.guards import Guards
from sandbox.worker.importer import TeamImporter
from sandbox.worker.language import StrategyPolicy
from sandbox.worker.policy import ImportPolicy
from sandbox.worker.tracebacks import TEAM_PREFIX

MAX_FILES = 50
MAX_FILE_BYTES = 512 * 1024
MAIN_MODULE = "strategy"
UPLOAD = "<upload>"  # the `file` of problems about the upload as a whole
DEFAULT_POLICY = ImportPolicy()

# Builtins withheld from strategies, with the reason `check_strategy` reports on use.
_ABSENT_BUILTINS = {
    **dict.fromkeys(["open", "input"], "strategies cannot read or write files or the console"),
    **dict.fromkeys(["compile"], "strategies cannot compile or run code"),
    **dict.fromkeys(["globals", "locals", "vars", "dir"], "namespaces are off limits"),
    **dict.fromkeys(["breakpoint", "help", "memoryview", "exit", "quit"], "not available"),
}


@dataclass(frozen=True)
class Problem:
    """One reason an upload is refused, located in the team's file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class StrategyRejected(Exception):  # noqa: N818 (the name the worker imports)
    """check_strategy found problems; all of them are in `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class CallResult:
    """What one generate_signal call returned and printed."""

    output: Any
    printed: str


# -- static checks ------------------------------------------------------------------------


@dataclass
class _Analysis:
    problems: list[Problem]
    codes: dict[str, types.CodeType] = field(default_factory=dict)  # module name -> code
    main: str | None = None


def check_strategy(
    files: Mapping[str, str], entry_point: str, policy: ImportPolicy = DEFAULT_POLICY
) -> list[Problem]:
    """Every problem of an upload, across all its files, at once (empty: it may load)."""
    return _analyse(files, entry_point, policy).problems


def _analyse(files: Mapping[str, str], entry_point: str, policy: ImportPolicy) -> _Analysis:
    if len(files) > MAX_FILES:
        return _Analysis([Problem(UPLOAD, None, f"{len(files)} files: at most {MAX_FILES}")])
    problems: list[Problem] = []
    modules: dict[str, str] = {}  # module name -> file name
    for name in sorted(files):
        problem = _file_problem(name, files[name], policy)
        if problem is not None:
            problems.append(problem)
        elif name != "__init__.py":
            modules[name[:-3]] = name
    main = _main_module(files, modules, problems)
    trees = {m: t for m in modules if (t := _parse(modules[m], files[modules[m]], problems))}
    for module, tree in trees.items():
        for line, why in policy.import_problems(tree, modules):
            problems.append(Problem(modules[module], line, why))
        problems += _absent_builtin_problems(modules[module], tree)
    if main in trees:
        problems += _entry_point_problems(modules[main], entry_point, main, trees)
    analysis = _Analysis(problems, main=main)
    for module, tree in trees.items():  # last: RestrictedPython rewrites the trees
        result = compile_restricted_exec(tree, TEAM_PREFIX + modules[module], policy=StrategyPolicy)
        problems += _restricted_problems(modules[module], result.errors)
        if result.code is not None:
            analysis.codes[module] = result.code
    first = modules.get(main or "", "")
    problems.sort(key=lambda p: (p.file != first, p.file, p.line or 0))
    return analysis


def _file_problem(name: str, source: object, policy: ImportPolicy) -> Problem | None:
    stem = name[:-3]
    why = None
    if not name.endswith(".py"):
        why = "only .py files are code (data files are not part of the code upload)"
    elif "/" in name or "\\" in name:
        why = "subfolders are not supported: put every .py file next to strategy.py"
    elif not isinstance(source, str):
        why = "the file is not text"
    elif len(source.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        why = f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"
    elif stem == "__init__":
        tree = _parse(name, source, [])
        why = (
            None
            if tree is not None and not _code_of(tree)
            else "code in __init__.py is not supported: move it to a module"
        )
    elif not stem.isidentifier() or keyword.iskeyword(stem) or stem.startswith("__"):
        why = f"{stem!r} is not a valid module name (letters, digits and _)"
    elif _shadows(stem, policy):
        why = f"{name} shadows the module {stem}: rename it"
    return None if why is None else Problem(name, None, why)


def _code_of(tree: ast.Module) -> list[ast.stmt]:
    """The statements of a module other than its docstring."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body


def _shadows(stem: str, policy: ImportPolicy) -> bool:
    tops = {name.partition(".")[0] for name in policy.allowed}
    return stem in sys.stdlib_module_names or stem in sys.builtin_module_names or stem in tops


def _main_module(files: Mapping[str, str], modules: dict[str, str], problems: list) -> str | None:
    if MAIN_MODULE in modules or f"{MAIN_MODULE}.py" in files:
        return MAIN_MODULE
    if len(modules) == 1:
        return next(iter(modules))
    why = "no .py file" if not modules else "several modules and none is strategy.py"
    problems.append(Problem(UPLOAD, None, f"{why}: the main module must be strategy.py"))
    return None


def _parse(filename: str, source: str, problems: list[Problem]) -> ast.Module | None:
    try:
        return parse_module(filename, source)
    except StrategyRejected as rejected:
        problems += rejected.problems
    return None


# Levels of a module's tree (measured without recursion). RestrictedPython's transformer
# recurses about five frames a level: 100 levels leave half of the default recursion limit
# to the callers. The deepest of the 9,500 files of this project's libraries has 63.
MAX_TREE_DEPTH = 100
TOO_DEEP = (
    f"nested more than {MAX_TREE_DEPTH} levels deep: split long chains of operators, calls "
    "or attribute accesses, and deep nesting, into smaller statements or functions"
)


def parse_module(filename: str, source: str) -> ast.Module:
    """The module's tree, bounded in depth and known to compile; otherwise StrategyRejected
    naming the file: every place that parses a team's source goes through here."""
    name = TEAM_PREFIX + filename
    try:
        tree = ast.parse(source, name)
        line = _line_too_deep(tree)
        if line is None:
            compile(tree, name, "exec", dont_inherit=True)  # what only the compiler refuses
            return tree
        problem = Problem(filename, line, TOO_DEEP)
    except SyntaxError as error:  # also `return` outside a function, 21 nested loops
        problem = Problem(filename, error.lineno, f"syntax error: {error.msg}")
    except (RecursionError, MemoryError):  # the parser's own limits, far beyond ours
        problem = Problem(filename, None, TOO_DEEP)
    except ValueError as error:  # e.g. a NUL byte in the source
        problem = Problem(filename, None, f"syntax error: {error}")
    raise StrategyRejected([problem])


def _line_too_deep(tree: ast.Module) -> int | None:
    """The line of the first node deeper than MAX_TREE_DEPTH, or None."""
    stack: list[tuple[ast.AST, int, int]] = [(tree, 1, 1)]  # node, its depth, nearest line
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > MAX_TREE_DEPTH:
            return line
        stack.extend((child, depth + 1, line) for child in ast.iter_child_nodes(node))
    return None


def _absent_builtin_problems(filename: str, tree: ast.Module) -> Iterator[Problem]:
    """Uses of builtins strategies do not get (open, compile, globals...), unless rebound."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _ABSENT_BUILTINS and node.id not in bound:
            why = _ABSENT_BUILTINS[node.id]
            yield Problem(filename, node.lineno, f"{node.id} is not available: {why}")


def _entry_point_problems(
    filename: str, entry_point: str, main: str, trees: Mapping[str, ast.Module]
) -> list[Problem]:
    if not entry_point.isidentifier() or entry_point.startswith("_"):
        return [Problem(filename, None, f"entry point {entry_point!r} is not a class name")]
    found = _find_class(entry_point, main, trees)
    if found is None:
        classes = [n.name for n in trees[main].body if isinstance(n, ast.ClassDef)]
        listed = ", ".join(classes) or "none"
        return [
            Problem(filename, None, f"no class {entry_point} in {filename} (classes: {listed})")
        ]
    if not _has_method(found, "generate_signal", trees):
        line = found.lineno
        return [Problem(filename, line, f"class {entry_point} has no generate_signal method")]
    return []


def _find_class(name: str, module: str, trees: Mapping[str, ast.Module]) -> ast.ClassDef | None:
    """A top-level class of `module`, or one it imports from a sibling module.

    A loop, with the (module, name) pairs already followed: an import cycle between the
    team's modules ends here instead of in the host's stack."""
    seen: set[tuple[str, str]] = set()
    while (module, name) not in seen:
        seen.add((module, name))
        found = _class_or_import(name, module, trees)
        if not isinstance(found, tuple):
            return found
        module, name = found
    return None


def _class_or_import(
    name: str, module: str, trees: Mapping[str, ast.Module]
) -> ast.ClassDef | tuple[str, str] | None:
    """`name` defined in `module`, or where `module` imports it from (module, name)."""
    for node in trees[module].body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
        if isinstance(node, ast.ImportFrom) and node.module in trees and node.level <= 1:
            for alias in node.names:
                if (alias.asname or alias.name) == name and node.module != module:
                    return node.module, alias.name
    return None


def _has_method(cls: ast.ClassDef, method: str, trees: Mapping[str, ast.Module]) -> bool:
    """Defined in the class or in a base class defined by the strategy (walked with a
    queue, each class name once: a chain of a thousand classes costs no stack)."""
    queue, seen = [cls], {cls.name}
    while queue:
        current = queue.pop()
        if any(isinstance(n, ast.FunctionDef) and n.name == method for n in current.body):
            return True
        for base in current.bases:
            if isinstance(base, ast.Name) and base.id not in seen:
                seen.add(base.id)
                parents = (_find_class(base.id, module, trees) for module in trees)
                queue.extend(parent for parent in parents if parent is not None)
    return False


def _restricted_problems(filename: str, errors: Any) -> Iterator[Problem]:
    """RestrictedPython's `Line N: message` errors as Problems."""
    for error in errors:
        match = re.match(r"Line (\d+|None): (.*)", error, re.DOTALL)
        line, message = (match.group(1), match.group(2)) if match else ("None", error)
        yield Problem(filename, None if line == "None" else int(line), message)


# -- loading ------------------------------------------------------------------------------


class LoadedStrategy:
    """A strategy instance and the sink of what it prints."""

    def __init__(self, instance: Any, guards: Guards) -> None:
        self.instance = instance
        self._sink = guards.sink
        self.load_printed = guards.sink.text()  # printed by module code and __init__

    def call(self, team: Any, bars: Any, current_prices: Any) -> CallResult:
        """One generate_signal call with its own print buffer."""
        self._sink.reset()
        output = self.instance.generate_signal(team, bars, current_prices)
        return CallResult(output, self._sink.text())

    @property
    def printed(self) -> str:
        """What the last call printed, also when it raised."""
        return self._sink.text()


def load_strategy(
    files: Mapping[str, str],
    entry_point: str,
    params: dict[str, Any] | None = None,
    policy: ImportPolicy = DEFAULT_POLICY,
) -> LoadedStrategy:
    """Check, compile and run the strategy's modules; instantiate `entry_point(params)`.

    Raises StrategyRejected with every problem check_strategy finds; exceptions raised
    by the team's module code or `__init__` propagate unchanged.
    """
    analysis = _analyse(files, entry_point, policy)
    if analysis.problems or analysis.main is None:
        raise StrategyRejected(analysis.problems)
    for filename, source in files.items():
        if filename.endswith(".py"):  # tracebacks get source lines without reading files
            name = TEAM_PREFIX + filename
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    guards = Guards(policy)
    main = TeamImporter(analysis.codes, guards).team_module(analysis.main)
    cls = main.__dict__.get(entry_point)
    if not isinstance(cls, type) or not callable(getattr(cls, "generate_signal", None)):
        problem = f"{entry_point} is not a class with a generate_signal method"
        raise StrategyRejected([Problem(f"{analysis.main}.py", None, problem)])
    instance = cls(copy.deepcopy(dict(params or {})))
    return LoadedStrategy(instance, guards)
