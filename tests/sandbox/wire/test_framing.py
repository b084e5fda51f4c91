"""Frames between host and worker: whole messages, descriptors passed, junk refused."""

from __future__ import annotations

import os
import socket

import orjson
import pytest

from sandbox.wire.framing import (
    HEADER,
    MAX_FRAME,
    FrameReader,
    ProtocolError,
    encode,
    receive,
    send,
)


def test_a_message_and_a_descriptor_arrive_together() -> None:
    host, worker = socket.socketpair()
    read_end, write_end = os.pipe()
    try:
        send(host, {"op": "call", "n": 1}, fds=(read_end,))
        message, fds = receive(worker)
        assert message == {"op": "call", "n": 1}
        assert len(fds) == 1
        os.write(write_end, b"ok")
        assert os.read(fds[0], 2) == b"ok"  # the passed descriptor is a working copy
        os.close(fds[0])
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        host.close()
        worker.close()


def test_the_frame_reader_assembles_split_and_joined_frames() -> None:
    reader = FrameReader()
    data = encode({"a": 1}) + encode({"b": [1, 2]}) + encode({"c": "x" * 100})
    got = []
    for i in range(0, len(data), 7):  # arbitrary chunking, as TCP-like streams deliver
        got += reader.feed(data[i : i + 7])
    assert [orjson.loads(payload) for payload in got] == [
        {"a": 1}, {"b": [1, 2]}, {"c": "x" * 100}
    ]  # fmt: skip


def test_a_hostile_peer_cannot_make_the_host_buffer_a_huge_frame() -> None:
    """The size is refused from the header alone, before any of the payload arrives."""
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameReader().feed(HEADER.pack(MAX_FRAME + 1))


@pytest.mark.parametrize(
    ("frame", "error"),
    [(HEADER.pack(3) + b"abc", "not JSON"), (HEADER.pack(2) + b"[]", "not a JSON object")],
)
def test_the_worker_side_reader_refuses_junk_from_its_peer(frame: bytes, error: str) -> None:
    host, worker = socket.socketpair()
    host.sendall(frame)
    with pytest.raises(ProtocolError, match=error):
        receive(worker)
    host.close()
    worker.close()


def test_an_oversized_message_is_refused_before_sending() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        encode({"blob": "x" * (MAX_FRAME + 10)})


def test_a_closed_peer_is_a_protocol_error_not_a_hang() -> None:
    host, worker = socket.socketpair()
    host.close()
    with pytest.raises(ProtocolError, match="connection closed"):
        receive(worker)
    worker.close()
