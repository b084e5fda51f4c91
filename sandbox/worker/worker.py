"""One team's worker: hardens itself, then loads and calls the team's strategy on request.

Runs in a process forked from the zygote. Before any team code runs it closes every
inherited descriptor but its channel, clears the environment, leaves the network, drops
to the team's uid and installs the seccomp filter (sandbox.worker.hardening). It then serves
three requests from the host — load, call, exit — and never touches a file: code comes
as text, bars come as a sealed memory descriptor, history comes from the host.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, NoReturn

from sandbox.wire.framing import ProtocolError, receive, send
from sandbox.wire.messages import MAX_ERROR_CHARS, MAX_WORKER_FRAME, Loaded, Ready, Result
from sandbox.wire.window import WindowView, read_prices
from sandbox.worker.compiler import StrategyRejected, load_strategy
from sandbox.worker.hardening import HardeningConfig, harden
from sandbox.worker.history_client import HistoryClient
from sandbox.worker.plain import NotPlainDataError, to_wire
from sandbox.worker.policy import ImportPolicy
from sandbox.worker.tracebacks import format_team_traceback, scrub


class _Worker:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.strategy: Any = None
        self.files: dict[str, str] = {}
        self.history = HistoryClient(sock)

    def load(self, message: dict[str, Any]) -> Loaded:
        self.files = dict(message["files"])
        policy = ImportPolicy(
            allowed=frozenset(message["policy"]["allowed"]),
            blocked=frozenset(message["policy"]["blocked"]),
        )
        try:
            self.strategy = load_strategy(
                self.files, message["entry_point"], message.get("params") or {}, policy
            )
        except StrategyRejected as rejected:
            return Loaded(_bounded("\n".join(str(p) for p in rejected.problems)), "rejected")
        except BaseException as error:  # module code or __init__ failed: the team's fault
            return Loaded(_bounded(format_team_traceback(error, self.files)), _kind(error))
        return Loaded()

    def call(self, message: dict[str, Any], fds: list[int]) -> Result:
        if self.strategy is None:
            _close_all(fds)
            return Result(error="no strategy loaded", kind="load")
        try:
            bars = WindowView(fds[0]) if fds else None
        except (OSError, MemoryError, ValueError) as error:
            return Result(error=f"the bars could not be mapped: {error}", kind=_kind(error))
        finally:
            _close_all(fds)  # the mapping stays valid without the descriptor
        team = {**message["header"], "api": self.history}
        prices = read_prices(bars) if bars is not None else {}
        started = time.perf_counter()  # the strategy's own time, as the team's duration
        try:
            result = self.strategy.call(team, bars if bars is not None else {}, prices)
        except BaseException as error:
            traceback = _bounded(format_team_traceback(error, self.files))
            # What it printed before raising is kept too.
            return _timed(Result(None, scrub(self.strategy.printed), traceback, _kind(error)),
                          started)  # fmt: skip
        return _timed(self._result(result.output, scrub(result.printed)), started)

    def _result(self, output: Any, printed: str) -> Result:
        try:
            wire = to_wire(output)
        except NotPlainDataError as error:
            return Result(None, printed, f"generate_signal returned bad data: {error}", "output")
        return Result(wire, printed)


def _timed(result: Result, started: float) -> Result:
    cpu_ms = (time.perf_counter() - started) * 1000
    return Result(result.output, result.printed, result.error, result.kind, cpu_ms)


def _kind(error: BaseException) -> str:
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, RecursionError):
        return "recursion"
    return "exception"


def _bounded(text: str) -> str:
    """An error within what the host accepts (its traceback is already short; a team's
    names and messages may not be)."""
    if len(text) <= MAX_ERROR_CHARS:
        return text
    note = f"\n... [{len(text) - MAX_ERROR_CHARS + 60:,} more characters]"
    return text[: MAX_ERROR_CHARS - 60] + note


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def serve(channel_fd: int, config: HardeningConfig) -> NoReturn:
    """The worker's whole life; always ends with os._exit."""
    sock = socket.socket(fileno=channel_fd)
    report = harden(config)
    send(sock, Ready(os.getpid(), tuple(report.as_records())).frame())
    worker = _Worker(sock)
    while True:
        try:
            message, fds = receive(sock)
        except (ProtocolError, OSError):
            os._exit(0)  # the host is gone or broke the protocol: nothing left to do
        op = message.get("op")
        reply: Loaded | Result
        if op == "load":
            reply = worker.load(message)
        elif op == "call":
            reply = worker.call(message, fds)
        else:
            _close_all(fds)
            os._exit(0)
        try:
            send(sock, reply.frame(), limit=MAX_WORKER_FRAME)
        except ProtocolError as error:  # the reply itself is too large
            send(sock, Result(error=f"generate_signal returned too much: {error}",
                              kind="output").frame())  # fmt: skip
        except OSError:
            os._exit(0)
