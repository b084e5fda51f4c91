"""`team["api"].features(...)`: factor expressions evaluated by the host, shared per tick.

Each tick the host builds one window over its bar store (the last `WINDOW_BARS` minutes,
gaps as NaN) the first time any team asks, and every distinct (expression, symbol) is
computed once on it: teams asking for the same thing share the result. Expressions are
checked first (`app.factors.expressions`); a bad one, a request too large or a budget
that runs out is a `FeatureError` for that team, never a host crash. The values at a
position do not depend on who asked or for how many (`n`): an expression is always
evaluated over the whole window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from app.factors import qlib_ops
from app.factors.expressions import MAX_WINDOW, Expression, ExpressionError, parse_expression
from app.factors.window import FIELDS, FeatureWindow
from app.market.store import BarStore

log = logging.getLogger(__name__)
WINDOW_BARS = 1200  # about three sessions: room for nested windows of up to MAX_WINDOW
MAX_N = MAX_WINDOW  # values per expression and symbol in one answer
MAX_SYMBOLS = 100  # per call
MAX_EXPRESSIONS = 50  # per call
MAX_VALUES = 2000  # (expression, symbol) pairs per call
_PARSED_LIMIT = 10_000  # checked expressions kept across ticks (they never change)


class FeatureError(ValueError):
    """The team's request cannot be answered; the message says why."""


class FactorService:
    """Evaluates factor expressions over the host's bars, once per (expression, symbol, tick)."""

    def __init__(
        self,
        store: BarStore,
        window_bars: int = WINDOW_BARS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._window_bars = window_bars
        self._clock = clock
        self._window: FeatureWindow | None = None
        self._seen_version = -1
        self._values: dict[tuple[str, str], np.ndarray] = {}
        self._parsed: dict[str, Expression] = {}
        self._built: dict[str, Any] = {}
        self.computed = 0  # distinct evaluations so far (the benchmark reads it)
        if qlib_ops.available():
            qlib_ops.prepare()  # Qlib's import takes a second: not inside a team's budget

    def features(
        self,
        symbols: Iterable[str] | str,
        expressions: Iterable[str] | str,
        n: int = 1,
        deadline: float | None = None,
    ) -> dict[str, dict[str, np.ndarray]]:
        """{symbol: {"timestamp": last n minutes, expression: its last n values}}."""
        if not qlib_ops.available():
            raise FeatureError(qlib_ops.ENABLE_HINT)
        chosen, texts, count = _request(symbols, expressions, n)
        parsed = self._parse_all(texts)
        window = self._current_window()
        answer: dict[str, dict[str, np.ndarray]] = {}
        for symbol in chosen:
            columns: dict[str, np.ndarray] = {"timestamp": window.calendar[-count:]}
            for text, expression in zip(texts, parsed, strict=True):
                if deadline is not None and self._clock() > deadline:
                    raise FeatureError(
                        "the time budget ran out before every value was computed; "
                        "ask for fewer expressions or symbols"
                    )
                columns[text] = self._value(window, expression, symbol)[-count:]
            answer[symbol] = columns
        return answer

    # -- per tick ----------------------------------------------------------------------------

    def _current_window(self) -> FeatureWindow:
        """The window of the store as it is now; a new tick drops every cached value."""
        version = self._store.version
        if self._window is None or version != self._seen_version:
            self._window = FeatureWindow(self._store, self._window_bars)
            self._seen_version = version
            self._values.clear()
        return self._window

    def _value(self, window: FeatureWindow, expression: Expression, symbol: str) -> np.ndarray:
        key = (expression.key, symbol)
        found = self._values.get(key)
        if found is not None:
            return found
        if not window.has(symbol):
            found = np.full(len(window), np.nan)
        else:
            qlib_ops.activate(window)
            try:
                found = qlib_ops.evaluate(self._build(expression), symbol, len(window))
            except Exception as error:  # Qlib's code on a team's expression: report, go on
                log.info("Qlib failed on %r for %s: %r", expression.text, symbol, error)
                raise FeatureError(
                    f"{expression.text!r} on {symbol}: Qlib could not evaluate it "
                    f"({type(error).__name__}: {error})"
                ) from None
            self.computed += 1
        found.flags.writeable = False
        self._values[key] = found
        return found

    # -- checking ----------------------------------------------------------------------------

    def _parse_all(self, texts: list[str]) -> list[Expression]:
        parsed, problems = [], []
        for text in texts:
            try:
                parsed.append(self._parse(text))
            except ExpressionError as error:
                problems.append(str(error))
        if problems:
            raise FeatureError("; ".join(problems))
        return parsed

    def _parse(self, text: str) -> Expression:
        found = self._parsed.get(text)
        if found is None:
            found = parse_expression(text, FIELDS)
            if len(self._parsed) >= _PARSED_LIMIT:
                self._parsed.clear()
                self._built.clear()
            self._parsed[text] = found
        return found

    def _build(self, expression: Expression) -> Any:
        built = self._built.get(expression.key)
        if built is None:
            built = self._built[expression.key] = qlib_ops.build(expression.tree)
        return built


def _request(
    symbols: Iterable[str] | str, expressions: Iterable[str] | str, n: object
) -> tuple[list[str], list[str], int]:
    """The symbols, expressions and count asked for, checked and deduplicated in order."""
    chosen = _strings(symbols, "symbols", MAX_SYMBOLS)
    texts = _strings(expressions, "expressions", MAX_EXPRESSIONS)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_N:
        raise FeatureError(f"n must be a whole number from 1 to {MAX_N}, got {n!r}")
    if len(chosen) * len(texts) > MAX_VALUES:
        raise FeatureError(
            f"{len(texts)} expressions × {len(chosen)} symbols is more than {MAX_VALUES} "
            "series in one call"
        )
    return chosen, texts, int(n)


def _strings(values: object, name: str, limit: int) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        raise FeatureError(f"{name} must be a list of strings, got {type(values).__name__}")
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise FeatureError(f"{name} must be a non-empty list of non-empty strings")
    chosen = list(dict.fromkeys(values))
    if len(chosen) > limit:
        raise FeatureError(f"at most {limit} {name} per call, got {len(chosen)}")
    return chosen
