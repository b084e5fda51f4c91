"""Real write failures for the tests, as the kernel gives them: a small tmpfs that fills
up (ENOSPC), an immutable file (EPERM), a file size limit (EFBIG). Each needs something of
the machine (root, a file system that keeps the immutable flag, prlimit); each says why it
is not available here, so a test can fall back to the next or skip with the reason."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

FILLER = ".filler"


def _run(*command: str) -> str | None:
    """None when `command` succeeded, else why not."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} is not installed"
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return f"`{' '.join(command)}` refused: {(done.stderr or done.stdout).strip()}"
    return None


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "256k") -> Iterator[str | None]:
    """A tmpfs of `size` mounted on `folder` for the block; yields None, or why not."""
    folder.mkdir(parents=True, exist_ok=True)
    why = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    try:
        yield why
    finally:
        if why is None:
            _run("umount", "-l", str(folder))


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last block (`dd` until ENOSPC)."""
    filler = folder / FILLER
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    return filler
                raise
    finally:
        os.close(fd)


def immutable(path: Path) -> str | None:
    """Set the immutable flag on `path` (ext2/3/4, xfs, btrfs; not overlayfs or tmpfs):
    every write to it fails with EPERM, even through a descriptor already open. None, or
    why not."""
    why = _run("chattr", "+i", str(path))
    if why is not None:
        kind = _run_output("stat", "-f", "-c", "%T", str(path))
        return f"{why} (file system: {kind})"
    return None


def mutable(path: Path) -> None:
    _run("chattr", "-i", str(path))


def _run_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError as error:
        return str(error)


def limit_file_size(pid: int, size: int) -> str | None:
    """RLIMIT_FSIZE of a running process (a write past `size` bytes of any file fails with
    EFBIG: Python ignores SIGXFSZ). None, or why not."""
    return _run("prlimit", f"--pid={pid}", f"--fsize={size}")


class FailingWrites:
    """Stands in for `os` in app.ledger.jsonl: once `armed`, writes to a file whose path ends
    with `suffix` fail with `error` after `room` more bytes (a short write first, as a disk
    that fills up mid-line gives); fsyncs fail too with `fsync_error`. Everything else is
    the real `os`."""

    def __init__(
        self, suffix: str, error: int = errno.ENOSPC, room: int = 0, armed: bool = True
    ) -> None:
        self.suffix = suffix
        self.error = error
        self.room = room
        self.armed = armed
        self.fsync_error: int | None = None
        self.taken = 0  # bytes of the failing write that reached the file

    def _hit(self, fd: int) -> bool:
        return self.armed and os.readlink(f"/proc/self/fd/{fd}").endswith(self.suffix)

    def write(self, fd: int, data: bytes) -> int:
        if not self._hit(fd):
            return os.write(fd, data)
        if self.room <= 0:
            raise OSError(self.error, os.strerror(self.error))
        part = bytes(data[: self.room])
        self.room -= len(part)
        self.taken += len(part)
        return os.write(fd, part)

    def fsync(self, fd: int) -> None:
        if self.fsync_error is not None and self._hit(fd):
            raise OSError(self.fsync_error, os.strerror(self.fsync_error))
        os.fsync(fd)

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)
