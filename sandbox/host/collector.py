"""Gathering one round of replies (loads or calls) from many workers, fairly.

The rules, each against a way one team could hurt the others:

- **Nothing blocks on a worker.** Sockets are non-blocking; what a worker does not take yet
  waits in its outbox, so a worker that stops reading costs the host nothing.
- **One request in flight.** A worker may send its next frame only after reading the
  whole answer to its last request (the real history client does exactly this). A frame
  that arrives while an answer is still unsent, or behind a request in the same read, is a
  protocol violation: the burst ends there, however many requests it held.
- **Bounded service, round robin.** Each ready worker gets one read per round and at most
  one request answered, within its share of the host's time and the request cap.
- **The deadline is the deadline.** When it passes, every worker still owing a reply is
  stopped (SIGSTOP) and then whatever it had sent *before* is read: a reply already waiting
  is never lost because the host was busy with someone else, and nothing sent after the
  deadline can be read, because nothing can be sent.
- **Crash-only.** Anything that goes wrong with one worker's frames, answers or channel —
  including a failure of the host's own services — ends that worker's round as `Lost`,
  never as an exception out of `collect`.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.host.history_server import answer as answer_history
from sandbox.host.worker_handle import Lost, Worker
from sandbox.wire.framing import ProtocolError, encode
from sandbox.wire.messages import (
    ApiAnswer,
    ApiRequest,
    FrameRefusedError,
    Loaded,
    Ready,
    Result,
    decode_worker_frame,
)

log = logging.getLogger(__name__)
READ_SIZE = 1 << 16
MAX_HISTORY_REQUESTS = 500  # per call: history is for a few look-ups, not a flood
MAX_SWEEP_BYTES = 16 << 20  # read at the deadline at most: one largest frame and change
REFUSED = "the worker sent a frame the host refuses"

Reply = Loaded | Result | Lost


class Collector:
    """One round: every worker owes one final frame (`worker.expect`: Loaded or Result)."""

    def __init__(self, history: Any, host_allowance: float) -> None:
        self.history = history
        self.host_allowance = host_allowance  # seconds of host time per worker and call
        self.deadline = 0.0

    def collect(self, workers: Iterable[Worker], deadline: float) -> dict[str, Reply]:
        """Every final reply sent before the deadline, or Lost; a missing team timed out."""
        self.deadline = deadline
        pending = {w.sock.fileno(): w for w in workers}
        replies: dict[str, Reply] = {}
        with selectors.DefaultSelector() as selector:
            for fd, worker in pending.items():
                selector.register(fd, _interest(worker), worker)
            while pending and (left := deadline - time.monotonic()) > 0:
                for key, events in selector.select(left):
                    worker = key.data
                    reply = self._guarded(worker, lambda w=worker, e=events: self._serve(w, e))
                    if reply is None:
                        selector.modify(key.fd, _interest(worker), worker)
                        continue
                    replies[worker.team_id] = reply
                    selector.unregister(key.fd)
                    del pending[key.fd]
                    if time.monotonic() >= deadline:
                        break
        late = list(pending.values())
        for worker in late:  # first all, then read: none of them can send any more
            worker.pause()
        for worker in late:
            reply = self._guarded(worker, lambda w=worker: self._sweep(w))
            if reply is not None:
                replies[worker.team_id] = reply
        return replies

    # -- one worker ---------------------------------------------------------------------

    def _guarded(self, worker: Worker, step: Callable[[], Reply | None]) -> Reply | None:
        """Crash-only: a failure while handling one worker is that worker's round."""
        try:
            return step()
        except Exception as error:
            log.exception("SANDBOX: handling team %s's worker failed", worker.team_id)
            return Lost(f"the host failed while handling this worker ({type(error).__name__})")

    def _serve(self, worker: Worker, events: int) -> Reply | None:
        if events & selectors.EVENT_WRITE and (lost := worker.flush()) is not None:
            return lost
        if not events & selectors.EVENT_READ:
            return None
        owed = bool(worker.outbox)  # an answer it cannot have read in full yet
        try:
            data = worker.sock.recv(READ_SIZE)
        except BlockingIOError:
            return None
        except OSError as error:
            return Lost(f"the worker's channel failed: {error}")
        if not data:
            return Lost("the worker died (crash, or killed by a limit)")
        if owed:
            return _violation("it sent before reading the answer to its last request")
        return self._frames(worker, data, serve=True)

    def _sweep(self, worker: Worker) -> Reply | None:
        """At the deadline, with the worker stopped: what it sent before."""
        owed = bool(worker.outbox)
        chunks, size = [], 0
        while size < MAX_SWEEP_BYTES:
            try:
                data = worker.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                return Lost(f"the worker's channel failed: {error}")
            if not data:
                return Lost("the worker died (crash, or killed by a limit)")
            chunks.append(data)
            size += len(data)
        if not chunks:
            return None
        if owed:
            return _violation("it sent before reading the answer to its last request")
        return self._frames(worker, b"".join(chunks), serve=False)

    def _frames(self, worker: Worker, data: bytes, serve: bool) -> Reply | None:
        """Handle the complete frames in `data`; `serve` is False once the deadline passed."""
        try:
            payloads = worker.reader.feed(data)
        except ProtocolError as error:
            return _violation(str(error))
        for index, payload in enumerate(payloads):
            try:
                frame = decode_worker_frame(payload)
            except FrameRefusedError as refused:
                return _violation(str(refused))
            if isinstance(frame, Ready):
                if worker.ready:
                    return _violation("it reported its layers twice")
                worker.ready, worker.layers = True, list(frame.layers)
                continue
            if not worker.ready:
                return _violation("it did not report its isolation layers first")
            if isinstance(frame, ApiRequest):
                if index + 1 < len(payloads) or worker.reader.buffered:
                    return _violation("it sent more frames behind a request")
                if not serve:
                    return None  # asked too late: the deadline passed
                return self._request(worker, frame)
            if not isinstance(frame, worker.expect):
                return _violation(f"a {type(frame).__name__.lower()} frame now is out of turn")
            return frame
        return None

    def _request(self, worker: Worker, request: ApiRequest) -> Lost | None:
        worker.requests += 1
        if worker.requests > MAX_HISTORY_REQUESTS:
            return Lost(
                f"more than {MAX_HISTORY_REQUESTS} history requests in one call", "protocol"
            )
        started = time.monotonic()
        left = self.host_allowance - worker.host_seconds
        if left <= 0:
            reply = ApiAnswer(
                error=f"this call has used its share of the host's time "
                f"({self.host_allowance:g} s): ask for less, or less often"
            )
        else:
            until = min(self.deadline, started + left)
            reply = answer_history(self.history, request, until, worker.team_id)
        try:
            frame = encode(reply.frame())
        except ProtocolError as error:
            frame = encode(ApiAnswer(error=f"{request.method}: {error}").frame())
        worker.host_seconds += time.monotonic() - started
        return worker.queue_bytes(frame)


def _interest(worker: Worker) -> int:
    return selectors.EVENT_READ | (selectors.EVENT_WRITE if worker.outbox else 0)


def _violation(why: str) -> Lost:
    return Lost(f"{REFUSED}: {why}", "protocol")
