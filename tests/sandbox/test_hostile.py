"""Hostile strategies against the whole sandbox: each file in tests/fixtures/hostile/ is one
attack, run through a real SandboxRunner (zygote, hardened workers, supervisor).

Every test asserts a specific outcome: refused at compile time (LoadOutcome "rejected",
citing the file, line and construct), refused at run time (the error names the refusal and
the team's line), or contained, with evidence from outside the worker: the file does not
exist, the listener accepted nothing, the other team's checksum is right, the host's secrets
appear in no output, no process of the team's uid survives. After every call the secrets of
the host (an environment variable set before the runner started, a key file) are looked for
in everything that came back.

The `escape_*` attacks try to get out of the Python guards through a hole this suite found
(pandas' internal Apply classes look attributes up by name; `pandas.core` is now refused,
see test_guards_refuse_the_pandas_apply_str_escape) and then try the operating system:
those tests accept either layer stopping them and assert exactly what that layer did. Today
the guards stop them; the OS layer's refusals of the same actions are asserted in a worker
hardened by the same `harden()` in test_hardening.py.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine.ports import StrategyResult, TeamCall
from sandbox.host.supervisor import LoadOutcome, SandboxRunner, SandboxSettings, TeamCode

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "fixtures" / "hostile"
DATA_FILE = REPO / "data" / "README.md"
MARKER = "# refused here"
SECRET_NAME = "ARENA_HOSTILE_TEST_SECRET"
BUDGET = 2.0  # hostile calls are quick; the slack is for a busy 2-core machine
TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
EPERM = f"OS-REFUSED {errno.EPERM}"
FIELDS = ("open", "high", "low", "close", "volume")


def make_window() -> dict[str, dict[str, np.ndarray]]:
    stamps = np.arange(
        np.datetime64("2026-03-12T14:00:00"), np.datetime64("2026-03-12T14:05:00"), 60
    ).astype("datetime64[s]")
    window: dict[str, dict[str, np.ndarray]] = {}
    for offset, symbol in enumerate(("AAA", "BBB")):
        close = np.array([10.25, 10.5, 10.75, 11.0, 11.125]) + offset * 100
        window[symbol] = {
            "timestamp": stamps,
            "open": close - 0.125,
            "high": close + 0.25,
            "low": close - 0.375,
            "close": close,
            "volume": np.array([1000.0, 1500.0, 1200.0, 900.0, 1100.0]) * (offset + 1),
        }
    return window


WINDOW = make_window()
PRICES = {symbol: float(columns["close"][-1]) for symbol, columns in WINDOW.items()}


def checksum_lines(window: Any) -> list[str]:
    """What VICTIM_CHECKSUM prints, computed the same way on the host's own arrays."""
    lines = []
    for symbol in sorted(window):
        total = 0.0
        for name in FIELDS:
            total += float(np.sum(window[symbol][name]))
        lines.append(f"{symbol} {total!r} {float(window[symbol]['close'][0])!r}")
    return lines


TRUE_CHECKSUM = checksum_lines(WINDOW)

# Victims are not attacks: they live here, not in the fixture folder.
VICTIM_CHECKSUM = """
import numpy as np


class Victim:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        for symbol in sorted(bars):
            total = 0.0
            for name in ("open", "high", "low", "close", "volume"):
                total += float(np.sum(bars[symbol][name]))
            print(symbol, repr(total), repr(float(bars[symbol]["close"][0])))
        return None
"""
VICTIM_GLOBALS = """
import math

import numpy as np
import pandas as pd


class Victim:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        seen = {
            "precision": np.get_printoptions()["precision"],
            "err": np.geterr(),
            "max_rows": pd.get_option("display.max_rows"),
            "mean": float(np.mean([1.0, 2.0, 3.0])),
            "array_mean": float(np.array([1.0, 2.0, 3.0]).mean()),
            "sqrt": math.sqrt(16.0),
            "repr": repr(np.array([1.0 / 3.0])),
        }
        print(repr(seen))
        return None
"""
DEFAULTS = {
    "precision": 8,
    "err": {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"},
    "max_rows": 60,
    "mean": 2.0,
    "array_mean": 2.0,
    "sqrt": 4.0,
    "repr": "array([0.33333333])",
}
VICTIM_TOKEN = "VICTIM-TOKEN-" + secrets.token_hex(8)
VICTIM_HOLDER = """
class Victim:
    def __init__(self, params=None):
        self.token = params["secret"]
        self.history = [self.token, {"token": self.token}]

    def generate_signal(self, team, bars, current_prices):
        return {"symbol": "AAA", "action": "buy", "quantity": 1, "reason": "holding"}
"""


# -- the arena ---------------------------------------------------------------------------------


def header(team: str) -> dict[str, Any]:
    return {"id": team, "name": team, "cash": 100_000.0, "positions": {}, "params": {}}


class Listener:
    """A real TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.accepted: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, address = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(address)
            connection.close()

    def prove_it_listens(self) -> None:
        """A connection from the host is seen: so 'accepted nothing' means something."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2):
            pass
        deadline = time.monotonic() + 2
        while not self.accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.accepted) == 1
        self.accepted.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


@dataclass
class Arena:
    runner: SandboxRunner
    base: Path
    env_secret: str
    key_secret: str
    listener: Listener
    seen: list[str] = field(default_factory=list)

    def params(self, name: str) -> dict[str, Any]:
        return {
            "key_file": str(self.base / "broker.key"),
            "data_file": str(DATA_FILE),
            "out_file": str(self.out_file(name)),
            "marker_file": str(self.marker_file(name)),
            "url": f"http://127.0.0.1:{self.listener.port}/",
            "port": self.listener.port,
            "host_pid": os.getpid(),
            "secret_name": SECRET_NAME,
        }

    def out_file(self, name: str) -> Path:
        return self.base / f"{name}.out"

    def marker_file(self, name: str) -> Path:
        return self.base / f"{name}.marker"

    def load(
        self,
        name: str,
        source: str | None = None,
        entry_point: str = "Attack",
        params: dict[str, Any] | None = None,
    ) -> LoadOutcome:
        text = source if source is not None else (HOSTILE / f"{name}.py").read_text()
        code = TeamCode(
            files={"strategy.py": text},
            entry_point=entry_point,
            params=self.params(name) if params is None else params,
            version="v1",
        )
        outcome = self.runner.load(name, code)
        self.check_no_leak(outcome.error, repr(outcome.layers))
        return outcome

    def tick(self, *teams: str) -> dict[str, StrategyResult]:
        calls = [TeamCall(t, header(t)) for t in teams]
        results = self.runner.run_tick(TICK, WINDOW, PRICES, calls)
        for result in results.values():
            self.check_no_leak(repr(result.output), result.printed, result.error or "")
        return results

    def call(self, name: str) -> StrategyResult:
        return self.tick(name)[name]

    def check_no_leak(self, *texts: str) -> None:
        """The host's secrets never appear in anything that comes back from a worker."""
        readme = "Run output lives here"
        for text in texts:
            self.seen.append(text)
            assert self.env_secret not in text, "the host's environment leaked"
            assert self.key_secret not in text, "the host's key file leaked"
            assert readme not in text, "a file of the host's data/ directory leaked"
            assert "root:x:0:0" not in text, "/etc/passwd leaked"

    def check_contained(self, name: str) -> None:
        """Nothing reached outside: no file written, no connection made, no process started."""
        assert not self.out_file(name).exists(), "the attack created a file"
        assert not self.marker_file(name).exists(), "the attack ran a program"
        assert self.listener.accepted == [], "the attack connected to the listener"


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    base = tmp_path_factory.mktemp("hostile")
    os.chmod(base, 0o777)  # even a team uid could write here, were it not for the sandbox
    env_secret = "env-secret-" + secrets.token_hex(12)
    key_secret = "key-secret-" + secrets.token_hex(12)
    (base / "broker.key").write_text(key_secret + "\n")
    os.chmod(base / "broker.key", 0o644)
    listener = Listener()
    listener.prove_it_listens()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_NAME, env_secret)  # in the host before the runner starts
        runner = SandboxRunner(SandboxSettings(budget_seconds=BUDGET))
        try:
            yield Arena(runner, base, env_secret, key_secret, listener)
        finally:
            runner.close()
            listener.close()


def marker_lines(name: str) -> list[int]:
    lines = (HOSTILE / f"{name}.py").read_text().splitlines()
    found = [number for number, line in enumerate(lines, 1) if MARKER in line]
    assert found, f"{name}.py marks no line with {MARKER!r}"
    return found


def first_line(result: StrategyResult) -> str:
    assert result.error is not None, f"not refused: output={result.output!r}"
    return result.error.splitlines()[0]


# -- refused at compile time -------------------------------------------------------------------

# (fixture, fragments that the problems on its marked lines must contain)
STATIC: dict[str, list[str]] = {
    "read_etc_passwd_open": ["open is not available: strategies cannot read or write files"],
    "read_key_pathlib": ["import of pathlib refused: pathlib is never available"],
    "read_key_io": ["import of io refused: io is never available"],
    "read_csv_from_import": ["from pandas import read_csv refused: it reads or writes files"],
    "write_via_builtins_dict": ['"__builtins__" is an invalid variable name'],
    "socket_import": ["import of socket refused: socket is never available"],
    "socket_urllib": ["import of urllib.request refused", "not on this competition's allowlist"],
    "process_os_system": ["import of os refused: os is never available"],
    "process_subprocess": ["import of subprocess refused: subprocess is never available"],
    "process_os_fork": ["import of os refused: os is never available"],
    "process_pty": ["import of pty refused: pty is not on this competition's allowlist"],
    "kill_other_pids": ["import of os refused", "import of signal refused"],
    "environ_os": ["import of os refused: os is never available"],
    "sys_modules_import": ["import of sys refused: sys is never available"],
    "frames_sys_getframe": ["import of sys refused: sys is never available"],
    "frames_generator_gi_frame": ['"gi_frame" is a restricted name', '"f_back" is a restricted'],
    "frames_exception_traceback": ['"__traceback__" is an invalid attribute name'],
    "frames_traceback_tb_frame": ['"tb_frame" is a restricted name'],
    "gc_get_objects": ["import of gc refused: gc is never available"],
    "subclasses_dunder_chain": [
        '"__class__" is an invalid attribute name',
        '"__base__" is an invalid attribute name',
        '"__subclasses__" is an invalid attribute name',
    ],
    "fstring_dunder_repr": [
        '"__class__" is an invalid attribute name',
        '"__mro__" is an invalid attribute name',
    ],
    "numpy_f2py_import": ["import of numpy.f2py refused: numpy.f2py is refused"],
    "numpy_ctypeslib_import": ["from numpy import ctypeslib refused: it reaches raw memory"],
    "pandas_compat_import": ["from pandas import compat refused: pandas.compat is refused"],
    "dunder_import_os": ['"__import__" is an invalid variable name'],
    "importlib_import": ["import of importlib refused: importlib is never available"],
    "exec_string": ["Exec calls are not allowed."],
    "eval_string": ["Eval calls are not allowed."],
    "compile_code": ["compile is not available: strategies cannot compile or run code"],
    "breakpoint_call": ["breakpoint is not available"],
    "globals_namespace": ["globals is not available: namespaces are off limits"],
}


@pytest.mark.parametrize("name", sorted(STATIC))
def test_refused_at_compile_time(arena: Arena, name: str) -> None:
    outcome = arena.load(name)
    assert (outcome.ok, outcome.kind) == (False, "rejected"), outcome
    problems = outcome.error.splitlines()
    assert all(p.startswith("strategy.py:") for p in problems), problems
    cited = []
    for line in marker_lines(name):
        at_line = [p for p in problems if p.startswith(f"strategy.py:{line}: ")]
        assert at_line, f"nothing cited at line {line}: {problems}"
        cited += at_line
    for fragment in STATIC[name]:
        assert any(fragment in p for p in cited), (fragment, cited)
    # A refused upload never runs: the team's calls say so too, and nothing happened outside.
    result = arena.call(name)
    assert (result.error_kind, result.output) == ("rejected", None)
    assert "restarting the strategy failed" in (result.error or "")
    arena.check_contained(name)


# -- refused at run time -----------------------------------------------------------------------

PRIVATE = 'names starting with "_" are private'
# (fixture, the start of the first line of the team's error: the exception and what refused)
RUNTIME: dict[str, str] = {
    "read_data_dir_pandas": "SandboxViolation: pandas.read_csv is refused: it reads or writes",
    "read_key_numpy_loadtxt": "SandboxViolation: numpy.loadtxt is refused: it reads or writes",
    "read_key_numpy_fromfile": "SandboxViolation: numpy.fromfile is refused: it reads or writes",
    "read_key_getattr_computed": "SandboxViolation: pandas.read_pickle is refused: it reads",
    "write_numpy_savetxt": "SandboxViolation: numpy.savetxt is refused: it reads or writes",
    "write_numpy_save": "SandboxViolation: numpy.save is refused: it reads or writes files",
    "write_ndarray_tofile": "SandboxViolation: numpy.ndarray.tofile is refused: it reads or",
    "write_dataframe_to_csv": "SandboxViolation: pandas.DataFrame.to_csv is refused: it writes",
    "write_dataframe_to_pickle": "SandboxViolation: pandas.DataFrame.to_pickle is refused",
    "write_dataframe_apply_name": "SandboxViolation: pandas.DataFrame.apply('to_csv') is refused",
    "socket_numpy_datasource": "SandboxViolation: numpy.DataSource is refused: it reads or",
    "socket_pandas_read_url": "SandboxViolation: pandas.read_json is refused: it reads or writes",
    "socket_pandas_io_chain": "SandboxViolation: pandas.io is refused: it reads and writes files",
    "environ_pandas_compat": "SandboxViolation: pandas.compat is refused: it re-exports",
    "environ_pandas_config_chain": "SandboxViolation: pandas.core is refused",
    "sys_modules_numpy_chain": "SandboxViolation: numpy.matrixlib.defmatrix.sys is never",
    "frames_getattr_gi_frame": "SandboxViolation: generator.gi_frame is refused: frames and code",
    "frames_getattr_traceback": "SandboxViolation: ZeroDivisionError.__traceback__ is refused",
    "subclasses_getattr": "SandboxViolation: tuple.__class__ is refused: " + PRIVATE,
    "getattr_builtin_self": "SandboxViolation: builtin_function_or_method.__self__ is refused",
    "format_string_traversal": "SandboxViolation: str.format is refused: a format string reads",
    "format_map_traversal": "SandboxViolation: str.format_map is refused: a format string",
    "string_formatter": "SandboxViolation: string.Formatter is refused: string.Formatter is not",
    "numpy_f2py_attr": "SandboxViolation: numpy.f2py is refused: it compiles and runs Fortran",
    "numpy_ctypeslib_attr": "SandboxViolation: numpy.ctypeslib is refused: it loads shared",
    "ndarray_ctypes_attr": "SandboxViolation: numpy.ndarray.ctypes is refused: it reaches raw",
    "pandas_eval_python": "SandboxViolation: pandas.eval is refused: it evaluates code",
    "dataframe_query": "SandboxViolation: pandas.DataFrame.query is refused: it evaluates code",
    "dataframe_eval": "SandboxViolation: pandas.DataFrame.eval is refused: it evaluates code",
    "type_three_args": "SandboxViolation: type() with three arguments creates a class outside",
    "api_private_socket": "SandboxViolation: sandbox.HistoryClient._sock is refused: " + PRIVATE,
    "window_private_map": "SandboxViolation: sandbox.WindowView._map is refused: " + PRIVATE,
    # Bypasses of the guards found by a red team (issue 11): values returned by calls are
    # checked, names are decided on exact strings, format strings are refused everywhere.
    "bypass_typing_get_origin_type": (
        "SandboxViolation: what typing.get_origin returned is refused: it is a metaclass (type)"
    ),
    "bypass_lying_eq_agg_eval": (
        "SandboxViolation: pandas.DataFrame.agg('eval') is refused: it evaluates code"
    ),
    "bypass_lying_startswith_to_json": (
        "SandboxViolation: pandas.DataFrame.agg('to_json') is refused: it writes files"
    ),
    "bypass_userstring_format": (
        "SandboxViolation: collections.UserString.format is refused: a format string reads"
    ),
    "bypass_userstring_format_map": (
        "SandboxViolation: collections.UserString.format_map is refused: a format string reads"
    ),
    # A second red team (issue 11): what C code calls, decorators, module names, class
    # rewriters, names hidden in list-likes pandas accepts.
    "bypass_global_enum_module_dict": (
        "SandboxViolation: enum.Enum(module='sandbox.worker.policy') is refused: a class may "
        "only name one of the strategy's own modules"
    ),
    "bypass_enum_module_keyword": (
        "SandboxViolation: enum.Enum(module='sandbox.worker.values') is refused"
    ),
    "enum_global_enum": (
        "SandboxViolation: enum.global_enum is refused: it writes into the namespace of the "
        "module a class names"
    ),
    "bypass_decorator_result": (
        "SandboxViolation: what typing.get_origin returned is refused: it is a metaclass (type)"
    ),
    "bypass_c_built_container": (
        "SandboxViolation: what typing.get_origin returned is refused: it is a metaclass (type)"
    ),
    "bypass_partial_holds_type": (
        "SandboxViolation: what functools.partial returned is refused: it is a metaclass (type)"
    ),
    "bypass_dataclass_library_class": (
        "SandboxViolation: dataclasses.dataclass(collections.UserString) is refused: it "
        "rewrites the class it is given"
    ),
    "bypass_total_ordering_library_class": (
        "SandboxViolation: functools.total_ordering(numbers.Real) is refused: it rewrites"
    ),
    "bypass_dispatch_names_array": (
        "SandboxViolation: pandas.DataFrame.agg: functions given as a numpy.ndarray are refused"
    ),
    "bypass_dispatch_names_frame": (
        "SandboxViolation: pandas.DataFrame.agg: functions given as a pandas.DataFrame are"
    ),
    "bypass_dispatch_names_pivot": (
        "SandboxViolation: pandas.pivot_table('hist') is refused: it changes library-wide"
    ),
}


@pytest.mark.parametrize("name", sorted(RUNTIME))
def test_refused_at_run_time(arena: Arena, name: str) -> None:
    outcome = arena.load(name)
    assert outcome.ok, outcome.error
    result = arena.call(name)
    assert result.error_kind == "exception"
    assert result.output is None
    assert first_line(result).startswith(RUNTIME[name]), result.error
    line = marker_lines(name)[0]
    assert f"  strategy.py:{line} in generate_signal: " in result.error
    assert "/sandbox/" not in result.error
    assert "site-packages" not in result.error
    arena.check_contained(name)


def test_pickle_round_trip_is_refused_at_both_ends(arena: Arena) -> None:
    assert arena.load("pickle_roundtrip").ok
    result = arena.call("pickle_roundtrip")
    assert result.error is None
    assert result.printed.splitlines() == [
        "savetxt: numpy.savetxt is refused: it reads or writes files",
        "read_pickle: pandas.read_pickle is refused: it reads or writes files",
    ]
    arena.check_contained("pickle_roundtrip")


def test_a_library_registry_is_a_copy_so_copy_cannot_rewrite_numpy(arena: Arena) -> None:
    """copy.dispatch_table is copyreg's registry: the strategy writes into its own copy."""
    assert arena.load("bypass_copy_dispatch_table").ok
    result = arena.call("bypass_copy_dispatch_table")
    assert (result.error, result.printed) == (None, "numpy was changed: False\n")
    again = arena.call("bypass_copy_dispatch_table")  # and on the next call too
    assert again.printed == "numpy was changed: False\n"


def test_the_history_clients_socket_cannot_be_copied_out(arena: Arena) -> None:
    assert arena.load("bypass_copy_setstate_socket").ok
    result = arena.call("bypass_copy_setstate_socket")
    assert result.error is None, result.error
    assert result.printed == "socket: []\n"


def test_a_str_subclass_cannot_smuggle_deep_data_past_the_encoder(arena: Arena) -> None:
    assert arena.load("bypass_deep_str_output").ok
    result = arena.call("bypass_deep_str_output")
    assert result.error is None, result.error
    assert result.output == {"symbol": "AAA", "action": "buy", "quantity": 1}


# -- another team's bars -----------------------------------------------------------------------

BARS: dict[str, str] = {
    "bars_setitem": "SandboxViolation: cannot write into a read-only numpy.ndarray (the bars",
    "bars_setflags": "SandboxViolation: numpy.ndarray.setflags is refused: it can make the",
    "bars_flags_assign": "SandboxViolation: cannot change numpy.flagsobj: strategy code may",
    "bars_flags_operator": "ValueError: cannot set WRITEABLE flag to True of this array",
    "bars_same_buffer": "ValueError: assignment destination is read-only",
    "bars_base": "SandboxViolation: numpy.ndarray.base is refused: it can make the shared",
    "bars_copyto": "ValueError: assignment destination is read-only",
}


@pytest.mark.parametrize("name", sorted(BARS))
def test_bars_cannot_be_changed_for_another_team(arena: Arena, name: str) -> None:
    assert arena.load("victim-bars", VICTIM_CHECKSUM, "Victim", {}).ok
    assert arena.load(name).ok
    results = arena.tick(name, "victim-bars")  # the same tick: the same published window
    assert first_line(results[name]).startswith(BARS[name]), results[name].error
    line = marker_lines(name)[0]
    assert f"  strategy.py:{line} in generate_signal: " in (results[name].error or "")
    assert results["victim-bars"].printed.splitlines() == TRUE_CHECKSUM
    later = arena.tick("victim-bars")["victim-bars"]
    assert later.printed.splitlines() == TRUE_CHECKSUM
    assert checksum_lines(WINDOW) == TRUE_CHECKSUM  # and the host's own arrays are intact


# -- process-global library state --------------------------------------------------------------

# (fixture, the refusal; None: allowed, because it changes only the team's own process)
GLOBAL_STATE: dict[str, str | None] = {
    "monkeypatch_numpy_mean": "SandboxViolation: cannot change the module numpy: modules are",
    "monkeypatch_math_sqrt": "SandboxViolation: cannot change the module math: modules are",
    "monkeypatch_ndarray_method": "SandboxViolation: cannot change numpy.ndarray: strategy",
    "pandas_set_option": "SandboxViolation: pandas.set_option is refused: it changes",
    "numpy_set_printoptions": None,
    "numpy_seterr": None,
}


def observed(result: StrategyResult) -> dict[str, Any]:
    assert result.error is None, result.error
    return ast.literal_eval(result.printed)


@pytest.mark.parametrize("name", sorted(GLOBAL_STATE))
def test_library_state_changes_stay_in_the_attackers_process(arena: Arena, name: str) -> None:
    assert arena.load("victim-globals", VICTIM_GLOBALS, "Victim", {}).ok
    assert arena.load(name).ok
    results = arena.tick(name, "victim-globals")
    refusal = GLOBAL_STATE[name]
    if refusal is None:  # allowed: it changed the attacker's own process, and only that
        assert results[name].error is None
        assert results[name].printed in ("precision 1\n", "seterr raise\n")
    else:
        assert first_line(results[name]).startswith(refusal), results[name].error
        line = marker_lines(name)[0]
        assert f"  strategy.py:{line} in generate_signal: " in (results[name].error or "")
    assert observed(results["victim-globals"]) == DEFAULTS  # the same tick
    assert observed(arena.tick("victim-globals")["victim-globals"]) == DEFAULTS  # the next


# -- escaping the Python guards: the hole, then the operating system as the boundary ------------


def precondition(condition: object, what: str) -> None:
    """For xfail tests: a broken set-up raises RuntimeError, which `raises=AssertionError`
    does not excuse, so only the assertion about the hole itself can be the expected failure."""
    if not condition:
        raise RuntimeError(f"test set-up failed: {what}")


def test_guards_refuse_the_pandas_apply_str_escape(arena: Arena) -> None:
    precondition(arena.load("escape_apply_str").ok, "load escape_apply_str")
    result = arena.call("escape_apply_str")
    assert result.output is None, f"escaped the guards: {result.output!r}"
    assert result.error_kind == "exception"
    assert "refused" in first_line(result)


def os_outcomes(result: StrategyResult) -> dict[str, str] | None:
    """label -> "DID <value>" / "OS-REFUSED <errno>"; None when the guards stopped the escape."""
    assert result.error is None, result.error
    if result.printed.startswith("ESCAPE-REFUSED "):
        assert result.printed.count("\n") == 1, "nothing may run after the refused escape"
        assert "refused" in result.printed
        return None
    outcomes = {}
    for line in result.printed.splitlines():
        label, _, rest = line.partition(" ")
        outcomes[label] = rest
    return outcomes


def run_escape(arena: Arena, name: str) -> tuple[StrategyResult, dict[str, str] | None]:
    assert arena.load(name).ok
    result = arena.call(name)
    outcomes = os_outcomes(result)
    arena.check_contained(name)
    return result, outcomes


def test_escaped_code_cannot_read_files(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_read_files")
    if outcomes is not None:
        labels = ["passwd", "key", "data", "os-open", "listdir"]
        assert outcomes == dict.fromkeys(labels, EPERM)


def test_escaped_code_cannot_write_files(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_write_file")
    if outcomes is not None:
        labels = ["open-write", "os-open-create", "mkdir", "tmp-file"]
        assert outcomes == dict.fromkeys(labels, EPERM)
    assert not Path(str(arena.out_file("escape_write_file")) + ".d").exists()
    pid = arena.runner.workers["escape_write_file"].pid
    assert not Path(f"/tmp/arena-hostile-{pid}").exists()


def test_escaped_code_cannot_connect_to_the_listener(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_socket")
    if outcomes is not None:
        assert outcomes == dict.fromkeys(["socket", "connect", "udp", "socketpair"], EPERM)
    time.sleep(0.1)  # give a connection, had there been one, time to be accepted
    assert arena.listener.accepted == []


def test_escaped_code_cannot_start_processes(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_process")
    if outcomes is not None:
        # system() cannot even start the shell: 127 << 8, "command could not be executed".
        assert outcomes == {
            "system": "DID 32512",
            "subprocess": EPERM,
            "fork": EPERM,
            "posix_spawn": EPERM,
            "exec": EPERM,
        }
    time.sleep(0.1)
    assert not arena.marker_file("escape_process").exists()


def test_escaped_code_sees_no_environment(arena: Arena) -> None:
    assert os.environ[SECRET_NAME] == arena.env_secret  # the host does have the secret
    result, outcomes = run_escape(arena, "escape_environ")
    if outcomes is not None:
        assert outcomes == {
            "environ": "{}",
            "getenv": "None",
            "proc-environ": EPERM,
            "proc-1-environ": EPERM,
        }
    assert arena.env_secret not in result.printed


def test_escaped_code_cannot_signal_other_processes(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_kill")
    if outcomes is not None:
        assert outcomes == dict.fromkeys(["host", "zygote", "everyone", "group"], EPERM)
    assert arena.runner.zygote.process.poll() is None, "the zygote was killed"
    assert arena.load("victim-bars", VICTIM_CHECKSUM, "Victim", {}).ok  # it still forks
    assert arena.tick("victim-bars")["victim-bars"].printed.splitlines() == TRUE_CHECKSUM


def status_field(pid: int, name: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(name + ":")))


def processes(where: Callable[[int], bool]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, StopIteration):
                if where(int(entry.name)):
                    found.append(int(entry.name))
    return sorted(found)


def test_escaped_fork_bomb_starts_nothing(arena: Arena) -> None:
    result, outcomes = run_escape(arena, "escape_fork_bomb")
    if outcomes is not None:
        assert result.printed == "refused 64 forked 0\n"
    worker = arena.runner.workers["escape_fork_bomb"].pid
    uid = status_field(worker, "Uid")
    assert processes(lambda p: status_field(p, "PPid") == worker) == []  # no child
    # Of this runner's processes, the team's uid runs the worker only. (Other runners on
    # the machine, e.g. a concurrent test session, hand out the same uids 20000 + n.)
    zygote = status_field(worker, "PPid")  # the zygote as the init of its PID namespace
    ours = processes(lambda p: status_field(p, "PPid") in (zygote, worker))
    assert [p for p in ours if status_field(p, "Uid") == uid] == [worker]


def test_escaped_code_cannot_grab_the_machines_descriptors(arena: Arena) -> None:
    _, outcomes = run_escape(arena, "escape_grab_fds")
    worker = arena.runner.workers["escape_grab_fds"].pid
    held = len(os.listdir(f"/proc/{worker}/fd"))
    assert held <= 32  # RLIMIT_NOFILE of a worker
    if outcomes is not None:
        grabbed = int(outcomes["grabbed"].split()[0])
        assert outcomes["grabbed"] == f"{grabbed} then errno {errno.EMFILE}"
        assert grabbed < 32
    with open(DATA_FILE) as handle:  # the host still opens files
        assert handle.readline()
    assert arena.load("victim-bars", VICTIM_CHECKSUM, "Victim", {}).ok
    assert arena.tick("victim-bars")["victim-bars"].printed.splitlines() == TRUE_CHECKSUM


def test_escaped_code_finds_no_other_team_and_no_host_objects(arena: Arena) -> None:
    assert arena.load("victim-holder", VICTIM_HOLDER, "Victim", {"secret": VICTIM_TOKEN}).ok
    assert arena.load("escape_gc_other_team").ok
    results = arena.tick("escape_gc_other_team", "victim-holder")
    assert results["victim-holder"].output["reason"] == "holding"
    attacker = results["escape_gc_other_team"]
    assert VICTIM_TOKEN not in attacker.printed
    if os_outcomes(attacker) is not None:
        lines = attacker.printed.splitlines()
        words = lines[0].split()
        assert lines[0].startswith("victim strings 0 of ")
        assert int(words[4]) > 1000  # it did look at the whole heap
        assert int(words[-1]) >= 1  # and its search finds what is there (its own parameter)
        assert lines[1] == "host modules []"


# -- holes at the boundary, reachable once the guards are escaped ------------------------------


def good_strategy() -> str:
    return (
        "class Good:\n"
        "    def __init__(self, params=None):\n"
        "        pass\n"
        "\n"
        "    def generate_signal(self, team, bars, current_prices):\n"
        '        return {"symbol": "AAA", "action": "buy", "quantity": 1}\n'
    )


def test_a_flooding_worker_cannot_block_the_host() -> None:
    runner = SandboxRunner(SandboxSettings(budget_seconds=1.0))
    try:
        source = (HOSTILE / "escape_channel_flood.py").read_text()
        flood = TeamCode({"strategy.py": source}, "Attack", {}, "v1")
        precondition(runner.load("flood", flood).ok, "load the flooder")
        good = TeamCode({"strategy.py": good_strategy()}, "Good", {}, "v1")
        precondition(runner.load("good", good).ok, "load the good team")
        calls = [TeamCall(t, header(t)) for t in ("flood", "good")]
        box: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: box.update(results=runner.run_tick(TICK, WINDOW, PRICES, calls)),
            daemon=True,
        )
        started = time.monotonic()
        thread.start()
        thread.join(timeout=2.5)
        elapsed = time.monotonic() - started
        if thread.is_alive():  # unblock the host: kill the flooding worker (ours, by pid)
            with contextlib.suppress(ProcessLookupError, KeyError):
                os.kill(runner.workers["flood"].pid, signal.SIGKILL)
            thread.join(timeout=10)
        precondition(not thread.is_alive() and "results" in box, "run_tick returned")
        assert elapsed <= 1.0 + 0.5, f"run_tick blocked for {elapsed:.1f} s"
        assert box["results"]["good"].output == {"symbol": "AAA", "action": "buy", "quantity": 1}
    finally:
        runner.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_worker_burns_no_cpu_between_calls() -> None:
    runner = SandboxRunner(SandboxSettings(budget_seconds=1.0))
    try:
        source = (HOSTILE / "escape_background_thread.py").read_text()
        spinner = TeamCode({"strategy.py": source}, "Attack", {}, "v1")
        precondition(runner.load("spinner", spinner).ok, "load the spinner")
        calls = [TeamCall("spinner", header("spinner"))]
        result = runner.run_tick(TICK, WINDOW, PRICES, calls)["spinner"]
        precondition(result.error is None, f"the spinner's call: {result.error}")
        pid = runner.workers["spinner"].pid
        before = cpu_seconds(pid)
        time.sleep(0.5)
        burned = cpu_seconds(pid) - before
        assert burned < 0.05, f"the idle worker used {burned:.2f} s of CPU in 0.5 s"
    finally:
        runner.close()  # kills the spinning worker


# -- bookkeeping -------------------------------------------------------------------------------

ESCAPES = {
    "escape_apply_str",
    "escape_read_files",
    "escape_write_file",
    "escape_socket",
    "escape_process",
    "escape_environ",
    "escape_kill",
    "escape_fork_bomb",
    "escape_grab_fds",
    "escape_gc_other_team",
    "escape_channel_flood",
    "escape_background_thread",
}


def test_every_hostile_fixture_is_exercised_and_documented() -> None:
    files = {p.stem for p in HOSTILE.glob("*.py")}
    used = set(STATIC) | set(RUNTIME) | set(BARS) | set(GLOBAL_STATE) | ESCAPES
    used |= {"pickle_roundtrip", "bypass_copy_dispatch_table", "bypass_copy_setstate_socket",
             "bypass_deep_str_output"}  # fmt: skip
    others = "\n".join(
        p.read_text()
        for p in (REPO / "tests" / "sandbox").rglob("test_*.py")
        if p.name != "test_hostile.py"
    )
    used |= {name for name in files - used if f'"{name}' in others}  # run by another module
    assert files == used
    assert len(files) >= 40
    for name in files:
        tree = ast.parse((HOSTILE / f"{name}.py").read_text())
        assert ast.get_docstring(tree), f"{name}.py says not what it tries"


def test_nothing_the_sandbox_returned_held_a_host_secret(arena: Arena) -> None:
    """Runs last in this module: every load outcome, output, print and error seen above."""
    assert len(arena.seen) > 200
    everything = "\n".join(arena.seen)
    for secret in (arena.env_secret, arena.key_secret, "root:x:0:0"):
        assert secret not in everything
