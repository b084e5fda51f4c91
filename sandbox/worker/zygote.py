"""The warm parent of every worker: `python -m sandbox.worker.zygote CONTROL_FD`.

The host starts it as a fresh interpreter with an empty environment, so it never holds
broker keys, API keys, the host's secrets or any team's code or data. It makes itself the
init of a PID namespace of its own (when the kernel allows), imports the libraries
strategies may use (so workers never import from disk), then forks one worker per request
and hands the host the worker's socket and a pidfd (signals through it reach exactly that
worker, in whatever namespace, never a recycled pid).

No strays: the zygote dies with the host (parent-death signal), and as the namespace's
init it takes every worker with it, whatever a worker did to itself. Where the kernel
refuses the namespace, each worker's own parent-death signal remains, and seccomp refuses
clearing it; the ready message says which holds, and the host logs it loudly.
"""

from __future__ import annotations

import contextlib
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


def enter_namespace() -> tuple[bool, str]:
    """Become the init of a PID namespace of our own, or say why not."""
    try:
        os.close(os.pidfd_open(os.getpid()))  # the host reaches workers through pidfds only
    except (AttributeError, OSError) as error:
        return False, f"no pidfds here ({error}): workers stay in the host's PID namespace"
    try:
        return True, hardening.become_namespace_init()
    except (OSError, RuntimeError) as error:
        return False, f"the kernel refused a PID namespace ({error})"


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
    fds = [host_end.detach()]
    with contextlib.suppress(AttributeError, OSError):  # without one, the host uses the pid
        fds.append(os.pidfd_open(pid))
    try:
        protocol.send(control, {"op": "spawned", "pid": pid}, fds=tuple(fds))
    finally:
        for fd in fds:
            os.close(fd)


def main(control_fd: int) -> None:
    _die_with_parent()
    control = socket.socket(fileno=control_fd)
    hardening.prepare_parent()  # first: it sets what numpy and pyarrow read when they load
    in_namespace, lifetime = enter_namespace()  # before SIG_IGN: the outer half waits
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps workers for us
    missing = preload()
    # Everything imported so far is shared by every worker: keep the cyclic GC away from it,
    # so workers neither spend time walking it nor copy its pages by touching them.
    gc.collect()
    gc.freeze()
    ready = {"op": "ready", "pid": os.getpid(), "missing": missing,
             "namespace": in_namespace, "lifetime": lifetime}  # fmt: skip
    protocol.send(control, ready)
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
