"""Guards decide on exact types, never on what a team's object says about itself.

A team can subclass `str` (or anything) and override `__eq__`, `__hash__`, `startswith`,
`__getitem__`, `__str__`, `__len__`: every `isinstance`, `==`, `!=`, `.startswith()` and
`.endswith()` a guard applies to such a value is a question the team answers. So:

- a static test walks the guard modules and refuses each of those constructs unless its line
  says, after `# exact:`, why the operand cannot be a team's object (a name checked with
  `type(x) is str` above, a host-made string);
- property tests feed lying `str` subclasses (hypothesis) to every refusal path — attribute
  reads, `hasattr`, `setattr`/`delattr`, imports, the apply/agg name check, the attribute
  and module tables, printing, the wire encoder — and the refused name stays refused.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.worker.compiler import load_strategy
from sandbox.worker.guards import Guards, SandboxViolation
from sandbox.worker.importer import TeamImporter
from sandbox.worker.plain import to_wire
from sandbox.worker.policy import (
    DEFAULT_PRELOAD,
    DENIED_ATTRIBUTES,
    ImportPolicy,
    attribute_refusal,
)
from sandbox.worker.printing import PrintSink

for _name in DEFAULT_PRELOAD:  # what the worker's warm parent does before forking
    importlib.import_module(_name)

WORKER = Path(__file__).resolve().parents[3] / "sandbox" / "worker"
# Whole modules whose every line decides about strategy values...
GUARD_MODULES = ("guards.py", "values.py", "restricted_builtins.py", "importer.py",
                 "plain.py", "printing.py")  # fmt: skip
# ...and, in policy.py (which also walks the team's syntax tree, where every value is the
# parser's), the functions that answer at run time.
POLICY_RUNTIME = ("is_private_name", "attribute_refusal", "_attribute_refusal", "refusal")
PRAGMA = "# exact:"


def risky_sites(tree: ast.AST, lines: list[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "isinstance":
                what = "isinstance()"
            elif isinstance(func, ast.Attribute) and func.attr in ("startswith", "endswith"):
                what = f".{func.attr}()"
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
        ):
            what = "== / !="
        if what is not None and PRAGMA not in lines[node.lineno - 1]:
            found.append(f"line {node.lineno}: {what}: {lines[node.lineno - 1].strip()}")
    return found


@pytest.mark.parametrize("name", GUARD_MODULES)
def test_guard_modules_decide_on_exact_types(name: str) -> None:
    text = (WORKER / name).read_text()
    assert risky_sites(ast.parse(text), text.splitlines()) == []


def test_the_policys_run_time_answers_decide_on_exact_types() -> None:
    text = (WORKER / "policy.py").read_text()
    tree = ast.parse(text)
    functions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name in POLICY_RUNTIME
    ]
    assert sorted(f.name for f in functions) == sorted(POLICY_RUNTIME)
    sites = [site for f in functions for site in risky_sites(f, text.splitlines())]
    assert sites == []


def test_the_static_check_sees_what_it_looks_for() -> None:
    source = (
        "def f(x):\n    if isinstance(x, str) or x == 'a' or x.startswith('_'):\n        pass\n"
    )
    assert len(risky_sites(ast.parse(source), source.splitlines())) == 3
    marked = source.replace("pass", "pass").replace("'_'):", "'_'):  # exact: test")
    assert risky_sites(ast.parse(marked), marked.splitlines()) == []


# -- lying strings ---------------------------------------------------------------------------


def liar(text: str, lie: str) -> str:
    """A str subclass holding `text` that lies one way (as a team's class can)."""
    calls = [0]

    class Liar(str):
        if lie == "eq-first":

            def __eq__(self, other):
                calls[0] += 1
                return False if calls[0] == 1 else str.__eq__(self, other)

            __hash__ = str.__hash__
        elif lie == "eq-never":

            def __eq__(self, other):
                return False

            __hash__ = str.__hash__
        elif lie == "hash":

            def __hash__(self):
                return 12345

            __eq__ = str.__eq__
        elif lie == "prefix":

            def startswith(self, *args, **kwargs):
                return False

            def endswith(self, *args, **kwargs):
                return False
        elif lie == "getitem":

            def __getitem__(self, key):
                return "safe_name"

            def __len__(self):
                return 0
        elif lie == "str":

            def __str__(self):
                return "safe_name"

    return Liar(text)


LIES = ("eq-first", "eq-never", "hash", "prefix", "getitem", "str")
DENIED = [
    *sorted(DENIED_ATTRIBUTES),
    "to_csv",
    "to_json",
    "read_csv",
    "register_dataframe_accessor",
]
denied_names = st.sampled_from(DENIED)
lies = st.sampled_from(LIES)


@settings(max_examples=150, deadline=None)
@given(name=denied_names, lie=lies)
def test_a_lying_name_is_refused_by_attribute_reads(name: str, lie: str) -> None:
    guards = Guards(ImportPolicy())
    with pytest.raises((SandboxViolation, TypeError)):
        guards.getattr(pd.DataFrame({"a": [1]}), liar(name, lie))
    with pytest.raises((SandboxViolation, TypeError)):
        guards.hasattr(pd, liar(name, lie))
    with pytest.raises(TypeError):
        attribute_refusal(liar(name, lie))


@settings(max_examples=150, deadline=None)
@given(name=denied_names, lie=lies)
def test_a_lying_name_is_refused_by_apply_and_agg(name: str, lie: str) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    agg = Guards(ImportPolicy()).getattr(frame, "agg")
    for args in ((liar(name, lie),), ([liar(name, lie)],), ({"a": liar(name, lie)},)):
        with pytest.raises(SandboxViolation, match=f"'{name}'"):
            agg(*args)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["__class__", "__dict__", "__globals__"]), lie=lies)
def test_a_lying_name_cannot_set_or_delete_a_dunder(name: str, lie: str) -> None:
    guards = Guards(ImportPolicy())
    target = type("Own", (), {})()
    guards.team_classes.add(type(target))
    with pytest.raises((SandboxViolation, TypeError)):
        guards.setattr(target, liar(name, lie), 1)
    with pytest.raises((SandboxViolation, TypeError)):
        guards.delattr(target, liar(name, lie))


@settings(max_examples=60, deadline=None)
@given(module=st.sampled_from(["os", "sys", "subprocess", "numpy.f2py", "pandas.io"]), lie=lies)
def test_a_lying_module_name_cannot_be_imported(module: str, lie: str) -> None:
    importer = TeamImporter({}, Guards(ImportPolicy()))
    with pytest.raises((ImportError, TypeError)):
        importer.import_module(liar(module, lie), None, None, (), 0)
    with pytest.raises((ImportError, TypeError)):
        ImportPolicy().refusal(liar(module, lie))
    with pytest.raises(ImportError):
        importer.import_module("numpy", None, None, (liar("save", lie),), 0)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=50), lie=lies)
def test_printing_and_the_wire_take_a_strings_own_characters(text: str, lie: str) -> None:
    sink = PrintSink(limit=20)
    sink.write(liar(text, lie))
    assert sink.text() == text[:20] + ("" if len(text) <= 20 else sink.text()[20:])
    assert to_wire({"symbol": liar(text, lie)}) == {"symbol": text}
    assert type(to_wire(liar(text, lie))) is str


def test_a_lying_name_in_strategy_code_is_refused_end_to_end() -> None:
    """The same through the compiler: a team's class, in restricted code."""
    source = (
        "import pandas as pd\n"
        "class Liar(str):\n"
        "    def __eq__(self, other):\n"
        "        return False\n"
        "    def __hash__(self):\n"
        "        return hash(str(self))\n"
        "    def startswith(self, *args):\n"
        "        return False\n"
        "class S:\n"
        "    def __init__(self, params=None):\n"
        "        pass\n"
        "    def generate_signal(self, team, bars, prices):\n"
        "        frame = pd.DataFrame({'a': [1]})\n"
        "        return frame.agg(Liar('to_pickle'), 0, 'x.pkl')\n"
    )
    strategy = load_strategy({"strategy.py": source}, "S", {}, ImportPolicy())
    with pytest.raises(SandboxViolation, match="'to_pickle'"):
        strategy.call({}, {}, {})
