"""The bar window, published once per tick and read by every worker without copying.

The host writes the window's columns (plain float64/datetime64 arrays, every symbol one
after another) and a small JSON index into a memfd and seals it (no write, grow or
shrink), then passes the descriptor to each worker. A worker maps it read-only;
the arrays a strategy sees are views into that mapping, so no team can change what
another team sees, and numpy refuses `setflags(write=True)` on them.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import orjson

FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
_DTYPES = {
    f: np.dtype("datetime64[s]") if f == "timestamp" else np.dtype(np.float64) for f in FIELDS
}
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_PREFIX = struct.Struct("<QQ")  # where the JSON header starts, and its length
_ALIGN = 64


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def publish_window(window: Mapping[str, Mapping[str, np.ndarray]]) -> int:
    """Write the window into a sealed memfd; returns the descriptor (the caller closes it).

    Layout: a 64-byte prefix; each column (all symbols one after another) at an aligned
    offset; then a JSON header with the row count, each symbol's rows and column offsets.
    """
    symbols = sorted(window)
    offsets: dict[str, list[int]] = {}
    rows = 0
    for symbol in symbols:
        size = len(window[symbol]["close"])
        offsets[symbol] = [rows, rows + size]
        rows += size
    stride = _aligned(rows * 8)
    starts = [_ALIGN + i * stride for i in range(len(FIELDS))]
    header = orjson.dumps({"rows": rows, "symbols": offsets, "columns": starts})
    header_at = _ALIGN + len(FIELDS) * stride
    fd = os.memfd_create("arena-window", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        _write_at(fd, 0, memoryview(_PREFIX.pack(header_at, len(header))))
        for field, start in zip(FIELDS, starts, strict=True):
            parts = [np.asarray(window[s][field]) for s in symbols]
            column = np.concatenate(parts) if parts else np.empty(0)
            raw = np.ascontiguousarray(column.astype(_DTYPES[field], copy=False)).view(np.uint8)
            _write_at(fd, start, memoryview(raw))
        _write_at(fd, header_at, memoryview(header))
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_at(fd: int, offset: int, data: memoryview) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]  # fmt: skip
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


class _Pages:
    """A read-only shared mapping that holds no descriptor (Python's mmap keeps a dup of
    the fd, so a strategy keeping old windows would run out of descriptors); unmapped
    when the last view of it is gone."""

    def __init__(self, fd: int, size: int) -> None:
        address = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, _MAP_FAILED):
            error = ctypes.get_errno()
            raise OSError(error, f"mapping the window failed: {os.strerror(error)}")
        self.address, self.size = address, size

    def view(self) -> memoryview:
        array = (ctypes.c_char * self.size).from_address(self.address)
        array._pages = self  # type: ignore[attr-defined]  # the pages live as long as any view
        return memoryview(array).cast("B").toreadonly()

    def __del__(self) -> None:
        _libc.munmap(self.address, self.size)


class WindowView(Mapping[str, Mapping[str, np.ndarray]]):
    """The worker's read-only `bars`: {symbol: {field: array}}, built lazily per symbol.

    Every array is a view into the shared pages: nothing is copied per team.
    """

    def __init__(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        self._columns: dict[str, np.ndarray] = {}
        self._offsets: dict[str, list[int]] = {}
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self.pages = _Pages(fd, size) if size else None
        if self.pages is not None:
            view = self.pages.view()
            header_at, length = _PREFIX.unpack_from(view)
            header = orjson.loads(view[header_at : header_at + length])
            self._offsets = header["symbols"]
            rows = header["rows"]
            for field, start in zip(FIELDS, header["columns"], strict=True):
                # A read-only view into the shared pages: no copy, and numpy refuses writes.
                self._columns[field] = np.frombuffer(
                    view, dtype=_DTYPES[field], count=rows, offset=start
                )

    def __getitem__(self, symbol: str) -> Mapping[str, np.ndarray]:
        cached = self._cache.get(symbol)
        if cached is None:
            start, end = self._offsets[symbol]
            cached = {field: self._columns[field][start:end] for field in FIELDS}
            self._cache[symbol] = cached
        return cached

    def __iter__(self) -> Iterator[str]:
        return iter(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)

    def __contains__(self, symbol: Any) -> bool:
        return symbol in self._offsets
