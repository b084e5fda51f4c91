"""What a strategy prints: one bounded sink per loaded strategy, reset for every call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from RestrictedPython import PrintCollector

from sandbox.worker.values import exact_str

PRINT_LIMIT = 4000
TRUNCATION_NOTE = "\n[print output truncated at {limit} characters]\n"


class PrintSink:
    """What a strategy prints during one call, up to `limit` characters."""

    def __init__(self, limit: int = PRINT_LIMIT) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._truncated = False

    def write(self, text: str) -> None:
        text = exact_str(text)  # print() hands over what a team's __str__ returned
        room = self.limit - self._size
        if len(text) > room:
            text, self._truncated = text[: max(room, 0)], True
        if text:
            self._parts.append(text)
            self._size += len(text)

    def text(self) -> str:
        body = "".join(self._parts)
        return body + TRUNCATION_NOTE.format(limit=self.limit) if self._truncated else body


class SinkPrintCollector(PrintCollector):
    """RestrictedPython's per-function collector, bounded and feeding the call's sink."""

    def __init__(self, sink: PrintSink, _getattr_: Callable[..., Any] | None = None) -> None:
        super().__init__(_getattr_)
        self._sink = sink
        self._kept = 0

    def write(self, text: str) -> None:
        text = exact_str(text)
        self._sink.write(text)
        piece = text[: max(self._sink.limit - self._kept, 0)]  # `printed` stays bounded too
        if piece:
            self.txt.append(piece)
            self._kept += len(piece)

    def flush(self) -> None:
        """print(..., flush=True) calls this."""
