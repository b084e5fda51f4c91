"""The host's handle on the zygote: start it clean, ask it for workers."""

from __future__ import annotations

import logging
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.host.worker_handle import WorkerProcess
from sandbox.wire import framing as protocol

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # importing numpy and pandas on a cold, busy machine
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class WorkerSpawnError(RuntimeError):
    """The zygote or a new worker did not come up."""


def clean_environment() -> dict[str, str]:
    """All the zygote gets: no keys, no secrets, no user settings."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class ZygoteHandle:
    def __init__(self) -> None:
        self._host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the zygote)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.worker.zygote", str(child.fileno())],
            env=clean_environment(),
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            cwd="/",
        )
        child.close()
        ready = self._receive(time.monotonic() + START_TIMEOUT, "start")[0]
        self.pid = self.process.pid  # inside its namespace the zygote is pid 1
        self.missing_modules: list[str] = ready.get("missing", [])
        self.in_namespace = bool(ready.get("namespace"))
        self.lifetime = str(ready.get("lifetime", ""))  # what ends the workers with the host
        if not self.in_namespace:
            log.warning("SANDBOX DEGRADED: %s; stray workers are stopped by their parent-death "
                        "signal alone (seccomp refuses clearing it)", self.lifetime)  # fmt: skip

    def spawn(self, config: dict[str, Any]) -> tuple[WorkerProcess, socket.socket]:
        """Fork a worker; returns its process and the host's end of its channel."""
        try:
            protocol.send(self._host, {"op": "spawn", "config": config})
        except OSError as error:  # the zygote is gone (killed, crashed)
            raise WorkerSpawnError(f"the sandbox zygote is not running: {error}") from error
        message, fds = self._receive(time.monotonic() + START_TIMEOUT, "fork a worker")
        if message.get("op") != "spawned" or len(fds) not in (1, 2):
            for fd in fds:
                os.close(fd)
            raise WorkerSpawnError(f"unexpected answer from the zygote: {message}")
        sock = socket.socket(fileno=fds[0])
        if len(fds) == 2:
            return WorkerProcess.from_pidfd(fds[1]), sock
        if self.in_namespace:  # a pid from inside the namespace means nothing out here
            sock.close()
            raise WorkerSpawnError("the zygote sent no pidfd for a worker in its namespace")
        return WorkerProcess(int(message["pid"])), sock

    def _receive(self, deadline: float, what: str) -> tuple[dict[str, Any], list[int]]:
        with selectors.DefaultSelector() as selector:
            selector.register(self._host, selectors.EVENT_READ)
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise WorkerSpawnError(f"the sandbox zygote did not {what} in time{self._log()}")
        try:
            return protocol.receive(self._host)
        except (protocol.ProtocolError, OSError) as error:
            raise WorkerSpawnError(
                f"the sandbox zygote failed to {what}: {error}{self._log()}"
            ) from error

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _log(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return f"\n{text[-2000:]}" if text else ""

    def close(self) -> None:
        self._host.close()  # the zygote exits on EOF; its workers die with it (PDEATHSIG)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()
