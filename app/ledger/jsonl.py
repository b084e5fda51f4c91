"""JSON Lines on disk: exact encoding, whole-line appends, torn-tail repair, strict reads.

A ledger line is one JSON object followed by `\\n`, keys in insertion order. Decimals are
JSON strings in fixed-point notation (`"123.4500"` keeps its digits, `1E-10` is written
`"0.0000000001"`), datetimes RFC 3339 UTC with `Z` (exactly `timefmt.to_rfc3339`), enums
their value, NaN and infinities `null`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from app.domain.timefmt import to_rfc3339
from app.engine.stop import LedgerWriteError

log = logging.getLogger(__name__)

# Datetimes go through `default` so they match timefmt exactly: orjson's own format keeps
# non-UTC offsets (`+02:00`) instead of converting to UTC.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
_BLOCK = 64 * 1024


def _default(value: Any) -> Any:
    """Encode what orjson does not know natively (or is told to pass through)."""
    if isinstance(value, Decimal):
        # Fixed-point, never `1E-10`: the same digits as str() for ordinary amounts, and
        # still plain for tiny or exponent-form values. A non-finite Decimal is no amount.
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, datetime):
        return to_rfc3339(value)
    if isinstance(value, date | clock_time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)  # sorted so that the same set always gives the same bytes
    raise TypeError(f"cannot encode {type(value).__name__} in a ledger line")


def _str_keys(value: Any) -> Any:
    """Copy of `value` with str-subclass keys (e.g. StrEnum) turned into plain str."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"ledger keys must be strings, got {key!r}")
            out[str(key)] = _str_keys(item)
        return out
    if isinstance(value, list | tuple):
        return [_str_keys(item) for item in value]
    return value


def encode_line(record: dict[str, Any]) -> bytes:
    """One JSON object plus `\\n`; keys in insertion order, so equal records give equal bytes."""
    if not isinstance(record, dict):
        raise TypeError(f"a ledger record is a dict, got {type(record).__name__}")
    try:
        return orjson.dumps(record, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        # orjson refuses str subclasses as keys (StrEnum); the slow path normalises them.
        if "Dict key must be str" not in str(exc):
            raise
        return orjson.dumps(_str_keys(record), default=_default, option=_OPTIONS)


class LedgerCorruptError(ValueError):
    """A ledger line that is not a JSON object, or a torn last line where none is allowed."""

    def __init__(self, path: Path, line_no: int, message: str) -> None:
        super().__init__(f"{path}:{line_no}: {message}")
        self.path = Path(path)
        self.line_no = line_no
        self.message = message


@dataclass(frozen=True, slots=True)
class TornLineRepair:
    """A torn last line cut off a ledger file; the fragment was saved to `saved_to`."""

    path: Path
    fragment: bytes
    saved_to: Path

    def __str__(self) -> str:
        return (
            f"torn last line in {self.path} ({len(self.fragment)} bytes) moved to {self.saved_to}"
        )


def fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable (a new file is lost on power failure otherwise)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_parents(path: Path) -> None:
    """Create the missing parent directories of `path`, each made durable in its parent."""
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_dir(folder.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _end_of_last_line(fd: int, size: int) -> int:
    """Offset just past the last `\\n` in the first `size` bytes, or 0 if there is none."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _save_fragment(path: Path, fragment: bytes) -> Path:
    """Write a torn fragment next to its file as `<name>.torn-<unix ns>`, durably."""
    stamp = time.time_ns()
    while True:
        target = path.with_name(f"{path.name}.torn-{stamp}")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            stamp += 1
            continue
        break
    try:
        _write_all(fd, fragment)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    return target


def repair_torn_tail(path: Path) -> TornLineRepair | None:
    """Cut a torn last line (no trailing `\\n`) off `path`, saving it first; None if whole.

    A file that cannot be repaired (its folder or itself not writable, the disk full) raises
    LedgerWriteError.
    """
    path = Path(path)
    try:
        return _repair(path)
    except OSError as error:
        raise LedgerWriteError(path, error) from error


def _repair(path: Path) -> TornLineRepair | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return None
        keep = _end_of_last_line(fd, size)
        fragment = os.pread(fd, size - keep, keep)
        # Save before truncating: a crash between the two loses nothing.
        saved_to = _save_fragment(path, fragment)
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    repair = TornLineRepair(path, fragment, saved_to)
    log.warning("%s", repair)
    return repair


class JsonlAppender:
    """Appends whole lines to one JSONL file, repairing a torn tail before its first write.

    Every `append` is one `os.write` on an `O_APPEND` descriptor: nothing is buffered
    in-process, so a process crash never loses an appended line and concurrent readers
    see whole lines. `fsync` is what makes the lines survive a power failure.

    Any failure to open, write, sync or close raises LedgerWriteError (path and cause). A
    line the disk took only part of (full mid-line) is cut off again at once, so the file
    ends with its last whole line; should the cut fail too, the torn tail is repaired when
    the file is next opened, and readers skip it meanwhile.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.repair: TornLineRepair | None = None
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> TornLineRepair | None:
        """Open (creating parents and file) after repairing a torn tail; return that repair."""
        if self._fd is not None:
            return None
        try:
            return self._open()
        except OSError as error:
            raise LedgerWriteError(self.path, error) from error

    def _open(self) -> TornLineRepair | None:
        make_parents(self.path)
        repair = repair_torn_tail(self.path)
        if repair is not None:
            self.repair = repair
        existed = self.path.exists()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o644)
        if not existed:
            fsync_dir(self.path.parent)
        return repair

    def append(self, record: dict[str, Any]) -> None:
        """Encode `record` and write its line in one call."""
        self.append_line(encode_line(record))

    def append_line(self, line: bytes) -> None:
        """Write one line made by `encode_line` (for a caller that measured it first)."""
        if self._fd is None:
            self.open()
        assert self._fd is not None
        written = 0
        try:
            view = memoryview(line)
            while written < len(view):
                written += os.write(self._fd, view[written:])
        except OSError as error:
            if written:
                self._cut(written)
            raise LedgerWriteError(self.path, error) from error

    def _cut(self, written: int) -> None:
        """Take back the `written` bytes of a line the disk did not take whole."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
        except OSError as error:
            log.error(
                "%s: a torn last line (%d bytes) could not be cut (%s); it is cut off when "
                "the file is next opened",
                self.path,
                written,
                error,
            )
        else:
            log.warning("%s: cut the %d bytes of a line the disk did not take", self.path, written)

    def flush(self) -> None:
        """Nothing to do: `append` hands each line to the OS at once (kept for the interface)."""

    def fsync(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as error:
                raise LedgerWriteError(self.path, error) from error

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as error:  # the descriptor is gone either way
                raise LedgerWriteError(self.path, error) from error

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _parse_line(path: Path, line_no: int, line: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise LedgerCorruptError(path, line_no, f"not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise LedgerCorruptError(path, line_no, f"not a JSON object: {type(record).__name__}")
    return record


def _torn(path: Path, line_no: int, allow_torn_tail: bool) -> None:
    """Raise for a torn last line, or report it when the caller may stop before it."""
    if not allow_torn_tail:
        raise LedgerCorruptError(path, line_no, "torn last line (no trailing newline)")
    log.warning("%s:%d: torn last line (no trailing newline) ignored", path, line_no)


def read_jsonl(path: Path, *, allow_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Every record of `path` in order; a bad line raises LedgerCorruptError, never skipped.

    A torn last line raises too, unless `allow_torn_tail`: then it is logged and the
    iteration stops before it.
    """
    path = Path(path)
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                _torn(path, line_no, allow_torn_tail)
                return
            yield _parse_line(path, line_no, line)


def _count_lines_before(handle: Any, offset: int) -> int:
    """Number of `\\n` in the first `offset` bytes (only used to name a bad line)."""
    handle.seek(0)
    count = 0
    while offset > 0:
        block = handle.read(min(_BLOCK, offset))
        if not block:
            break
        count += block.count(b"\n")
        offset -= len(block)
    return count


def tail_jsonl(path: Path, n: int, *, allow_torn_tail: bool = False) -> list[dict[str, Any]]:
    """The last `n` records of `path`, oldest first, reading backwards block by block."""
    path = Path(path)
    if n <= 0:
        return []
    with path.open("rb") as handle:
        pos = handle.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        newlines = 0
        # n + 1 newlines guarantee the n-th line from the end starts inside what was read.
        while pos > 0 and newlines <= n:
            step = min(_BLOCK, pos)
            pos -= step
            handle.seek(pos)
            block = handle.read(step)
            blocks.append(block)
            newlines += block.count(b"\n")
        data = b"".join(reversed(blocks))
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            line_no = _count_lines_before(handle, pos + cut) + 1
            _torn(path, line_no, allow_torn_tail)
        # Unless the file start was reached, lines[0] may be the end of a longer line; the
        # n + 1 newlines read mean it is never among the last n.
        kept = data[:cut].split(b"\n")[:-1][-n:]
        records: list[dict[str, Any]] = []
        start = cut - sum(len(line) + 1 for line in kept)
        for line in kept:
            try:
                records.append(_parse_line(path, 0, line))
            except LedgerCorruptError as exc:
                line_no = _count_lines_before(handle, pos + start) + 1
                raise LedgerCorruptError(path, line_no, exc.message) from exc
            start += len(line) + 1
        return records
