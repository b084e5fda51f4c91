"""The bar window, published once per tick and read by every worker without copying.

The host writes the window as one Arrow IPC file into a memfd and seals it (no write,
grow or shrink), then passes the descriptor to each worker. A worker maps it read-only;
the arrays a strategy sees are views into that mapping, so no team can change what
another team sees, and numpy refuses `setflags(write=True)` on them.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
_OFFSETS_KEY = b"arena.offsets"
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def window_table(window: Mapping[str, Mapping[str, np.ndarray]]) -> pa.Table:
    """One long table (symbols one after another, oldest bar first) plus per-symbol offsets."""
    symbols = sorted(window)
    offsets: dict[str, list[int]] = {}
    start = 0
    for symbol in symbols:
        size = len(window[symbol]["close"])
        offsets[symbol] = [start, start + size]
        start += size
    columns = {}
    for field in FIELDS:
        parts = [np.asarray(window[s][field]) for s in symbols]
        dtype = "datetime64[s]" if field == "timestamp" else np.float64
        columns[field] = (
            np.concatenate(parts).astype(dtype, copy=False) if parts else (np.empty(0, dtype=dtype))
        )
    table = pa.table({f: pa.array(columns[f]) for f in FIELDS})
    return table.replace_schema_metadata({_OFFSETS_KEY: orjson.dumps(offsets)})


def publish_window(window: Mapping[str, Mapping[str, np.ndarray]]) -> int:
    """Write the window into a sealed memfd; returns the descriptor (the caller closes it)."""
    table = window_table(window)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    fd = os.memfd_create("arena-window", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
            table = pa.ipc.open_file(pa.py_buffer(self.pages.view())).read_all()
            self._offsets = orjson.loads(table.schema.metadata[_OFFSETS_KEY])
            for field in FIELDS:
                column = table.column(field)
                # One chunk as written by publish_window; combine_chunks() would copy it.
                chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
                self._columns[field] = chunk.to_numpy(zero_copy_only=True)

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
