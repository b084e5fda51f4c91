"""RestrictedPython's published advisories, each as the attack it describes, against our guards.

docs/decisions/0019-the-trust-boundary.md lists which guard answers each. An advisory is
"answered" when the exploit is refused at compile time (the upload is rejected with the
line) or at run time (a SandboxViolation names what was refused).
"""

from __future__ import annotations

import importlib

import pytest

from sandbox.worker.compiler import StrategyRejected, check_strategy, load_strategy
from sandbox.worker.guards import SandboxViolation
from sandbox.worker.policy import DEFAULT_PRELOAD, ImportPolicy

for _name in DEFAULT_PRELOAD:
    importlib.import_module(_name)


def strategy(body: str, prelude: str = "") -> str:
    indented = "\n".join("        " + line for line in body.splitlines())
    return (
        f"{prelude}\n"
        "class S:\n"
        "    def __init__(self, params=None):\n"
        "        pass\n"
        "    def generate_signal(self, team, bars, prices):\n"
        f"{indented}\n"
    )


def refused_at_compile(source: str) -> list[str]:
    return [str(p) for p in check_strategy({"strategy.py": source}, "S", ImportPolicy())]


def run(source: str, team: dict | None = None) -> object:
    return load_strategy({"strategy.py": source}, "S", {}, ImportPolicy()).call(team or {}, {}, {})


# (advisory, the exploit, what the refusal says); compile-time refusals
COMPILE_TIME = {
    "CVE-2023-37271 generator frames": (
        "g = (i for i in [1])\nreturn g.gi_frame.f_back.f_globals",
        '"gi_frame" is a restricted name',
    ),
    "CVE-2025-22153 except* type confusion": (
        "try:\n    pass\nexcept* ValueError:\n    pass",
        "TryStar statements are not allowed",
    ),
    "GHSA-ffg3-p8fm-mjx2 positional-only parameter shadows _getattr_": (
        "def f(_getattr_, /):\n    return object.__class__\nreturn f(getattr)",
        '"_getattr_" is an invalid variable name',
    ),
    "GHSA-ffg3-p8fm-mjx2 positional-only parameter shadows _write_": (
        "def f(_write_, /, x=None):\n    x.y = 1\nreturn f(None)",
        '"_write_" is an invalid variable name',
    ),
    "RestrictedPython 8.5: async generator frames (ag_frame)": (
        "return prices.ag_frame",
        '"ag_frame" is a restricted name',
    ),
}
# (advisory, the exploit, what the refusal says); run-time refusals
RUN_TIME = {
    "CVE-2023-41039 str.format traversal": (
        "return '{0.__class__.__mro__}'.format(1)",
        "str.format is refused",
    ),
    "CVE-2023-41039 str.format_map traversal": (
        "return '{x.__class__}'.format_map({'x': 1})",
        "str.format_map is refused",
    ),
    "CVE-2026-76825 string.Formatter traversal": (
        "import string\nreturn string.Formatter().get_field('0.__class__', [1], {})",
        "string.Formatter is refused",
    ),
    "Security considerations: operator.attrgetter": (
        "import operator\nreturn operator.attrgetter('__class__')(1)",
        "operator.attrgetter is refused",
    ),
    "Security considerations: operator.methodcaller": (
        "import operator\nreturn operator.methodcaller('__reduce__')(1)",
        "operator.methodcaller is refused",
    ),
    "Security considerations: operator.itemgetter": (
        "import operator\nreturn operator.itemgetter('__builtins__')({})",
        "operator.itemgetter is refused",
    ),
    "RestrictedPython 9.0 (#335): sorted iterates in C past _getiter_": (
        "import typing\nreturn sorted(map(typing.get_origin, [typing.Type]), key=id)",
        "what typing.get_origin returned is refused: it is a metaclass",
    ),
    "RestrictedPython 9.0 (#335): zip iterates in C past _getiter_": (
        "import typing\nreturn list(zip(map(typing.get_origin, [typing.Type])))",
        "what typing.get_origin returned is refused: it is a metaclass",
    ),
    "CVE-2024-47532 AttributeError.obj": (
        "try:\n    team.missing\nexcept AttributeError as error:\n    return error.obj",
        None,  # allowed: the object is the strategy's own; the leak was the string module's
    ),
}


@pytest.mark.parametrize("advisory", sorted(COMPILE_TIME))
def test_advisory_refused_at_compile_time(advisory: str) -> None:
    body, refusal = COMPILE_TIME[advisory]
    problems = refused_at_compile(strategy(body))
    assert any(refusal in p for p in problems), problems
    with pytest.raises(StrategyRejected):
        load_strategy({"strategy.py": strategy(body)}, "S", {}, ImportPolicy())


@pytest.mark.parametrize("advisory", sorted(RUN_TIME))
def test_advisory_refused_at_run_time(advisory: str) -> None:
    body, refusal = RUN_TIME[advisory]
    source = strategy(body)
    if refusal is None:
        team = {"id": "t"}
        assert run(source, team).output is team  # its own object, nothing more
        return
    with pytest.raises(SandboxViolation, match=refusal):
        run(source)
