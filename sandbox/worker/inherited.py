"""What a worker inherited from the zygote, dropped: its descriptors and its environment.

Two of the hardening layers (`fds`, `environment`), with the libc handle they and the
others call through.
"""

from __future__ import annotations

import ctypes
import os

LIBC = ctypes.CDLL(None, use_errno=True)  # dlopen(NULL): find_library would fork ldconfig


def libc_error(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def _open_fds() -> list[int]:
    """Open descriptors; the listing's own one is closed by the time each is checked."""
    listed = sorted(int(name) for name in os.listdir("/proc/self/fd"))
    return [fd for fd in listed if _fd_is_open(fd)]


def _fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def close_fds(keep: int) -> str:
    before = _open_fds()
    # The bound comes from the listing: up to a huge number, closerange loops fd by fd on
    # kernels without close_range(2); and an inherited fd may exceed the NOFILE limit.
    os.closerange(0, keep)
    os.closerange(keep + 1, max([*before, keep]) + 1)
    if (left := _open_fds()) != [keep]:
        raise RuntimeError(f"open after closing: {left}, expected only the channel {keep}")
    return f"closed {len(before) - 1} inherited fds; only channel fd {keep} is open"


def clear_environment() -> str:
    with open("/proc/self/stat") as stat_file:  # fields 50/51 bound the exec-time block
        fields = stat_file.read().rsplit(")", 1)[1].split()
    start, end, count = int(fields[47]), int(fields[48]), len(os.environ)
    os.environ.clear()  # unsetenv()s each name too
    if LIBC.clearenv() != 0:
        raise libc_error("clearenv")
    if 0 < start < end:
        ctypes.memset(start, 0, end - start)
    if os.environ or ctypes.c_void_p.in_dll(LIBC, "environ").value:
        raise RuntimeError("environment still set")
    return f"cleared {count} variables; exec-time block zeroed ({end - start} bytes)"
