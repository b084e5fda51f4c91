"""Probing the sandbox on this machine: which layers the kernel allows, and what a hardened
worker's forbidden attempts run into (`arena doctor`, the tests' layer report)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sandbox.worker.hardening import (
    CAP_SETGID,
    CAP_SETUID,
    CAP_SYS_CHROOT,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWPID,
    LAYER_NAMES,
    PR_GET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    PROBE_UID,
    HardeningConfig,
    LayerReport,
    LayerResult,
    _describe,
    _make_empty_dir,
    _prctl,
    _pyseccomp,
    become_namespace_init,
    harden,
)
from sandbox.worker.inherited import LIBC


def kernel_supports() -> dict[str, bool]:
    """Which layers this kernel and these privileges allow, found without hardening us."""
    caps = int(_status_field("CapEff") or "0", 16)
    can_setid = bool(caps >> CAP_SETUID & 1 and caps >> CAP_SETGID & 1)
    try:
        seccomp = bool(_pyseccomp()) and _status_field("Seccomp") is not None
    except (ImportError, OSError, RuntimeError):
        seccomp = False
    # Containers refuse unshare even to root (Docker's seccomp profile): only trying tells.
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            code = (LIBC.unshare(CLONE_NEWNET) == 0) | ((LIBC.unshare(CLONE_NEWIPC) == 0) << 1)
            code |= (_pidfds_work() and LIBC.unshare(CLONE_NEWPID) == 0) << 2
        finally:
            os._exit(code)
    code = max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), 0)
    return {
        **dict.fromkeys(("fds", "environment", "rlimits"), True),
        "pid_namespace": bool(code & 4),
        "net_namespace": bool(code & 1),
        "ipc_namespace": bool(code & 2),
        "chroot": bool(caps >> CAP_SYS_CHROOT & 1),
        "uid": can_setid,
        "nproc": can_setid,
        "no_new_privs": _prctl(PR_GET_NO_NEW_PRIVS) >= 0,
        "seccomp": seccomp,
    }


def _pidfds_work() -> bool:
    """The host reaches workers in a PID namespace through pidfds (Linux 5.3)."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def _status_field(name: str) -> str | None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


_PROBE_ENV = "ARENA_PROBE_SECRET"
_PROBE_CHECKS = (
    "read /etc/passwd", "create a file in /tmp", "connect to 127.0.0.1", "fork",
    "read the environment", "use an inherited fd", "allocate past the memory limit",
    "run as the team uid", "signal the parent", "clear the parent-death signal",
    "exec /bin/true",
)  # fmt: skip


def probe_layers(
    config_overrides: Mapping[str, Any] | None = None, timeout: float = 10.0
) -> LayerReport:
    """Harden a throwaway child, let it try each forbidden action, and report what held."""
    results, channel = os.pipe()
    leaked, leaked_w = os.pipe()
    os.write(leaked_w, b"x")  # readable, should the child still hold it
    listener = socket.create_server(("127.0.0.1", 0))
    overrides = {k: v for k, v in (config_overrides or {}).items() if k != "channel_fd"}
    cfg = replace(HardeningConfig(channel_fd=channel, uid=PROBE_UID), **overrides)
    if cfg.chroot_dir and os.geteuid() == 0:
        with contextlib.suppress(OSError):  # an unusable directory shows in the report
            _make_empty_dir(cfg.chroot_dir)
    try:
        if (pid := os.fork()) == 0:
            try:
                with contextlib.suppress(OSError, RuntimeError):  # reported by the layer
                    if _pidfds_work():
                        become_namespace_init()  # as the zygote does; only the init returns
                _probe_child(cfg, leaked, listener.getsockname()[1])
            finally:
                os._exit(0)
        os.close(channel)
        data, how = _collect(results, pid, timeout)
    finally:
        for fd in (results, leaked, leaked_w):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.close(channel)
        listener.close()
    with contextlib.suppress(OSError):  # left behind only if the child could create it
        os.unlink(f"/tmp/arena-probe-{pid}")
    return _probe_report([json.loads(line) for line in data.splitlines()], how)


def _collect(fd: int, pid: int, timeout: float) -> tuple[bytes, str]:
    """Read until EOF or the deadline (then SIGKILL), and reap the child."""
    data, deadline = b"", time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        if not (chunk := os.read(fd, 65536)):
            break
        data += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return data, f"killed by signal {-status}" if status < 0 else f"exit status {status}"


def _probe_report(lines: list[dict[str, Any]], how: str) -> LayerReport:
    if not lines or "layers" not in lines[0]:
        gone = f"the probe gave no report ({how})"
        return LayerReport([LayerResult(name, False, gone) for name in LAYER_NAMES])
    report = LayerReport.from_records(lines[0]["layers"])
    seen = {line["check"]: line for line in lines[1:]}
    for name in _PROBE_CHECKS:
        gone = "process image was replaced" if name.startswith("exec") else f"child ended ({how})"
        line = seen.get(name, {"refused": False, "detail": f"no answer: {gone}"})
        report.checks.append(LayerResult(name, bool(line["refused"]), str(line["detail"])))
    return report


def _probe_child(cfg: HardeningConfig, leaked_fd: int, port: int) -> None:
    """Runs in the throwaway child: harden, then try everything a strategy must not do."""
    os.environ[_PROBE_ENV] = "inherited-secret"  # like one the parent had: fork copies it
    send = lambda obj: os.write(cfg.channel_fd, json.dumps(obj).encode() + b"\n")  # noqa: E731
    send({"layers": harden(cfg).as_records()})
    getenv = LIBC.getenv
    getenv.restype = ctypes.c_char_p
    own = {
        "read the environment": lambda: (
            not os.environ and getenv(_PROBE_ENV.encode()) is None,
            f"os.environ={dict(os.environ)} getenv={getenv(_PROBE_ENV.encode())}",
        ),
        "allocate past the memory limit": lambda: _allocate(cfg.memory_bytes),
        "run as the team uid": lambda: (
            os.getuid() == os.geteuid() == cfg.uid,
            f"uid={os.getuid()} euid={os.geteuid()} gid={os.getgid()} groups={os.getgroups()}",
        ),
    }
    tmp_file = f"/tmp/arena-probe-{os.getpid()}"
    actions: dict[str, Callable[[], object]] = {
        "read /etc/passwd": lambda: os.open("/etc/passwd", os.O_RDONLY),
        "create a file in /tmp": lambda: os.open(tmp_file, os.O_WRONLY | os.O_CREAT, 0o600),
        # A bare socket: create_connection() resolves through the lazily imported idna codec.
        "connect to 127.0.0.1": lambda: socket.socket().connect(("127.0.0.1", port)),
        "fork": lambda: os.waitpid(pid, 0) if (pid := os.fork()) else os._exit(0),
        "use an inherited fd": lambda: os.read(leaked_fd, 1),
        "signal the parent": lambda: os.kill(os.getppid(), 0),
        "clear the parent-death signal": _clear_parent_death_signal,
        "exec /bin/true": lambda: os.execv("/bin/true", ["true"]),  # last: it replaces us
    }
    for name in _PROBE_CHECKS:
        try:
            refused, detail = own[name]() if name in own else (False, f"did {actions[name]()!r}")
        except Exception as exc:  # the action failed: refused, and why
            refused, detail = True, _describe(exc)
        send({"check": name, "refused": refused, "detail": detail})


def _clear_parent_death_signal() -> str:
    if _prctl(PR_SET_PDEATHSIG, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return "cleared: it would outlive its parent"


def _allocate(limit: int) -> tuple[bool, str]:
    # Reserve lazily first: without the limit this costs address space, not memory.
    try:
        mmap.mmap(-1, limit + (64 << 20)).close()
    except OSError as exc:
        try:
            bytearray(limit)
        except MemoryError:
            return True, f"mmap: {_describe(exc)}; bytearray({limit}): MemoryError"
        return False, "bytearray succeeded"
    return False, f"reserved {limit + (64 << 20)} bytes"
