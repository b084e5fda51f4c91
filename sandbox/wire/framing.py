"""Frames between the host and a worker: length-prefixed JSON on a UNIX socket.

JSON both ways (orjson): the host never unpickles anything a worker sends, so a hostile
worker can at worst send data that fails validation (sandbox.wire.messages decodes it).
A file descriptor (the tick's window) travels with a frame as SCM_RIGHTS ancillary data.
"""

from __future__ import annotations

import array
import socket
import struct
from typing import Any

import orjson

HEADER = struct.Struct("!I")
MAX_FRAME = 8 * 1024 * 1024  # a worker's output beyond this is junk, not a signal list
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class ProtocolError(Exception):
    """The peer broke the framing (oversized, truncated or non-JSON frame)."""


def encode(message: dict[str, Any], limit: int = MAX_FRAME) -> bytes:
    payload = orjson.dumps(message, option=_DUMPS_OPTIONS)
    if len(payload) > limit:
        raise ProtocolError(f"message of {len(payload):,} bytes exceeds {limit:,}")
    return HEADER.pack(len(payload)) + payload


def send(
    sock: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = (), limit: int = MAX_FRAME
) -> None:
    data = encode(message, limit)
    if fds:
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        sent = sock.sendmsg([data], rights)
        data = data[sent:]
    if data:
        sock.sendall(data)


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Blocking read of one frame (worker side); returns the message and any fds."""
    fds: list[int] = []
    head = _read_exact(sock, HEADER.size, fds)
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size:,} bytes exceeds {MAX_FRAME:,}")
    payload = _read_exact(sock, size, fds)
    return decode(payload), fds


def decode(payload: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"frame is not JSON: {error}") from error
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a JSON object")
    return message


def _read_exact(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        data, ancillary, _flags, _addr = sock.recvmsg(remaining, socket.CMSG_SPACE(4 * 4))
        if not data:
            raise ProtocolError("connection closed mid-frame" if chunks else "connection closed")
        for level, kind, blob in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(blob) - len(blob) % 4
                fds.extend(array.array("i", blob[:usable]))
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


class FrameReader:
    """Non-blocking frame assembly for the host, one per worker connection.

    It returns payloads as bytes: what they say is sandbox.wire.messages' business."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete payload (raises ProtocolError)."""
        self._buffer += data
        payloads = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > self.max_frame:
                raise ProtocolError(f"a frame of {size:,} bytes exceeds {self.max_frame:,}")
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            payloads.append(bytes(self._buffer[HEADER.size : end]))
            del self._buffer[:end]
        return payloads

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)
