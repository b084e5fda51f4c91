"""OS isolation of a forked strategy worker: the boundary that holds when Python guards don't.

`harden()` runs in the worker right after fork, before any team code, in this order:

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
10. seccomp       last: it refuses unshare, chroot, setuid and setrlimit, used above.

A layer the kernel refuses is recorded as inactive with the reason and logged loudly, and the
remaining layers still run. Stdio is closed too, so the worker sends the returned
`LayerReport` (`as_records()`) to the host, which logs it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import mmap
import os
import resource
import select
import signal
import socket
import stat
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_CHROOT_DIR = "/run/strategy-arena-empty"
PROBE_UID = 19999  # below the team range (20000 + n): the probe never shares a team's NPROC
LAYER_NAMES = (
    "fds", "environment", "net_namespace", "ipc_namespace", "chroot",
    "rlimits", "uid", "nproc", "no_new_privs", "seccomp",
)  # fmt: skip
CLONE_THREAD, CLONE_NEWIPC, CLONE_NEWNET = 0x00010000, 0x08000000, 0x40000000
# NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: no namespaces via clone either.
_CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_SECCOMP = 1, 2, 21
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT = 6, 7, 18

_LIBC = ctypes.CDLL(None, use_errno=True)  # dlopen(NULL): find_library would fork ldconfig

# Refused outright with EPERM. A worker keeps computation, its own memory and threads, what it
# already holds and the channel; each of these reaches further.
_REFUSED = (
    # Files: nothing is opened after hardening (the zygote imports every module beforehand).
    "open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at",
    # Changing the file system (world-writable /tmp stays writable to any uid).
    "mkdir", "mkdirat", "mknod", "mknodat", "unlink", "unlinkat", "rmdir", "rename",
    "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
    "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
    "fallocate", "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr",
    # Network: no new sockets; the channel is connected already.
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # Processes: no programs, no children, nothing of other processes' memory, fds or pages.
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "process_madvise",
    "process_mrelease", "migrate_pages", "move_pages", "tkill",
    # Namespaces and mounts: would undo the layers above.
    "mount", "umount2", "chroot", "pivot_root", "unshare", "setns", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
    "statmount", "listmount",  # these two would also list the host's mounts
    # Identity and limits are final (matters most if the worker stays root).
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
    "setfsgid", "setgroups", "capset", "setrlimit",
    # Around the write filter and seccomp: io_uring ops are invisible to seccomp, AIO writes,
    # splice/tee/vmsplice hand page-cache pages of the shared data file to pipes (Dirty Pipe).
    "io_uring_setup", "io_uring_enter", "io_uring_register", "io_setup", "io_submit",
    "splice", "tee", "vmsplice", "memfd_create", "memfd_secret",
    # Kernel attack surface and host secrets (the session keyring survives fork).
    "bpf", "userfaultfd", "perf_event_open", "keyctl", "add_key", "request_key",
    "fanotify_init", "inotify_init", "inotify_init1", "modify_ldt", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module",
    # Administration: needs capabilities the uid drop removes; refused in case it stays root.
    "acct", "reboot", "swapon", "swapoff", "sethostname", "setdomainname", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm", "syslog", "quotactl",
    "quotactl_fd", "vhangup",
)  # fmt: skip
# Calls that push data through a descriptor: only on the channel (value = index of the fd).
_CHANNEL_ONLY = {
    "write": 0, "writev": 0, "pwrite64": 0, "pwritev": 0, "pwritev2": 0, "sendto": 0,
    "sendmsg": 0, "sendmmsg": 0, "sendfile": 0, "copy_file_range": 2,
}  # fmt: skip
# Signals only to this process (argument 0 = pid); raise() and pthread_kill use tgkill.
_SELF_ONLY = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Unknown to libseccomp 2.5.4; numbers from 424 on are the same on every architecture.
_LATE = {"statmount": 457, "listmount": 458, "setxattrat": 463, "removexattrat": 466,
         "open_tree_attr": 467, "file_setattr": 469}  # fmt: skip


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
        ("fds", True, lambda: _close_fds(cfg.channel_fd)),
        ("environment", True, _clear_environment),
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _libc_error(what: str) -> OSError:
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


def _close_fds(keep: int) -> str:
    before = _open_fds()
    # The bound comes from the listing: up to a huge number, closerange loops fd by fd on
    # kernels without close_range(2); and an inherited fd may exceed the NOFILE limit.
    os.closerange(0, keep)
    os.closerange(keep + 1, max([*before, keep]) + 1)
    if (left := _open_fds()) != [keep]:
        raise RuntimeError(f"open after closing: {left}, expected only the channel {keep}")
    return f"closed {len(before) - 1} inherited fds; only channel fd {keep} is open"


def _clear_environment() -> str:
    with open("/proc/self/stat") as stat_file:  # fields 50/51 bound the exec-time block
        fields = stat_file.read().rsplit(")", 1)[1].split()
    start, end, count = int(fields[47]), int(fields[48]), len(os.environ)
    os.environ.clear()  # unsetenv()s each name too
    if _LIBC.clearenv() != 0:
        raise _libc_error("clearenv")
    if 0 < start < end:
        ctypes.memset(start, 0, end - start)
    if os.environ or ctypes.c_void_p.in_dll(_LIBC, "environ").value:
        raise RuntimeError("environment still set")
    return f"cleared {count} variables; exec-time block zeroed ({end - start} bytes)"


def _libc_unshare(flags: int) -> int:
    """unshare(2); a seam for tests that simulate a kernel refusal."""
    return int(_LIBC.unshare(flags))


def _unshare(flag: int, kind: str) -> str:
    before = os.stat(f"/proc/self/ns/{kind}").st_ino
    if _libc_unshare(flag) != 0:
        raise _libc_error(f"unshare({kind})")
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
    _LIBC.prctl(PR_GET_PDEATHSIG, ctypes.byref(death_signal), 0, 0, 0)
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
    return int(_LIBC.prctl(option, *(ctypes.c_ulong(a) for a in (arg, 0, 0, 0))))


def _set_no_new_privs() -> str:
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise _libc_error("PR_SET_NO_NEW_PRIVS")
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
        if (number := number if number >= 0 else _LATE.get(name, -1)) < 0:
            absent.add(name)  # not a system call on this architecture
        else:
            flt.add_rule(action, number, *args)

    for name in _REFUSED:
        refuse(eperm, name)
    refuse(sc.ERRNO(errno.ENOSYS), "clone3")  # flags are in memory: glibc falls back to clone
    refuse(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))  # a process, not a thread
    for flag in _CLONE_NEW:
        refuse(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for name, fd_arg in _CHANNEL_ONLY.items():
        refuse(eperm, name, sc.Arg(fd_arg, sc.NE, channel_fd))
    for name in _SELF_ONLY:
        refuse(eperm, name, sc.Arg(0, sc.NE, os.getpid()))
    refuse(eperm, "prlimit64", sc.Arg(2, sc.NE, 0))  # reading limits is fine, setting is not
    flt.load()
    if _prctl(PR_GET_SECCOMP) != 2:
        raise RuntimeError("filter loaded, yet PR_GET_SECCOMP is not 2")
    return (
        f"default ALLOW; EPERM: {len(set(_REFUSED) - absent)} calls, clone without "
        f"CLONE_THREAD, writes/sends except on fd {channel_fd}, signals to others, setting limits; "
        f"clone3 ENOSYS; other ABIs killed" + (f"; n/a here: {sorted(absent)}" if absent else "")
    )


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
            code = (_LIBC.unshare(CLONE_NEWNET) == 0) | ((_LIBC.unshare(CLONE_NEWIPC) == 0) << 1)
        finally:
            os._exit(code)
    code = max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), 0)
    return {
        **dict.fromkeys(("fds", "environment", "rlimits"), True),
        "net_namespace": bool(code & 1),
        "ipc_namespace": bool(code & 2),
        "chroot": bool(caps >> CAP_SYS_CHROOT & 1),
        "uid": can_setid,
        "nproc": can_setid,
        "no_new_privs": _prctl(PR_GET_NO_NEW_PRIVS) >= 0,
        "seccomp": seccomp,
    }


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
    "run as the team uid", "signal the parent", "exec /bin/true",
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
    getenv = _LIBC.getenv
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
        "exec /bin/true": lambda: os.execv("/bin/true", ["true"]),  # last: it replaces us
    }
    for name in _PROBE_CHECKS:
        try:
            refused, detail = own[name]() if name in own else (False, f"did {actions[name]()!r}")
        except Exception as exc:  # the action failed: refused, and why
            refused, detail = True, _describe(exc)
        send({"check": name, "refused": refused, "detail": detail})


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
