"""`team["api"]` inside a worker: history requests go to the host over the channel.

The worker never opens files; the host answers from its bar store, which holds only
bars up to the current tick, so there is no look-ahead.
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np

from sandbox.wire.framing import receive, send
from sandbox.wire.messages import MAX_API_LIST, MAX_WORKER_FRAME, ApiRequest


class HistoryError(ValueError):
    """The host refused a history request (bad argument, too large)."""


def _columns(data: dict[str, list]) -> dict[str, np.ndarray]:
    arrays = {}
    for field, values in data.items():
        dtype = "datetime64[s]" if field == "timestamp" else np.float64
        array = np.array(values, dtype=dtype)  # null (a NaN on the wire) becomes NaN
        array.flags.writeable = False
        arrays[field] = array
    return arrays


def _bounded_list(values: Any, what: str) -> list[Any]:
    items = list(values)
    if len(items) > MAX_API_LIST:
        raise HistoryError(f"at most {MAX_API_LIST} {what} per request, got {len(items)}")
    return items


class HistoryClient:
    """Read-only history; every method costs a round trip to the host within the budget."""

    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def _ask(self, method: str, args: list[Any]) -> Any:
        send(self._sock, ApiRequest(method, args).frame(), limit=MAX_WORKER_FRAME)
        answer, _fds = receive(self._sock)
        if answer.get("error"):
            raise HistoryError(answer["error"])
        return answer["data"]

    def getLastN(self, symbol: str, n: int) -> dict[str, np.ndarray]:  # noqa: N802
        return _columns(self._ask("getLastN", [symbol, n]))

    def getDay(self, symbol: str, day: str) -> dict[str, np.ndarray]:  # noqa: N802
        return _columns(self._ask("getDay", [symbol, str(day)]))

    def getRange(self, symbol: str, start: str, end: str) -> dict[str, np.ndarray]:  # noqa: N802
        return _columns(self._ask("getRange", [symbol, str(start), str(end)]))

    def getLastNMulti(self, symbols: list[str], n: int) -> dict[str, dict]:  # noqa: N802
        data = self._ask("getLastNMulti", [_bounded_list(symbols, "symbols"), n])
        return {s: _columns(c) for s, c in data.items()}

    def getDayMulti(self, symbols: list[str], day: str) -> dict[str, dict]:  # noqa: N802
        data = self._ask("getDayMulti", [_bounded_list(symbols, "symbols"), str(day)])
        return {s: _columns(c) for s, c in data.items()}

    def getRangeMulti(self, symbols: list[str], start: str, end: str) -> dict[str, dict]:  # noqa: N802
        data = self._ask("getRangeMulti", [_bounded_list(symbols, "symbols"), str(start), str(end)])
        return {s: _columns(c) for s, c in data.items()}

    def features(
        self, symbols: list[str] | str, expressions: list[str] | str, n: int = 1
    ) -> dict[str, dict]:
        """Qlib factor expressions evaluated by the host over its bar window, e.g.
        `features(["AAPL"], ["Mean($close, 5)"], n=3)["AAPL"]["Mean($close, 5)"]` (the
        last 3 values, oldest first; NaN where there is no value). Costs budget time."""
        symbols = [symbols] if isinstance(symbols, str) else _bounded_list(symbols, "symbols")
        if isinstance(expressions, str):
            expressions = [expressions]
        expressions = _bounded_list(expressions, "expressions")
        data = self._ask("features", [symbols, expressions, n])
        return {s: _columns(c) for s, c in data.items()}
