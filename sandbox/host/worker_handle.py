"""The host's handle on one worker process: its channel, what it owes, and how to stop it."""

from __future__ import annotations

import array
import contextlib
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import Any

from app.engine.ports import TeamCode
from sandbox.wire.framing import FrameReader, encode
from sandbox.wire.messages import MAX_WORKER_FRAME


@dataclass(frozen=True, slots=True)
class Lost:
    """The host gave up on a worker this round: it died, broke the protocol or flooded.

    Never a reply the worker sent: the reason is the host's, written for the team."""

    reason: str
    kind: str = "crash"  # "crash": the process or its channel failed; "protocol": it lied


@dataclass(slots=True)
class WorkerProcess:
    """A worker process as the host reaches it: through a pidfd where there is one.

    A pidfd names exactly one process whatever PID namespace it lives in, and never a
    process that later got the same pid; `pid` is the host's view, for diagnostics."""

    pid: int
    pidfd: int | None = None

    @classmethod
    def from_pidfd(cls, pidfd: int) -> WorkerProcess:
        with open(f"/proc/self/fdinfo/{pidfd}") as info:  # "Pid:" in the reader's namespace
            pid = next(int(line.split()[1]) for line in info if line.startswith("Pid:"))
        return cls(pid, pidfd)

    def signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, number)
            elif self.pid > 0:
                os.kill(self.pid, number)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


@dataclass(slots=True)
class Worker:
    team_id: str
    process: WorkerProcess
    sock: socket.socket  # non-blocking: the host never waits on one worker
    code: TeamCode
    expect: type = object  # the final frame owed this round: Loaded or Result
    layers: list[dict[str, Any]] = field(default_factory=list)
    reader: FrameReader = field(default_factory=lambda: FrameReader(MAX_WORKER_FRAME))
    outbox: bytearray = field(default_factory=bytearray)  # frames not yet taken by the socket
    outbox_fds: tuple[int, ...] = ()  # travel with the outbox's first byte
    ready: bool = False  # the worker reported its layers (once, before anything else)
    requests: int = 0  # history requests during the current call
    host_seconds: float = 0.0  # spent by the host answering them

    def queue(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> Lost | None:
        """Add a frame to the outbox and send what the socket takes now."""
        if fds:
            self.outbox_fds = fds
        self.outbox += encode(message)
        return self.flush()

    def queue_bytes(self, frame: bytes) -> Lost | None:
        self.outbox += frame
        return self.flush()

    def flush(self) -> Lost | None:
        """Send as much of the outbox as the socket takes without waiting."""
        try:
            while self.outbox:
                if self.outbox_fds:
                    rights = [
                        (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", self.outbox_fds))
                    ]
                    sent = self.sock.sendmsg([self.outbox], rights)
                    self.outbox_fds = ()
                else:
                    sent = self.sock.send(self.outbox)
                del self.outbox[:sent]
        except BlockingIOError:
            pass
        except OSError as error:
            return Lost(f"the worker's channel failed: {error}")
        return None

    def begin_call(self) -> None:
        self.requests, self.host_seconds = 0, 0.0

    @property
    def pid(self) -> int:
        """The worker's pid as the host sees it."""
        return self.process.pid

    def kill(self) -> None:
        self.process.signal(signal.SIGKILL)
        self.process.close()
        self.sock.close()

    def pause(self) -> None:
        """Between calls (and at a deadline) a worker is stopped: it can neither burn a core
        nor send anything until the host wakes it."""
        self.process.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.signal(signal.SIGCONT)
