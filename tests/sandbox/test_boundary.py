"""The sandbox's two sides stay apart: the worker is built from the worker and the wire alone.

A worker runs beside a team's code. If it imported `app` (the engine, the books, the keys'
store) or `sandbox.host` (the supervisor and the services answering workers), any guard
bypass would hand the team the host's objects in the worker's own memory.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKER_SIDE = [*sorted((REPO / "sandbox" / "worker").glob("*.py"))]
WIRE = [*sorted((REPO / "sandbox" / "wire").glob("*.py"))]
FORBIDDEN = ("app", "sandbox.host")


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module an `import` statement in `path` names (functions too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def crosses(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", WORKER_SIDE + WIRE, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_worker_or_wire_module_imports_the_host_or_the_app(path: Path) -> None:
    crossing = [f"{path.name}:{line} imports {name}" for line, name in imported_names(path)]
    assert [c for c in crossing if crosses(c.rsplit(" ", 1)[1])] == []


def test_the_wire_imports_nothing_of_the_worker_either() -> None:
    for path in WIRE:
        names = [name for _, name in imported_names(path)]
        assert not [n for n in names if n.startswith("sandbox.worker")], path.name


def test_a_worker_process_loads_no_module_of_the_app_or_the_host() -> None:
    """What the zygote imports before forking, in a fresh interpreter: the real closure."""
    script = (
        "import sys\n"
        "import sandbox.worker.zygote as z\n"
        "z.preload()\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "sandbox.worker.worker" in loaded  # the check saw the worker's own modules
    assert [name for name in loaded if crosses(name)] == []


def test_the_detector_sees_a_crossing() -> None:
    """The static check is not vacuous: it reports an import of the host where there is one."""
    probe = REPO / "sandbox" / "host" / "supervisor.py"
    assert any(crosses(name) for _, name in imported_names(probe))
