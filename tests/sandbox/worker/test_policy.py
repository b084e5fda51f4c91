"""The import policy: allowlist, built-in denylists, the organisers' blacklist, preloads."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from sandbox.worker.policy import (
    DEFAULT_ALLOWED,
    DEFAULT_PRELOAD,
    ImportPolicy,
    attribute_refusal,
    is_private_name,
)

POLICY = ImportPolicy()


@pytest.mark.parametrize(
    "name",
    ["math", "numpy", "numpy.linalg", "numpy.random", "pandas", "pandas.api.types",
     "pandas.tseries.offsets", "collections.abc", "__future__"],
)  # fmt: skip
def test_allowed_modules_and_their_submodules(name: str) -> None:
    assert POLICY.refusal(name) is None
    assert POLICY.is_allowed(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("os", "os is never available to strategies: it reaches the operating system"),
        ("subprocess", "subprocess is never available"),
        ("importlib", "importlib is never available"),
        ("numpy.core.os", "numpy.core is refused: it is the deprecated alias"),
        ("numpy.f2py", "numpy.f2py is refused: it compiles and runs"),
        ("numpy.ctypeslib", "numpy.ctypeslib is refused: it loads shared libraries"),
        ("numpy.lib.format", "numpy.lib.format is refused: it reads and writes .npy"),
        ("pandas.compat", "pandas.compat is refused: it re-exports"),
        ("pandas.io.formats", "pandas.io is refused: it reads and writes files"),
        ("pandas.testing", "pandas.testing is refused"),
        ("pandas.core.computation.eval", "pandas.core is refused: it is pandas' internals"),
        ("pandas._libs", "pandas._libs is refused: _libs is a private module"),
        ("requests", "requests is not on this competition's allowlist (allowed: bisect,"),
        ("json", "json is not on this competition's allowlist"),
    ],
)
def test_refused_modules_say_why(name: str, why: str) -> None:
    refusal = POLICY.refusal(name)
    assert refusal is not None
    assert refusal.startswith(why)
    assert not POLICY.is_allowed(name)


def test_forbidden_names_are_refused_wherever_they_appear() -> None:
    # A submodule called `os`/`io`/`sys` under an allowed library is still refused.
    for name in ("numpy.os", "numpy.linalg.io", "typing.io", "datetime.sys", "statistics.sys"):
        assert "never available" in (POLICY.refusal(name) or "")


def test_forbidden_names_win_even_over_an_organisers_allowlist() -> None:
    lax = ImportPolicy(allowed=DEFAULT_ALLOWED | {"os", "subprocess", "numpy.f2py"})
    assert "never available" in (lax.refusal("os") or "")
    assert "never available" in (lax.refusal("subprocess") or "")
    assert "numpy.f2py is refused" in (lax.refusal("numpy.f2py") or "")


def test_the_blacklist_wins_over_the_allowlist() -> None:
    policy = ImportPolicy(blocked=frozenset({"pandas", "numpy.random"}))
    assert policy.refusal("pandas") == "pandas is blocked by the organisers of this competition"
    assert policy.refusal("pandas.api.types") == (
        "pandas is blocked by the organisers of this competition"
    )
    assert policy.refusal("numpy.random") is not None
    assert policy.refusal("numpy") is None  # only what is listed, and what is below it
    assert policy.refusal("numpy.linalg") is None


def test_submodules_follow_their_top_module() -> None:
    policy = ImportPolicy(allowed=frozenset({"numpy"}))
    assert policy.is_allowed("numpy.linalg")
    assert not policy.is_allowed("pandas")
    assert not policy.is_allowed("math")
    only_sub = ImportPolicy(allowed=frozenset({"numpy.linalg"}))
    assert only_sub.is_allowed("numpy.linalg")
    assert not only_sub.is_allowed("numpy")


def test_policy_accepts_any_iterable_and_stays_frozen() -> None:
    policy = ImportPolicy(allowed=["math"], blocked=["random"])  # type: ignore[arg-type]
    assert policy.allowed == frozenset({"math"})
    assert policy.blocked == frozenset({"random"})
    with pytest.raises(AttributeError):
        policy.blocked = frozenset()  # type: ignore[misc]


def test_malformed_names_are_refused() -> None:
    assert "not a module name" in (POLICY.refusal("numpy..linalg") or "")
    assert "not a module name" in (POLICY.refusal("") or "")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("read_pickle", "reads or writes files"),
        ("read_csv", "reads or writes files"),
        ("to_pickle", "writes files"),
        ("to_csv", "writes files"),
        ("to_string", "writes files"),  # takes a path (buf=); print(df) still works
        ("load", "reads or writes files"),
        ("savez", "reads or writes files"),
        ("loads", "unpickles"),
        ("eval", "evaluates code"),
        ("query", "evaluates code"),
        ("attrgetter", "looks attributes or items up"),
        ("setflags", "read-only bars writable"),
        ("register_dataframe_accessor", "changes library classes"),
        ("frombuffer", "raw memory"),
    ],
)
def test_denied_attribute_names(name: str, why: str) -> None:
    assert why in (attribute_refusal(name) or "")


@pytest.mark.parametrize("name", ["to_numpy", "to_dict", "to_list", "mean", "rolling", "tolist"])
def test_value_conversions_and_ordinary_names_are_allowed(name: str) -> None:
    assert attribute_refusal(name) is None


def test_private_names_are_single_underscore_only() -> None:
    assert is_private_name("_helper")
    assert not is_private_name("__class__")
    assert not is_private_name("_")
    assert not is_private_name("helper")


def test_import_problems_cover_every_import_statement_with_its_line() -> None:
    source = textwrap.dedent(
        """\
        import math
        import os
        from numpy import load, linalg
        from pandas import io
        def f():
            import subprocess
            from . import helpers, missing
            from .. import up
        import helpers.sub
        import helperz
        from numpy import _core
        """
    )
    problems = sorted(POLICY.import_problems(ast.parse(source), own_modules={"helpers"}))
    lines = [line for line, _ in problems]
    assert lines == [2, 3, 4, 6, 7, 8, 9, 10, 11]
    text = dict(problems)
    assert text[2].startswith("import of os refused: os is never available")
    assert text[3] == "from numpy import load refused: it reads or writes files"
    assert text[4].startswith("from pandas import io refused: pandas.io is refused")
    assert text[6].startswith("import of subprocess refused")
    assert text[7] == "there is no missing.py in the upload"
    assert "relative imports reach only" in text[8]
    assert "own modules have no submodules" in text[9]
    assert text[10].endswith("nor is there a helperz.py in the upload")
    assert text[11] == "from numpy import _core refused: it is private"


def test_preload_covers_the_allowlist_and_makes_common_operations_import_nothing() -> None:
    """The warm parent's preload: afterwards, typical strategy code loads no module."""
    assert set(DEFAULT_ALLOWED) <= set(DEFAULT_PRELOAD)
    probe = textwrap.dedent(
        """\
        import importlib, sys
        from sandbox.worker.policy import DEFAULT_PRELOAD
        for name in DEFAULT_PRELOAD:
            importlib.import_module(name)
        import numpy as np, pandas as pd
        before = set(sys.modules)
        idx = pd.date_range("2026-03-12 13:30", periods=120, freq="min", tz="UTC")
        s = pd.Series(np.linspace(100, 101, 120), index=idx)
        df = pd.DataFrame({"close": s, "g": np.arange(120) % 3})
        s.rolling(5).mean(); s.ewm(span=5).mean(); s.resample("5min").ohlc()
        df.groupby("g").agg(["mean", "std"]); pd.to_datetime(["2026-03-12"], utc=True)
        repr(df); df.head().to_dict(); pd.crosstab(df.g, df.g); s.pct_change().rank()
        np.fft.fft(np.ones(8)); np.linalg.lstsq(np.ones((4, 2)), np.ones(4), rcond=None)
        np.polynomial.Polynomial([1, 2]); np.lib.stride_tricks.sliding_window_view(s.values, 3)
        np.random.default_rng(0).normal(size=3); np.ones(3).mean()
        print(sorted(set(sys.modules) - before))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
