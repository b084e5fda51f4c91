"""Small JSON files the host keeps beside the ledgers (controls, keys, holds, the opening
cash): written whole, so a reader in another process sees the old or the new content,
never half; read again only when they changed."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from app.engine.stop import LedgerWriteError

T = TypeVar("T")


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, fsync it, and rename it over `path`.

    A failure raises LedgerWriteError and leaves `path` as it was, with no temporary file.
    """
    path = Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise LedgerWriteError(path, error) from error


def write_json_atomic(path: Path, body: Any, mode: int = 0o644) -> None:
    write_bytes_atomic(path, (json.dumps(body, indent=2) + "\n").encode(), mode)


class ChangedFile(Generic[T]):
    """`parse(path)` of a file, redone only when the file changed (a `stat` per call
    otherwise); `missing` when there is no file. A change is a new modification time, size
    or inode: `write_json_atomic` renames a new file into place, so even two writes within
    the file system's timestamp granularity are told apart."""

    def __init__(self, path: Path, parse: Callable[[Path], T], missing: T) -> None:
        self.path = Path(path)
        self._parse = parse
        self._missing = missing
        self._seen: tuple[tuple[int, int, int], T] | None = None

    def __call__(self) -> T:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._seen = None
            return self._missing
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, self._parse(self.path))
        return self._seen[1]
