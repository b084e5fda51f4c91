"""check_strategy, load_strategy and format_team_traceback on whole strategies."""

from __future__ import annotations

import builtins
import importlib
import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sandbox.worker.compiler import (
    MAX_FILE_BYTES,
    MAX_FILES,
    Problem,
    StrategyRejected,
    check_strategy,
    load_strategy,
)
from sandbox.worker.policy import DEFAULT_PRELOAD, ImportPolicy
from sandbox.worker.tracebacks import format_team_traceback

for _name in DEFAULT_PRELOAD:  # what the worker's warm parent does before forking
    importlib.import_module(_name)

POLICY = ImportPolicy()
STARTER = Path(__file__).resolve().parents[3] / "strategy_starter"
SIGNAL_KEYS = {"symbol", "action", "quantity", "order_type", "limit_price", "reason"}


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


MINIMAL = src(
    """
    class S:
        def __init__(self, params=None):
            self.params = params

        def generate_signal(self, team, bars, current_prices):
            return None
    """
)


def make_bars(n: int = 60) -> dict[str, dict[str, np.ndarray]]:
    """Read-only bars: AAA rises, BBB falls then drops hard at the end, CCC is flat."""
    minutes = np.datetime64("2026-03-12T13:30", "s") + np.arange(n) * np.timedelta64(60, "s")
    closes = {
        "AAA": np.linspace(100.0, 130.0, n),
        "BBB": np.concatenate([np.full(n - 1, 50.0) + np.sin(np.arange(n - 1)), [40.0]]),
        "CCC": np.full(n, 20.0),
    }
    bars = {}
    for symbol, close in closes.items():
        columns = {
            "timestamp": minutes.copy(),
            "open": close.copy(),
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close.copy(),
            "volume": np.full(n, 1000.0),
        }
        for column in columns.values():
            column.flags.writeable = False
        bars[symbol] = columns
    return bars


def team(cash: float = 100_000.0, positions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "t1", "name": "T", "cash": cash, "positions": positions or {}, "params": {}}


def assert_valid_signals(output: Any, symbols: set[str]) -> list[dict[str, Any]]:
    signals = [] if output is None else [output] if isinstance(output, dict) else output
    assert isinstance(signals, list)
    for signal in signals:
        assert set(signal) <= SIGNAL_KEYS
        assert signal["symbol"] in symbols
        assert signal["action"] in ("buy", "sell")
        assert signal["quantity"] > 0
    return signals


# -- check_strategy --------------------------------------------------------------------


def test_every_problem_in_every_file_is_reported_at_once_with_its_line() -> None:
    strategy = src(
        """
        import math

        import os


        class S:
            def generate_signal(self, team, bars, current_prices):
                if bars:
                    import subprocess
                    return None
                x = 1
                return x.__class__
        """
    )
    helpers = "def f(:\n    pass\n"
    problems = check_strategy({"strategy.py": strategy, "helpers.py": helpers}, "S", POLICY)
    assert [(p.file, p.line) for p in problems] == [
        ("strategy.py", 3),
        ("strategy.py", 9),
        ("strategy.py", 12),
        ("helpers.py", 1),
    ]
    assert problems[0].message.startswith("import of os refused: os is never available")
    assert problems[1].message.startswith("import of subprocess refused")
    assert problems[2].message == (
        '"__class__" is an invalid attribute name because it starts with "_".'
    )
    assert problems[3].message.startswith("syntax error:")


def test_problem_renders_as_file_line_message() -> None:
    assert str(Problem("strategy.py", 3, "boom")) == "strategy.py:3: boom"
    assert str(Problem("<upload>", None, "boom")) == "<upload>: boom"


def test_a_clean_strategy_has_no_problems() -> None:
    assert check_strategy({"strategy.py": MINIMAL}, "S", POLICY) == []


def test_the_organisers_blacklist_is_reported_by_name_and_line() -> None:
    files = {"strategy.py": "import math\nimport pandas as pd\n" + MINIMAL}
    (problem,) = check_strategy(files, "S", ImportPolicy(blocked=frozenset({"pandas"})))
    assert str(problem) == (
        "strategy.py:2: import of pandas refused: pandas is blocked by the organisers of "
        "this competition"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("data.csv", "only .py files are code"),
        ("sub/helpers.py", "subfolders are not supported"),
        ("my-helpers.py", "'my-helpers' is not a valid module name"),
        ("class.py", "'class' is not a valid module name"),
        ("random.py", "random.py shadows the module random: rename it"),
        ("numpy.py", "numpy.py shadows the module numpy: rename it"),
        ("os.py", "os.py shadows the module os: rename it"),
    ],
)
def test_file_names_that_cannot_be_modules(name: str, message: str) -> None:
    (problem,) = check_strategy({"strategy.py": MINIMAL, name: "x = 1\n"}, "S", POLICY)
    assert (problem.file, problem.line) == (name, None)
    assert problem.message.startswith(message)


def test_file_count_and_size_limits() -> None:
    many = {f"m{i}.py": "x = 1\n" for i in range(MAX_FILES)} | {"strategy.py": MINIMAL}
    (problem,) = check_strategy(many, "S", POLICY)
    assert problem.message == f"{MAX_FILES + 1} files: at most {MAX_FILES}"
    big = {"strategy.py": MINIMAL, "big.py": "#" * (MAX_FILE_BYTES + 1)}
    (problem,) = check_strategy(big, "S", POLICY)
    assert (problem.file, problem.message) == ("big.py", "the file is larger than 512 KiB")


def test_an_empty_package_init_is_accepted_and_one_with_code_is_not() -> None:
    files = {"strategy.py": MINIMAL, "__init__.py": '"""My package."""\n'}
    assert check_strategy(files, "S", POLICY) == []
    files["__init__.py"] = "x = 1\n"
    (problem,) = check_strategy(files, "S", POLICY)
    assert problem.message == "code in __init__.py is not supported: move it to a module"


def test_the_main_module_is_strategy_py_or_the_single_file() -> None:
    assert check_strategy({"momentum.py": MINIMAL}, "S", POLICY) == []
    (problem,) = check_strategy({"a.py": MINIMAL, "b.py": "x = 1\n"}, "S", POLICY)
    assert str(problem) == (
        "<upload>: several modules and none is strategy.py: the main module must be strategy.py"
    )


def test_entry_point_must_exist_and_have_generate_signal() -> None:
    (missing,) = check_strategy({"strategy.py": MINIMAL}, "Nope", POLICY)
    assert str(missing) == "strategy.py: no class Nope in strategy.py (classes: S)"
    no_method = "import math\n\nclass S:\n    def run(self):\n        pass\n"
    (problem,) = check_strategy({"strategy.py": no_method}, "S", POLICY)
    assert str(problem) == "strategy.py:3: class S has no generate_signal method"


def test_entry_point_may_inherit_generate_signal_or_be_imported_from_a_sibling() -> None:
    base = src(
        """
        class Base:
            def generate_signal(self, team, bars, current_prices):
                return self.decide()
        """
    )
    child = src(
        """
        from .base import Base


        class S(Base):
            def __init__(self, params=None):
                pass

            def decide(self):
                return "decided"
        """
    )
    files = {"strategy.py": "from .child import S\n", "child.py": child, "base.py": base}
    assert check_strategy(files, "S", POLICY) == []
    loaded = load_strategy(files, "S", None, POLICY)
    assert loaded.call(team(), {}, {}).output == "decided"


def test_imports_of_team_modules_that_do_not_exist() -> None:
    strategy = "import helperz\nfrom .tools import x\nfrom . import gone\n" + MINIMAL
    problems = check_strategy({"strategy.py": strategy}, "S", POLICY)
    assert [str(p) for p in problems] == [
        "strategy.py:1: import of helperz refused: helperz is not on this competition's "
        "allowlist (allowed: " + ", ".join(sorted(POLICY.allowed)) + "); nor is there a "
        "helperz.py in the upload",
        "strategy.py:2: there is no tools.py in the upload",
        "strategy.py:3: there is no gone.py in the upload",
    ]


def test_star_imports_are_refused() -> None:
    (problem,) = check_strategy({"strategy.py": "from math import *\n" + MINIMAL}, "S", POLICY)
    assert str(problem) == 'strategy.py:1: "*" imports are not allowed.'


# -- load_strategy ---------------------------------------------------------------------


def test_load_strategy_rejects_with_the_same_problems_and_runs_nothing() -> None:
    files = {"strategy.py": "print('ran')\nimport os\n" + MINIMAL}
    with pytest.raises(StrategyRejected) as caught:
        load_strategy(files, "S", None, POLICY)
    assert caught.value.problems == check_strategy(files, "S", POLICY)
    assert "strategy.py:2: import of os refused" in str(caught.value)


def test_a_package_whose_modules_import_each_other_loads_and_runs() -> None:
    strategy = src(
        """
        from __future__ import annotations

        from dataclasses import dataclass

        import helpers
        from . import indicators
        from .helpers import scale, _private


        @dataclass
        class Config:
            factor: float = 2.0


        class S:
            def __init__(self, params: dict | None = None):
                self.config = Config(**(params or {}))
                self.calls = 0

            def generate_signal(self, team, bars, current_prices):
                self.calls += 1
                last = indicators.last_close(bars["AAA"])
                return {
                    "scaled": scale(last, self.config.factor),
                    "double": helpers.twice(last),
                    "private": _private(),
                    "calls": self.calls,
                }
        """
    )
    helpers = src(
        """
        from . import indicators  # a cycle: indicators imports helpers too


        def scale(x, factor):
            return x * factor


        def twice(x):
            return indicators.times(x, 2)


        def _private():
            return "mine"
        """
    )
    indicators = src(
        """
        import helpers


        def last_close(window):
            return float(window["close"][-1])


        def times(x, n):
            return x * n


        def uses_helpers(x):
            return helpers.scale(x, 1)
        """
    )
    files = {"strategy.py": strategy, "helpers.py": helpers, "indicators.py": indicators}
    loaded = load_strategy(files, "S", {"factor": 3.0}, POLICY)
    bars = make_bars()
    assert loaded.call(team(), bars, {}).output == {
        "scaled": 390.0,
        "double": 260.0,
        "private": "mine",
        "calls": 1,
    }
    assert loaded.call(team(), bars, {}).output["calls"] == 2  # state lives across calls


def test_params_are_a_copy() -> None:
    strategy = src(
        """
        class S:
            def __init__(self, params=None):
                params["symbols"].append("ZZZ")
                self.params = params

            def generate_signal(self, team, bars, current_prices):
                return self.params
        """
    )
    params = {"symbols": ["AAA"]}
    loaded = load_strategy({"strategy.py": strategy}, "S", params, POLICY)
    assert loaded.call(team(), {}, {}).output == {"symbols": ["AAA", "ZZZ"]}
    assert params == {"symbols": ["AAA"]}


@pytest.mark.parametrize(
    ("path", "entry_point", "params"),
    [
        (STARTER / "strategy.py", "MomentumStrategy", {"rebalance_every": 1, "lookback": 10}),
        (STARTER / "examples" / "mean_reversion.py", "MeanReversionStrategy", {"window": 20}),
        (STARTER / "examples" / "buy_and_hold.py", "BuyAndHoldStrategy", {"count": 2}),
    ],
)
def test_starter_strategies_load_and_return_valid_signals(
    path: Path, entry_point: str, params: dict[str, Any]
) -> None:
    files = {"strategy.py": path.read_text()}
    assert check_strategy(files, entry_point, POLICY) == []
    loaded = load_strategy(files, entry_point, params, POLICY)
    bars = make_bars()
    prices = {symbol: float(window["close"][-1]) for symbol, window in bars.items()}
    signals = assert_valid_signals(loaded.call(team(), bars, prices).output, set(bars))
    assert any(s["action"] == "buy" for s in signals)
    for window in bars.values():  # the read-only bars were not touched
        assert not window["close"].flags.writeable


def test_momentum_starter_buys_the_riser_and_sells_what_fell_out() -> None:
    files = {"strategy.py": (STARTER / "strategy.py").read_text()}
    params = {"rebalance_every": 1, "lookback": 10, "top": 1}
    loaded = load_strategy(files, "MomentumStrategy", params, POLICY)
    bars = make_bars()
    prices = {symbol: float(window["close"][-1]) for symbol, window in bars.items()}
    held = team(positions={"CCC": {"quantity": 10.0, "avg_cost": 20.0}})
    signals = assert_valid_signals(loaded.call(held, bars, prices).output, set(bars))
    assert [(s["symbol"], s["action"]) for s in signals] == [("CCC", "sell"), ("AAA", "buy")]


def test_the_loader_never_opens_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"file opened: {args}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    files = {"strategy.py": MINIMAL.replace("return None", "return 1 / 0")}
    loaded = load_strategy(files, "S", None, POLICY)
    with pytest.raises(ZeroDivisionError) as caught:
        loaded.call(team(), {}, {})
    assert "strategy.py:6 in generate_signal: return 1 / 0" in format_team_traceback(
        caught.value, files
    )


def test_allowed_but_not_preloaded_modules_fail_with_a_clear_import_error() -> None:
    policy = ImportPolicy(allowed=POLICY.allowed | {"zz_not_installed"})
    files = {"strategy.py": "import zz_not_installed\n" + MINIMAL}
    assert check_strategy(files, "S", policy) == []
    with pytest.raises(ImportError, match="zz_not_installed is allowed but not preloaded"):
        load_strategy(files, "S", None, policy)


def test_importing_a_missing_name_from_a_team_module_is_an_import_error() -> None:
    files = {"strategy.py": "from helpers import nope\n" + MINIMAL, "helpers.py": "x = 1\n"}
    with pytest.raises(ImportError, match="cannot import name 'nope' from 'helpers'"):
        load_strategy(files, "S", None, POLICY)


# -- printing ----------------------------------------------------------------------------


def test_print_is_captured_per_call_with_a_limit() -> None:
    strategy = src(
        """
        print("loading")


        class S:
            def __init__(self, params=None):
                print("init", params)

            def generate_signal(self, team, bars, current_prices):
                for i in range(team["lines"]):
                    print("line", i)
                if team.get("fail"):
                    raise ValueError("after printing")
                return len(printed)
        """
    )
    loaded = load_strategy({"strategy.py": strategy}, "S", {"a": 1}, POLICY)
    assert loaded.load_printed == "loading\ninit {'a': 1}\n"
    first = loaded.call({"lines": 2}, {}, {})
    assert first.printed == "line 0\nline 1\n"
    assert first.output == len("line 0\nline 1\n")  # RestrictedPython's `printed` works too
    big = loaded.call({"lines": 1000}, {}, {})
    assert big.printed.endswith("\n[print output truncated at 4000 characters]\n")
    assert len(big.printed) == 4000 + len("\n[print output truncated at 4000 characters]\n")
    assert big.printed.startswith("line 0\n")
    with pytest.raises(ValueError, match="after printing"):
        loaded.call({"lines": 1, "fail": True}, {}, {})
    assert loaded.printed == "line 0\n"  # the worker can still report it


# -- tracebacks ----------------------------------------------------------------------------


def test_tracebacks_show_only_the_teams_frames_and_lines() -> None:
    strategy = src(
        """
        import numpy as np

        import helpers


        class S:
            def __init__(self, params=None):
                pass

            def generate_signal(self, team, bars, current_prices):
                return helpers.ratio(np.ones(2), 0)
        """
    )
    helpers = src(
        """
        def ratio(values, divisor):
            total = float(values.sum())
            return total // divisor
        """
    )
    files = {"strategy.py": strategy, "helpers.py": helpers}
    loaded = load_strategy(files, "S", None, POLICY)
    with pytest.raises(ZeroDivisionError) as caught:
        loaded.call(team(), {}, {})
    assert format_team_traceback(caught.value, files) == "\n".join(
        [
            "ZeroDivisionError: float floor division by zero",
            "  strategy.py:11 in generate_signal: return helpers.ratio(np.ones(2), 0)",
            "  helpers.py:3 in ratio: return total // divisor",
        ]
    )


def test_load_time_faults_propagate_and_are_trimmed_too() -> None:
    in_module = {"strategy.py": "import helpers\n" + MINIMAL, "helpers.py": "x = [][1]\n"}
    with pytest.raises(IndexError) as caught:
        load_strategy(in_module, "S", None, POLICY)
    text = format_team_traceback(caught.value, in_module)
    assert text.splitlines() == [
        "IndexError: list index out of range",
        "  strategy.py:1 in <module>: import helpers",
        "  helpers.py:1 in <module>: x = [][1]",
    ]
    in_init = {"strategy.py": MINIMAL.replace("self.params = params", "self.x = params['x']")}
    with pytest.raises(KeyError) as caught:
        load_strategy(in_init, "S", None, POLICY)
    text = format_team_traceback(caught.value, in_init)
    assert text.splitlines() == [
        "KeyError: 'x'",
        "  strategy.py:3 in __init__: self.x = params['x']",
    ]
    assert "/" not in text.replace("//", "")  # no host path, no sandbox frame


def test_refusals_inside_library_calls_name_the_team_line() -> None:
    strategy = MINIMAL.replace("return None", "import numpy as np\n        return np.load('x')")
    files = {"strategy.py": strategy}
    loaded = load_strategy(files, "S", None, POLICY)
    with pytest.raises(Exception) as caught:  # noqa: PT011 (the type is asserted below)
        loaded.call(team(), {}, {})
    assert format_team_traceback(caught.value, files).splitlines() == [
        "SandboxViolation: numpy.load is refused: it reads or writes files",
        "  strategy.py:7 in generate_signal: return np.load('x')",
    ]


def test_an_import_cycle_between_the_teams_modules_is_a_problem_not_a_crash() -> None:
    files = {
        "strategy.py": "from a import S\n",
        "a.py": "from b import S\n",
        "b.py": "from a import S\n",
    }
    problems = [str(p) for p in check_strategy(files, "S")]
    assert any("no class S in strategy.py" in p for p in problems), problems


def test_a_chain_of_two_thousand_classes_is_walked_without_recursion() -> None:
    chain = ["class C0:\n    def generate_signal(self, team, bars, prices):\n        return None\n"]
    chain += [f"class C{i}(C{i - 1}):\n    pass\n" for i in range(1, 2000)]
    problems = check_strategy({"strategy.py": "\n".join(chain)}, "C1999")
    assert not any("generate_signal" in str(p) for p in problems), problems
