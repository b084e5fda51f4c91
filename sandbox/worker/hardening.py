"""OS isolation of a forked strategy worker: the boundary that holds when Python guards don't.

`harden()` runs in the worker right after fork, before any team code, in this order:

0. pid_namespace  not a step but a fact reported with the layers: the worker lives in the
                  zygote's own PID namespace, whose init the zygote is (see
                  `become_namespace_init`), so when the zygote dies (it dies with the host)
                  the kernel kills every worker, whatever a worker did to itself.
1. fds            close every inherited descriptor but the channel (other teams' pipes, host
                  sockets); verified via /proc/self/fd, readable only before the chroot and
                  before setuid (a process that drops from root is no longer dumpable).
2. environment    clear os.environ and the C environment; zero the exec-time block that
                  /proc/self/environ shows (bounds from /proc/self/stat).
3. net_namespace  unshare(CLONE_NEWNET): no interfaces, even loopback is unreachable.
4. ipc_namespace  unshare(CLONE_NEWIPC): no SysV/POSIX IPC shared with the host or other teams.
5. chroot         into an empty root-owned directory: paths show nothing of the host.
                  3-5 need CAP_SYS_ADMIN/CAP_SYS_CHROOT, so they precede the uid drop; the
                  /proc readers (1-4) precede the chroot.
6. rlimits        AS, CPU, NOFILE, FSIZE=0, CORE=0, set while still privileged.
7. uid            setgroups([]), setresgid, setresuid: drops every capability, which makes the
                  chroot and the namespaces permanent.
8. nproc          RLIMIT_NPROC after the drop, and only with the team's own uid: the kernel
                  ignores it for root and counts every task (threads too) of the real uid.
9. no_new_privs   needed for an unprivileged seccomp filter; alone it still stops setuid
                  binaries from granting privileges should seccomp be missing.
10. seccomp       last: it refuses unshare, chroot, setuid and setrlimit, used above, and the
                  prctl options that would undo a protection (clearing the parent-death
                  signal, becoming dumpable or a subreaper, letting another process trace).

A layer the kernel refuses is recorded as inactive with the reason and logged loudly, and the
remaining layers still run. Stdio is closed too, so the worker sends the returned
`LayerReport` (`as_records()`) to the host, which logs it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import resource
import signal
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sandbox.worker.inherited import LIBC, clear_environment, close_fds, libc_error
from sandbox.worker.seccomp_rules import (
    CHANNEL_ONLY,
    CLONE_NEW,
    LATE,
    REFUSED,
    REFUSED_PRCTL,
    SELF_ONLY,
)

log = logging.getLogger(__name__)

DEFAULT_CHROOT_DIR = "/run/strategy-arena-empty"
PROBE_UID = 19999  # below the team range (20000 + n): the probe never shares a team's NPROC
LAYER_NAMES = (
    "pid_namespace", "fds", "environment", "net_namespace", "ipc_namespace", "chroot",
    "rlimits", "uid", "nproc", "no_new_privs", "seccomp",
)  # fmt: skip
CLONE_THREAD, CLONE_NEWIPC, CLONE_NEWNET = 0x00010000, 0x08000000, 0x40000000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_SECCOMP = 1, 2, 21
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT = 6, 7, 18


@dataclass(frozen=True)
class HardeningConfig:
    """What one worker may use; the defaults suit a numpy/pandas/pyarrow strategy."""

    channel_fd: int
    uid: int | None = None  # per-team uid, e.g. 20000 + n; None keeps the current one
    gid: int | None = None  # None: same as uid
    memory_bytes: int = 1 << 30  # RLIMIT_AS; a warm worker's VSZ is 320-500 MiB
    cpu_seconds: int = 600  # RLIMIT_CPU soft (SIGXCPU): a backstop, the supervisor times calls
    cpu_grace_seconds: int = 30  # hard = soft + grace (SIGKILL)
    max_open_files: int = 32
    max_processes: int = 32  # tasks of the uid, threads included; a worker uses 3-6
    chroot_dir: str | None = DEFAULT_CHROOT_DIR
    network_namespace: bool = True
    ipc_namespace: bool = True
    seccomp: bool = True


@dataclass(frozen=True)
class LayerResult:
    """A layer (active: in force) or a probe check (active: the action was refused)."""

    name: str
    active: bool
    detail: str


@dataclass
class LayerReport:
    """Which layers are in force; `checks` holds what `probe_layers` tried and saw."""

    layers: list[LayerResult] = field(default_factory=list)
    checks: list[LayerResult] = field(default_factory=list)

    def active(self, name: str) -> bool:
        return any(r.active for r in self.layers if r.name == name)

    def missing(self) -> list[str]:
        return [r.name for r in self.layers if not r.active]

    def as_table(self) -> str:
        rows = [("layer", "active", "detail")]
        rows += [(r.name, "yes" if r.active else "NO", r.detail) for r in self.layers]
        if self.checks:
            rows += [("", "", ""), ("probe", "refused", "outcome")]
            rows += [(r.name, "yes" if r.active else "NO", r.detail) for r in self.checks]
        width = max(len(name) for name, _, _ in rows)
        return "\n".join(f"{a:<{width}}  {b:<7}  {c}".rstrip() for a, b, c in rows)

    def as_records(self) -> list[dict[str, Any]]:
        """The layers as JSON-ready dicts, for the worker's "ready" message to the host."""
        return [vars(r) for r in self.layers]

    @classmethod
    def from_records(cls, records: list[Mapping[str, Any]]) -> LayerReport:
        return cls(
            [LayerResult(str(r["name"]), bool(r["active"]), str(r["detail"])) for r in records]
        )


def prepare_parent(chroot_dir: str | None = DEFAULT_CHROOT_DIR) -> None:
    """Call in the zygote first, before importing numpy/pandas/pyarrow and forking workers."""
    # Read by OpenBLAS/OpenMP/MKL when they load: one BLAS thread per worker shares the cores
    # fairly across teams and stays far below RLIMIT_NPROC.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    # pyarrow's mimalloc reserves 1 GiB of address space on its first allocation; done in the
    # zygote, that alone exhausts a 1 GiB RLIMIT_AS in every worker (mmap fails with ENOMEM).
    os.environ["MIMALLOC_ARENA_RESERVE"] = "64MiB"
    if late := [name for name in ("numpy", "pyarrow") if name in sys.modules]:
        log.warning("prepare_parent() after importing %s: thread/arena settings ignored", late)
    try:  # its import runs ldconfig (fork + exec) and may write temp files: never in a worker
        _pyseccomp()
    except (ImportError, OSError, RuntimeError) as exc:
        log.warning("SANDBOX: seccomp will be unavailable in workers: %s", exc)
    if chroot_dir and os.geteuid() == 0:
        try:
            _make_empty_dir(chroot_dir)
        except OSError as exc:
            log.warning("SANDBOX: cannot prepare chroot directory %s: %s", chroot_dir, exc)


def harden(config: HardeningConfig) -> LayerReport:
    """Apply every layer to this freshly forked, single-threaded worker (see the module doc)."""
    cfg, report = config, LayerReport()
    if cfg.seccomp:  # import while ldconfig and the library are still reachable
        with contextlib.suppress(Exception):
            _pyseccomp()
    steps: list[tuple[str, bool, Callable[[], str]]] = [
        ("pid_namespace", True, _pid_namespace),
        ("fds", True, lambda: close_fds(cfg.channel_fd)),
        ("environment", True, clear_environment),
        ("net_namespace", cfg.network_namespace, lambda: _unshare(CLONE_NEWNET, "net")),
        ("ipc_namespace", cfg.ipc_namespace, lambda: _unshare(CLONE_NEWIPC, "ipc")),
        ("chroot", cfg.chroot_dir is not None, lambda: _enter_chroot(str(cfg.chroot_dir))),
        ("rlimits", True, lambda: _set_rlimits(cfg)),
        ("uid", cfg.uid is not None, lambda: _drop_identity(int(cfg.uid or 0), cfg.gid)),
        ("nproc", True, lambda: _limit_tasks(cfg.max_processes, cfg.uid)),
        ("no_new_privs", True, _set_no_new_privs),
        ("seccomp", cfg.seccomp, lambda: _install_seccomp(cfg.channel_fd)),
    ]
    for name, enabled, step in steps:
        try:
            result = LayerResult(name, True, step()) if enabled else None
        except Exception as exc:  # a refusal or a missing library: report it, keep hardening
            result = LayerResult(name, False, _describe(exc))
        report.layers.append(result or LayerResult(name, False, "disabled by configuration"))
        if not report.layers[-1].active:
            log.warning("SANDBOX LAYER INACTIVE: %s: %s", name, report.layers[-1].detail)
    return report


def become_namespace_init() -> str:
    """Move into a new PID namespace as its init (pid 1); returns only in the init.

    unshare(CLONE_NEWPID) puts the caller's *children* in the new namespace, so the caller
    forks: the child is pid 1 there and returns; the parent stays behind, waits for it and
    exits with its status. The init asks for SIGKILL when that parent dies; when the init
    dies, the kernel kills every process of the namespace, whatever each did to itself.
    """
    if _libc_unshare(CLONE_NEWPID) != 0:
        raise libc_error("unshare(pid)")
    child = os.fork()
    if child:  # the parent, outside: mirror the init's life, and its death
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code & 0xFF)
    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise libc_error("PR_SET_PDEATHSIG")
    if os.getppid() == 0 and os.getpid() == 1:  # the parent is outside: none to see
        return "init (pid 1) of its own PID namespace"
    raise RuntimeError(f"not the namespace's init: pid {os.getpid()}")


def _pid_namespace() -> str:
    """Whether this process lives in a PID namespace below the host's (a fact, not a step)."""
    with open("/proc/self/status") as status:
        line = next((ln for ln in status if ln.startswith("NSpid:")), "NSpid:")
    pids = line.split()[1:]
    if len(pids) < 2:
        raise RuntimeError(
            "in the host's PID namespace: a worker outlives a dead zygote unless its "
            "parent-death signal (locked by seccomp) fires"
        )
    return (
        f"pid {pids[-1]} in the zygote's PID namespace ({pids[0]} outside): "
        "it dies with the zygote, whatever it does to itself"
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _libc_unshare(flags: int) -> int:
    """unshare(2); a seam for tests that simulate a kernel refusal."""
    return int(LIBC.unshare(flags))


def _unshare(flag: int, kind: str) -> str:
    before = os.stat(f"/proc/self/ns/{kind}").st_ino
    if _libc_unshare(flag) != 0:
        raise libc_error(f"unshare({kind})")
    if (after := os.stat(f"/proc/self/ns/{kind}").st_ino) == before:
        raise RuntimeError(f"still in the {kind} namespace {before}")
    return f"own {kind} namespace {after}" + ("; loopback down" if kind == "net" else "")


def _make_empty_dir(path: str) -> None:
    os.makedirs(path, mode=0o555, exist_ok=True)
    os.chmod(path, 0o555)
    _check_empty_dir(path)


def _check_empty_dir(path: str) -> None:
    """Refuse a root that a worker could write to or that shows anything."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022 or os.listdir(path):
        raise PermissionError(errno.EPERM, f"{path} is not an empty, root-owned, unwritable dir")


def _enter_chroot(path: str) -> str:
    _check_empty_dir(path)
    # chroot, not pivot_root: after the uid drop (no CAP_SYS_CHROOT), with no descriptor
    # outside and seccomp refusing chroot, there is no way back up; pivot_root adds mounts.
    os.chroot(path)
    os.chdir("/")
    if os.listdir("/"):
        raise RuntimeError("the new root is not empty")
    return f"root is the empty directory {path}"


def _set_rlimits(cfg: HardeningConfig) -> str:
    wanted = {
        "AS": (resource.RLIMIT_AS, cfg.memory_bytes, cfg.memory_bytes),
        "CPU": (resource.RLIMIT_CPU, cfg.cpu_seconds, cfg.cpu_seconds + cfg.cpu_grace_seconds),
        "NOFILE": (resource.RLIMIT_NOFILE, cfg.max_open_files, cfg.max_open_files),
        "FSIZE": (resource.RLIMIT_FSIZE, 0, 0),  # writing to any file fails with EFBIG
        "CORE": (resource.RLIMIT_CORE, 0, 0),  # a core dump would hold the worker's memory
    }
    done, failed = [], []
    for name, (res, soft, hard) in wanted.items():
        if (inherited := resource.getrlimit(res)[1]) != resource.RLIM_INFINITY:
            soft, hard = min(soft, inherited), min(hard, inherited)  # never loosen a limit
        try:
            resource.setrlimit(res, (soft, hard))
            done.append(f"{name}={soft}/{hard}")
        except (OSError, ValueError) as exc:
            failed.append(f"{name}: {exc}")
    if failed:
        raise OSError(errno.EPERM, f"set {' '.join(done)}; failed {'; '.join(failed)}")
    return " ".join(done)


def _drop_identity(uid: int, gid: int | None) -> str:
    gid, death_signal = uid if gid is None else gid, ctypes.c_int(0)
    LIBC.prctl(PR_GET_PDEATHSIG, ctypes.byref(death_signal), 0, 0, 0)
    os.setgroups([])  # groups and gid first: both need the privilege that setresuid drops
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if death_signal.value:  # changing credentials clears the worker's parent-death signal
        _prctl(PR_SET_PDEATHSIG, death_signal.value)
    if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3 or os.getgroups():
        raise RuntimeError(f"identity is {os.getresuid()} {os.getresgid()} {os.getgroups()}")
    return f"uid={uid} gid={gid} groups=[]; capabilities dropped"


def _limit_tasks(limit: int, uid: int | None) -> str:
    # It counts every task of the real uid: on a shared uid it would starve the worker of
    # threads (or the host of processes); for root the kernel ignores it.
    if uid is None or uid == 0 or os.getuid() != uid:
        raise RuntimeError("not set: needs the worker to run as its own non-root uid")
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    return f"RLIMIT_NPROC={limit} tasks (threads included) of uid {uid}"


def _prctl(option: int, arg: int = 0) -> int:
    return int(LIBC.prctl(option, *(ctypes.c_ulong(a) for a in (arg, 0, 0, 0))))


def _set_no_new_privs() -> str:
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise libc_error("PR_SET_NO_NEW_PRIVS")
    if _prctl(PR_GET_NO_NEW_PRIVS) != 1:
        raise RuntimeError("no_new_privs reads back unset")
    return "set"


_SECCOMP_IMPORT: list[ModuleType | Exception] = []  # the module, or why it is unavailable


def _pyseccomp() -> ModuleType:
    """Import pyseccomp once (in the zygote, via prepare_parent()); a failure is remembered."""
    if not _SECCOMP_IMPORT:
        try:
            import pyseccomp

            _SECCOMP_IMPORT.append(pyseccomp)
        except (ImportError, OSError, RuntimeError) as exc:  # RuntimeError: no libseccomp
            _SECCOMP_IMPORT.append(exc)
    if isinstance(_SECCOMP_IMPORT[0], Exception):
        raise _SECCOMP_IMPORT[0]
    return _SECCOMP_IMPORT[0]


def _install_seccomp(channel_fd: int) -> str:
    sc = _pyseccomp()
    flt = sc.SyscallFilter(sc.ALLOW)  # default allow: the measurement is in the report
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)  # i386/x32 calls would skip the rules
    flt.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread, should one exist already
    eperm, absent = sc.ERRNO(errno.EPERM), set()

    def refuse(action: int, name: str, *args: Any) -> None:
        number = sc.resolve_syscall(sc.Arch.NATIVE, name)
        if (number := number if number >= 0 else LATE.get(name, -1)) < 0:
            absent.add(name)  # not a system call on this architecture
        else:
            flt.add_rule(action, number, *args)

    for name in REFUSED:
        refuse(eperm, name)
    refuse(sc.ERRNO(errno.ENOSYS), "clone3")  # flags are in memory: glibc falls back to clone
    refuse(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))  # a process, not a thread
    for flag in CLONE_NEW:
        refuse(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for name, fd_arg in CHANNEL_ONLY.items():
        refuse(eperm, name, sc.Arg(fd_arg, sc.NE, channel_fd))
    for name in SELF_ONLY:
        refuse(eperm, name, sc.Arg(0, sc.NE, os.getpid()))
    refuse(eperm, "prlimit64", sc.Arg(2, sc.NE, 0))  # reading limits is fine, setting is not
    for option in REFUSED_PRCTL.values():
        refuse(eperm, "prctl", sc.Arg(0, sc.EQ, option))
    flt.load()
    if _prctl(PR_GET_SECCOMP) != 2:
        raise RuntimeError("filter loaded, yet PR_GET_SECCOMP is not 2")
    return (
        f"default ALLOW; EPERM: {len(set(REFUSED) - absent)} calls, clone without "
        f"CLONE_THREAD, writes/sends except on fd {channel_fd}, signals to others, setting limits, "
        f"{len(REFUSED_PRCTL)} prctl options (the parent-death signal among them); "
        f"clone3 ENOSYS; other ABIs killed" + (f"; n/a here: {sorted(absent)}" if absent else "")
    )
