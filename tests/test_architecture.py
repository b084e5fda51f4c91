"""The layers of docs/architecture.md hold in the code: no import crosses them, no loops.

The table in the document is the rule this test reads, so the page cannot drift from the
code: change the table and the code together.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENT = REPO / "docs" / "architecture.md"
SOURCES = sorted([*(REPO / "app").rglob("*.py"), *(REPO / "sandbox").rglob("*.py")])


def layer_table() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(package → layer, layer → the layers it may import), from the document's table."""
    text = DOCUMENT.read_text()
    table = text.split("<!-- layers:", 1)[1].split("<!-- end of layers -->", 1)[0]
    packages: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        layer, names, may = cells
        for package in re.findall(r"`([\w.]+)`", names):
            packages[package] = layer
        allowed[layer] = {layer} | {m.strip() for m in may.split(",") if m.strip() != "—"}
    return packages, allowed


PACKAGES, ALLOWED = layer_table()


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str | None:
    """The table's package that holds `module` (the longest match), or None if not ours."""
    matches = [p for p in PACKAGES if module == p or module.startswith(p + ".")]
    return max(matches, key=len, default=None)


def our_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] in ("app", "sandbox")]


def test_the_table_names_real_layers_and_packages() -> None:
    assert {"domain", "engine", "adapters", "runtime", "cli"} <= set(ALLOWED)
    for layer, may in ALLOWED.items():
        assert may <= set(ALLOWED), f"{layer} may import an unknown layer: {may - set(ALLOWED)}"
    for package in PACKAGES:
        folder = REPO.joinpath(*package.split("."))
        assert folder.is_dir() or folder.with_suffix(".py").is_file(), package


def test_every_module_has_a_layer() -> None:
    homeless = [module_name(p) for p in SOURCES if package_of(module_name(p)) is None]
    assert [m for m in homeless if m not in ("app", "sandbox")] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_import_crosses_the_layers(path: Path) -> None:
    source = package_of(module_name(path))
    if source is None:
        return
    layer = PACKAGES[source]
    crossing = []
    for line, name in our_imports(path):
        target = package_of(name)
        if target is None or target == source:
            continue
        if PACKAGES[target] not in ALLOWED[layer]:
            crossing.append(f"{path.name}:{line} ({layer}) imports {name} ({PACKAGES[target]})")
    assert crossing == []


def test_the_domain_imports_nothing_of_ours_and_the_engine_only_the_domain() -> None:
    """The two rules the whole design rests on, stated apart from the table."""
    for path in SOURCES:
        module = module_name(path)
        names = [name for _, name in our_imports(path)]
        if module.startswith("app.domain"):
            assert all(n.startswith("app.domain") for n in names), module
        if module.startswith("app.engine"):
            assert all(n.startswith(("app.domain", "app.engine")) for n in names), module


def test_no_loop_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SOURCES:
        source = package_of(module_name(path))
        for _, name in our_imports(path):
            target = package_of(name)
            if source and target and target != source:
                graph[source].add(target)
    loops = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in trail:
                loops.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, [*trail, nxt])

    seen: set[str] = set()
    for start in sorted(graph):
        if start not in seen:
            seen.add(start)
            visit(start, [start])
    assert loops == []


def _assigned_engine_attributes(path: Path) -> list[str]:
    """`engine.x = ...`, `competition.engine.x[...] = ...` and the like in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            chain = []
            while isinstance(target, ast.Attribute | ast.Subscript):
                if isinstance(target, ast.Attribute):
                    chain.append(target.attr)
                target = target.value
            if isinstance(target, ast.Name):
                chain.append(target.id)
            if "engine" in chain[1:]:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_nothing_outside_the_engine_writes_into_it() -> None:
    """The engine's state changes through its methods (warm, resume_at, tick, ...), so its
    life cycle is the one its class states; the composition root only builds and calls."""
    outside = [p for p in SOURCES if not module_name(p).startswith("app.engine")]
    outside += sorted((REPO / "bench").glob("*.py"))
    assert [hit for path in outside for hit in _assigned_engine_attributes(path)] == []


MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def test_no_room_is_over_400_lines_and_no_function_over_50() -> None:
    """Each module answers one question; a long one is a sign to split (the style guide)."""
    long_files, long_functions = [], []
    for path in SOURCES:
        text = path.read_text()
        if (lines := len(text.splitlines())) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(REPO)}: {lines}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert (long_files, long_functions) == ([], [])
