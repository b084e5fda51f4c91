"""The warm parent of every worker: `python -m sandbox.worker.zygote CONTROL_FD`.

The host starts it as a fresh interpreter with an empty environment, so it never holds
broker keys, API keys, the host's secrets or any team's code or data. It imports the
libraries strategies may use (so workers never import from disk), then forks one
worker per request and hands the worker's socket back to the host.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import sys
import zoneinfo
from typing import Any

from sandbox.wire import framing as protocol
from sandbox.worker import hardening
from sandbox.worker.policy import DEFAULT_PRELOAD

PR_SET_PDEATHSIG = 1
_WARM: list[object] = []  # references that keep warmed caches alive in every worker


def _die_with_parent() -> None:
    """If our parent dies, the kernel kills us: no orphaned workers or zygotes."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def preload() -> list[str]:
    """Import what strategies may use; returns what could not be imported (logged by the host)."""
    import importlib

    missing = []
    for name in DEFAULT_PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:
            missing.append(name)
    # Nothing can be read from disk after hardening: warm what the standard library loads
    # lazily (strptime's module, the time zones strategies and pandas use) and keep it.
    import _strptime  # noqa: F401

    import pyarrow  # noqa: F401  (the window reader)

    import sandbox.worker.worker  # noqa: F401

    _WARM.extend(zoneinfo.ZoneInfo(name) for name in ("UTC", "America/New_York"))
    return missing


def spawn_worker(control: socket.socket, request: dict[str, Any]) -> None:
    host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with_parent()
            control.close()
            host_end.close()
            from sandbox.worker.worker import serve

            config = hardening.HardeningConfig(channel_fd=worker_end.fileno(), **request["config"])
            serve(worker_end.detach(), config)
        finally:
            os._exit(70)
    worker_end.close()
    protocol.send(control, {"op": "spawned", "pid": pid}, fds=(host_end.fileno(),))
    host_end.close()


def main(control_fd: int) -> None:
    _die_with_parent()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps workers for us
    control = socket.socket(fileno=control_fd)
    hardening.prepare_parent()  # first: it sets what numpy and pyarrow read when they load
    missing = preload()
    # Everything imported so far is shared by every worker: keep the cyclic GC away from it,
    # so workers neither spend time walking it nor copy its pages by touching them.
    gc.collect()
    gc.freeze()
    protocol.send(control, {"op": "ready", "pid": os.getpid(), "missing": missing})
    while True:
        try:
            request, _fds = protocol.receive(control)
        except (protocol.ProtocolError, OSError):
            os._exit(0)  # the host is gone
        if request.get("op") == "spawn":
            spawn_worker(control, request)
        else:
            os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
