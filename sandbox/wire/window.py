"""The bar window, published once per tick and read by every worker without copying.

The host writes the window's columns (plain float64/datetime64 arrays, every symbol one
after another) and a small JSON index into a memfd and seals it (no write, grow or
shrink), then passes the descriptor to each worker. A worker maps it read-only;
the arrays a strategy sees are views into that mapping, so no team can change what
another team sees, and numpy refuses `setflags(write=True)` on them.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
_DTYPES = {
    f: np.dtype("datetime64[s]") if f == "timestamp" else np.dtype(np.float64) for f in FIELDS
}
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
# The header's length, and where the data (prices, then columns) starts.
_PREFIX = struct.Struct("<QQ")
_ALIGN = 64


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def publish_window(
    window: Mapping[str, Mapping[str, np.ndarray]], prices: Mapping[str, float] | None = None
) -> int:
    """Write the window and the current prices into a sealed memfd; returns the descriptor
    (the caller closes it).

    Layout: a 64-byte prefix; a JSON header (the row count, each symbol's rows, the price
    symbols, offsets relative to the data); then, aligned, the data: the prices (float64, in
    the header's order) and each column (all symbols one after another). The header comes
    first so a worker reads it, the prices and often the prefix with one page fault, and it
    stays the same bytes from tick to tick while the universe and window length do.
    """
    symbols = sorted(window)
    offsets: dict[str, list[int]] = {}
    rows = 0
    for symbol in symbols:
        size = len(window[symbol]["close"])
        offsets[symbol] = [rows, rows + size]
        rows += size
    priced = list(prices or {})
    stride = _aligned(rows * 8)
    first_column = _aligned(len(priced) * 8)
    starts = [first_column + i * stride for i in range(len(FIELDS))]
    header = orjson.dumps({"rows": rows, "symbols": offsets, "columns": starts, "priced": priced})
    data_at = _aligned(_ALIGN + len(header))
    fd = os.memfd_create("arena-window", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, data_at + starts[-1] + stride)  # empty columns still lie inside
        _write_at(fd, 0, memoryview(_PREFIX.pack(len(header), data_at)))
        _write_at(fd, _ALIGN, memoryview(header))
        if priced:
            values = np.fromiter((prices[s] for s in priced), np.float64, len(priced))  # type: ignore[index]
            _write_at(fd, data_at, memoryview(values.view(np.uint8)))
        for field, start in zip(FIELDS, starts, strict=True):
            parts = [np.asarray(window[s][field]) for s in symbols]
            column = np.concatenate(parts) if parts else np.empty(0)
            raw = np.ascontiguousarray(column.astype(_DTYPES[field], copy=False)).view(np.uint8)
            _write_at(fd, data_at + start, memoryview(raw))
        _seal(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _seal(fd: int, attempts: int = 20) -> None:
    """Seal the window. The kernel refuses F_SEAL_WRITE with EBUSY while anything briefly
    holds a reference to one of its pages (seen once in ~10 suite runs on a machine with
    DAMON scanning memory): try again for a few milliseconds before giving up."""
    for attempt in range(attempts):
        try:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
            return
        except OSError as error:
            if error.errno != errno.EBUSY or attempt == attempts - 1:
                raise
            time.sleep(0.001 * (attempt + 1))


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


@dataclass(frozen=True, slots=True)
class _Index:
    """Where things are in a published window: parsed once, reused while it is unchanged."""

    rows: int
    offsets: dict[str, list[int]]
    columns: list[int]  # relative to the data
    priced: list[str]  # the prices start the data


_last_index: tuple[bytes, _Index] | None = None


def _index(header: bytes) -> _Index:
    """The parsed header; from one tick to the next it is usually the same bytes (the same
    symbols and window length), and parsing it anew every call would cost most of a call."""
    global _last_index
    if _last_index is not None and _last_index[0] == header:
        return _last_index[1]
    parsed = orjson.loads(header)
    index = _Index(parsed["rows"], parsed["symbols"], parsed["columns"], parsed["priced"])
    _last_index = (header, index)
    return index


class WindowView(Mapping[str, Mapping[str, np.ndarray]]):
    """The worker's read-only `bars`: {symbol: {field: array}}, built lazily per symbol.

    Every array is a view into the shared pages: nothing is copied per team.
    """

    def __init__(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        self._columns: dict[str, np.ndarray] = {}
        self._offsets: dict[str, list[int]] = {}
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._priced: list[str] = []
        self._price_values: np.ndarray = np.empty(0)
        self.pages = _Pages(fd, size) if size else None
        if self.pages is not None:
            view = self.pages.view()
            length, data_at = _PREFIX.unpack_from(view)
            index = _index(bytes(view[_ALIGN : _ALIGN + length]))
            self._offsets = index.offsets
            for field, start in zip(FIELDS, index.columns, strict=True):
                # A read-only view into the shared pages: no copy, and numpy refuses writes.
                self._columns[field] = np.frombuffer(
                    view, dtype=_DTYPES[field], count=index.rows, offset=data_at + start
                )
            self._priced = index.priced
            self._price_values = np.frombuffer(
                view, dtype=np.float64, count=len(index.priced), offset=data_at
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


def read_prices(view: WindowView) -> dict[str, float]:
    """The tick's current prices as a fresh dict: the strategy's own to change."""
    return dict(zip(view._priced, view._price_values.tolist(), strict=True))
