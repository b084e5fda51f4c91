"""The runtime guards: each escape family refused with a message that names it."""

from __future__ import annotations

import ctypes
import functools
import importlib
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sandbox.worker.compiler import LoadedStrategy, StrategyRejected, load_strategy
from sandbox.worker.guards import (
    GuardedType,
    Guards,
    PrintSink,
    SandboxViolation,
)
from sandbox.worker.policy import DEFAULT_PRELOAD, ImportPolicy

for _name in DEFAULT_PRELOAD:  # what the worker's warm parent does before forking
    importlib.import_module(_name)

PREAMBLE = "import numpy as np\nimport numpy\nimport pandas as pd\nimport operator, typing, enum\n"


def _read_only(values: list[float]) -> np.ndarray:
    array = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


def _load(body: str, preamble: str = PREAMBLE) -> LoadedStrategy:
    source = (
        f"{preamble}\nclass S:\n    def __init__(self, params=None):\n"
        "        self.params = params\n\n"
        "    def generate_signal(self, team, bars, current_prices):\n"
        f"{textwrap.indent(textwrap.dedent(body), ' ' * 8)}\n"
    )
    return load_strategy({"strategy.py": source}, "S", {}, ImportPolicy())


def run(body: str, team: Any = None, bars: Any = None, preamble: str = PREAMBLE) -> Any:
    """Run `body` as the body of generate_signal; returns its output."""
    bars = {"AAPL": {"close": _read_only([1.0, 2.0, 3.0])}} if bars is None else bars
    return _load(body, preamble).call(team or {}, bars, {}).output


def rejected(body: str) -> list[str]:
    """The problems check_strategy reports for `body` (compile time)."""
    with pytest.raises(StrategyRejected) as caught:
        _load(body)
    return [p.message for p in caught.value.problems]


# -- compile-time refusals --------------------------------------------------------------


def test_dunder_attribute_chains_are_refused_at_compile_time() -> None:
    problems = rejected("return ().__class__.__mro__[1].__subclasses__()")
    assert any('"__class__" is an invalid attribute name' in p for p in problems)
    assert any('"__subclasses__" is an invalid attribute name' in p for p in problems)


def test_import_builtin_exec_eval_compile_open_are_refused_at_compile_time() -> None:
    assert rejected("return __import__('os')") == [
        '"__import__" is an invalid variable name because it starts with "_"'
    ]
    assert rejected("exec('x = 1')") == ["Exec calls are not allowed."]
    assert rejected("return eval('1')") == ["Eval calls are not allowed."]
    assert rejected("return compile('1', 'f', 'eval')") == [
        "compile is not available: strategies cannot compile or run code"
    ]
    assert rejected("return open('/etc/passwd').read()") == [
        "open is not available: strategies cannot read or write files or the console"
    ]
    assert rejected("return vars(self)") == ["vars is not available: namespaces are off limits"]


def test_generator_frames_are_refused_at_compile_time() -> None:
    problems = rejected("g = (i for i in [1])\nreturn g.gi_frame.f_back")
    assert any('"gi_frame" is a restricted name' in p for p in problems)


def test_guard_names_and_generated_temporaries_cannot_be_shadowed() -> None:
    for name in ("_getattr_", "_write_", "_tmp0", "_print"):
        assert rejected(f"{name} = 1") == [
            f'"{name}" is an invalid variable name because it starts with "_"'
        ]


def test_importlib_and_os_imports_are_refused_at_compile_time() -> None:
    (problem,) = rejected("import importlib\nreturn importlib.import_module('os')")
    assert problem.startswith("import of importlib refused: importlib is never available")


# -- runtime refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return getattr(self.generate_signal, '__globals__')",
         'method.__globals__ is refused: names starting with "_" are private'),
        ("return '{0.__class__}'.format(1)", "str.format is refused: a format string reads"),
        ("return '{x}'.format_map({'x': 1})", "str.format_map is refused"),
        ("import string\nreturn string.Formatter().format('{0}', 1)",
         "string.Formatter is refused"),
        ("g = (i for i in [1])\nreturn getattr(g, 'gi_frame')",
         "generator.gi_frame is refused: frames and code are off limits"),
        ("return type('X', (), {})", "type() with three arguments creates a class"),
        ("return type(int)('X', (), {})", "type() of a class returns its metaclass (type)"),
        ("return enum.EnumMeta", "enum.EnumMeta is refused: it is a metaclass"),
        ("return np.f2py", "numpy.f2py is refused: it compiles and runs Fortran/C code"),
        ("return np.ctypeslib", "numpy.ctypeslib is refused: it loads shared libraries"),
        ("return numpy.core", "numpy.core is refused: it is the deprecated alias"),
        ("return np.lib.format", "numpy.lib.format is refused: it reads and writes .npy"),
        ("return pd.compat", "pandas.compat is refused: it re-exports"),
        ("return pd.io", "pandas.io is refused: it reads and writes files"),
        ("return pd.read_pickle", "pandas.read_pickle is refused: it reads or writes files"),
        ("return np.load", "numpy.load is refused: it reads or writes files"),
        ("return np.ma.loads", "numpy.ma.loads is refused: it unpickles data"),
        ("return pd.eval('1 + 1', engine='python')", "pandas.eval is refused: it evaluates"),
        ("return pd.DataFrame({'a': [1]}).query('a > 0')",
         "pandas.DataFrame.query is refused: it evaluates"),
        ("return pd.DataFrame({'a': [1]}).style", "pandas.DataFrame.style is refused"),
        ("return operator.attrgetter('__class__')", "operator.attrgetter is refused"),
        ("return typing.get_type_hints(S)", "typing.get_type_hints is refused: it evaluates"),
        ("return typing.sys", "typing.sys is never available to strategies"),
        ("return np._core", 'numpy._core is refused: names starting with "_" are private'),
        ("return np.lib.stride_tricks.as_strided", "as_strided is refused: it reaches raw memory"),
        ("return pd.set_option", "pandas.set_option is refused: it changes library-wide"),
        ("return enum.Enum.mro()", "enum.Enum.mro is refused"),
        ("return bars['AAPL']['close'].base", "numpy.ndarray.base is refused"),
    ],
)  # fmt: skip
def test_escape_is_refused_at_run_time(body: str, message: str) -> None:
    with pytest.raises(SandboxViolation) as caught:
        run(body)
    assert message in str(caught.value)


def test_numpy_writers_are_refused_before_they_write(tmp_path: Path) -> None:
    target = tmp_path / "x.npy"
    with pytest.raises(SandboxViolation, match=r"numpy\.save is refused: it reads or writes"):
        run(f"np.save({str(target)!r}, np.ones(2))")
    with pytest.raises(SandboxViolation, match=r"numpy\.ndarray\.tofile is refused"):
        run(f"np.ones(2).tofile({str(target)!r})")
    assert not target.exists()


def test_pandas_string_dispatch_cannot_name_a_refused_method(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(SandboxViolation, match=r"DataFrame\.apply\('to_csv'\) is refused"):
        run(f"return pd.DataFrame({{'a': [1.0]}}).apply('to_csv', path_or_buf={str(target)!r})")
    with pytest.raises(SandboxViolation, match=r"Series\.agg\('eval'\) is refused"):
        run("return pd.Series([1.0]).agg('eval')")
    with pytest.raises(SandboxViolation, match=r"DataFrame\.agg\('to_pickle'\) is refused"):
        run("return pd.DataFrame({'a': [1.0]}).agg({'a': ['mean', 'to_pickle']})")
    subclass = "class D(pd.DataFrame):\n    pass\n"
    subclass += f"return D({{'a': [1.0]}}).apply('to_csv', {str(target)!r})"
    with pytest.raises(SandboxViolation, match=r"D\.apply\('to_csv'\) is refused"):
        run(subclass)
    assert not target.exists()
    assert run("return pd.Series([1.0, 3.0]).agg(['mean', 'max']).to_list()") == [2.0, 3.0]


def test_writing_a_module_attribute_is_refused() -> None:
    with pytest.raises(SandboxViolation, match="cannot change the module numpy: modules are"):
        run("numpy.pi = 3")
    with pytest.raises(SandboxViolation, match="cannot change the module numpy"):
        run("setattr(np, 'pi', 3)")
    assert math.isclose(np.pi, math.pi)


def test_library_objects_attributes_are_read_only() -> None:
    with pytest.raises(SandboxViolation, match=r"cannot set pandas\.DataFrame\.columns.*set_axis"):
        run("df = pd.DataFrame({'a': [1]})\ndf.columns = ['b']")
    with pytest.raises(SandboxViolation, match="cannot change str"):
        run("x = 'a'\nx.y = 1")
    with pytest.raises(SandboxViolation, match=r"cannot change decimal\.Context"):
        run("import decimal\ndecimal.getcontext().prec = 5", preamble="")


def test_read_only_bars_stay_read_only_with_a_clear_message() -> None:
    bars = {"AAPL": {"close": _read_only([1.0, 2.0, 3.0])}}
    copy_hint = "work on a copy, e.g. closes = bars[symbol]['close'].copy()"
    for body in ("bars['AAPL']['close'][0] = 9", "c = bars['AAPL']['close']\nc += 1"):
        with pytest.raises(SandboxViolation, match=r"cannot write into a read-only numpy\.ndarray"):
            run(body, bars=bars)
    with pytest.raises(SandboxViolation) as caught:
        run("bars['AAPL']['close'][0] = 9", bars=bars)
    assert copy_hint in str(caught.value)
    with pytest.raises(SandboxViolation, match="setflags is refused"):
        run("bars['AAPL']['close'].setflags(write=True)", bars=bars)
    with pytest.raises(SandboxViolation, match=r"cannot change numpy\.flagsobj"):
        run("bars['AAPL']['close'].flags['WRITEABLE'] = True", bars=bars)
    with pytest.raises(SandboxViolation, match=r"cannot change numpy\.flagsobj"):
        run("bars['AAPL']['close'].flags.writeable = True", bars=bars)
    assert bars["AAPL"]["close"].tolist() == [1.0, 2.0, 3.0]
    assert not bars["AAPL"]["close"].flags.writeable


def test_strategies_may_change_their_own_data() -> None:
    body = """
    d = {'a': 1}
    d['a'] += 2
    counts = {}
    counts.setdefault('x', []).append(1)
    c = bars['AAPL']['close'].copy()
    c[0] = 10.0
    c += 1
    df = pd.DataFrame({'a': [1.0, 2.0]})
    df['b'] = df['a'] * 2
    df.loc[0, 'a'] = 5.0
    self.total = 1
    self.total += 1
    S.shared = 'class attribute'
    return d, c.tolist(), df.to_dict('list'), self.total, S.shared
    """
    assert run(body) == (
        {"a": 3},
        [11.0, 3.0, 4.0],
        {"a": [5.0, 2.0], "b": [2.0, 4.0]},
        2,
        "class attribute",
    )


def test_private_names_reach_only_the_strategys_own_objects() -> None:
    body = """
    class Base:
        def _helper(self):
            return 'base'

    class Child(Base):
        def __init__(self):
            super().__init__()
            self._state = 1

        def _helper(self):
            return super()._helper() + '+child'

    c = Child()
    c._state += 1
    return c._state, c._helper(), getattr(c, '_state')
    """
    assert run(body) == (2, "base+child", 2)
    with pytest.raises(SandboxViolation, match=r"D\._data is refused"):
        run("class D(dict):\n    pass\nreturn D()._data")  # a library base's private name


def test_super_init_cannot_reinitialise_library_objects() -> None:
    with pytest.raises(SandboxViolation, match=r"super\.__init__ is refused"):
        run("super(type(np), np).__init__('math')")
    assert np.__name__ == "numpy"


def test_host_objects_never_hand_out_sockets_or_frames() -> None:
    class Api:
        def __init__(self) -> None:
            self.sock = _FakeSocket()

    with pytest.raises(SandboxViolation, match=r"Api\.sock is refused: it is a socket\.socket"):
        run("return team['api'].sock", team={"api": Api()})


class _FakeSocket:
    """An object whose type claims the socket module (no real socket needed)."""


_FakeSocket.__module__ = "socket"
_FakeSocket.__qualname__ = "socket"


def test_getattr_hasattr_and_setattr_follow_the_same_rules() -> None:
    assert run("return getattr(self, 'missing', 7), hasattr(np, 'no_such_thing')") == (7, False)
    with pytest.raises(SandboxViolation, match=r"numpy\.f2py is refused"):
        run("return hasattr(np, 'f2py')")  # refusals are loud, never a quiet False
    with pytest.raises(SandboxViolation, match="dunder attributes are off limits"):
        run("setattr(self, '__class__', int)")
    assert run("setattr(self, 'x', 3)\nreturn self.x") == 3


def test_isinstance_with_type_and_real_container_types_work() -> None:
    body = "return isinstance(int, type), isinstance(1, type), type(1) is int, dict.fromkeys('ab')"
    assert run(body) == (True, False, True, {"a": None, "b": None})


def test_c_level_imports_from_inside_strategy_code_are_served() -> None:
    """C code imports through the calling frame's builtins (PyImport_Import): numpy's
    ndarray.mean() imports numpy._core._methods that way. Those imports are the
    library's; refusing them (the module is private) would break plain numpy calls."""
    import_module = ctypes.pythonapi.PyImport_ImportModule
    import_module.restype = ctypes.py_object
    import_module.argtypes = [ctypes.c_char_p]
    c_import = functools.partial(import_module, b"numpy._core._methods")
    team = {"c_import": c_import}
    # The import is served (the hook does not refuse it); the private module it returns is
    # then refused to strategy code like any value it may not hold.
    with pytest.raises(SandboxViolation, match=r"returned is the module numpy\._core\._methods"):
        run("return team['c_import']()", team=team)
    assert "numpy._core._methods" in sys.modules
    assert run("return float(np.ones(3).mean())") == 1.0


# -- the guard objects themselves -------------------------------------------------------


def test_print_sink_truncates_with_a_note() -> None:
    sink = PrintSink(limit=10)
    sink.write("0123456")
    sink.write("789abc")
    assert sink.text() == "0123456789\n[print output truncated at 10 characters]\n"
    sink.reset()
    assert sink.text() == ""


def test_iterating_or_indexing_a_namespace_is_refused() -> None:
    guards = Guards(ImportPolicy())
    with pytest.raises(SandboxViolation, match="iterating over a namespace"):
        guards.iter(vars(math))
    with pytest.raises(SandboxViolation, match="indexing a namespace"):
        guards.getitem(vars(math), "sqrt")
    with pytest.raises(SandboxViolation, match="indexing a namespace"):
        guards.getitem(type.__dict__, "mro")
    assert guards.getitem({"a": 1}, "a") == 1


def test_write_guard_decisions() -> None:
    guards = Guards(ImportPolicy())
    mine = {"k": 1}
    assert guards.write(mine) is mine
    with pytest.raises(SandboxViolation, match="cannot change the module math"):
        guards.write(math)
    with pytest.raises(SandboxViolation, match="cannot change function"):
        guards.write(lambda: None)
    writer = guards.write(np.zeros(2))
    writer[0] = 1.0  # items of numpy data: yes
    with pytest.raises(SandboxViolation, match=r"cannot set numpy\.ndarray\.shape"):
        writer.shape = (2, 1)


def test_guarded_type_refuses_class_creation_but_answers_isinstance() -> None:
    guarded = GuardedType()
    assert guarded(1) is int
    assert isinstance(int, guarded)  # type: ignore[misc]
    with pytest.raises(SandboxViolation, match="three arguments"):
        guarded("X", (), {})
