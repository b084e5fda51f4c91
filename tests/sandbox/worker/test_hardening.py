"""OS hardening of a strategy worker: each layer refuses what it must, and real work still runs.

Every test forks a child that hardens itself and reports back over a socketpair (the channel);
children always leave through os._exit, never through pytest. Tests that need a kernel
feature or root skip with the reason instead of passing vacuously.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import logging
import mmap
import os
import pickle
import signal
import socket
import stat
import sys
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from sandbox.host import probe
from sandbox.worker import hardening
from sandbox.worker.hardening import LAYER_NAMES, HardeningConfig, LayerReport, LayerResult

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

TEST_UID = 20001
ROOT = os.geteuid() == 0
LIBC = ctypes.CDLL(None, use_errno=True)


@dataclass
class Outcome:
    report: LayerReport
    result: Any
    error: str | None
    status: int  # exit code, or -signal


@pytest.fixture(scope="module")
def kernel() -> dict[str, bool]:
    return probe.kernel_supports()  # also imports pyseccomp here, in the parent


@functools.cache
def namespaces_work() -> bool:
    return probe.kernel_supports()["pid_namespace"]


def require(kernel: dict[str, bool], *layers: str) -> None:
    if missing := [name for name in layers if not kernel[name]]:
        pytest.skip(f"kernel/privileges do not support: {missing}")


def memory_budget() -> int:
    """1 GiB, or more if this pytest process (not a prepared zygote) already maps more."""
    with open("/proc/self/status") as status:
        vsz = next(int(ln.split()[1]) * 1024 for ln in status if ln.startswith("VmSize:"))
    return max(1 << 30, vsz + (512 << 20))


def run_hardened(
    body: Callable[[socket.socket, Any], Any],
    *,
    before: Callable[[], Any] | None = None,
    send_fds: tuple[int, ...] = (),
    namespace: bool = True,
    **overrides: Any,
) -> Outcome:
    """Fork, harden the child with the test config plus overrides, run body, return its result."""
    parent_end, child_end = socket.socketpair()
    settings = {"uid": TEST_UID, "memory_bytes": memory_budget(), **overrides}
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            if namespace and namespaces_work():  # as the zygote does: workers live in its
                with contextlib.suppress(OSError):  # PID namespace, where the kernel allows
                    hardening.become_namespace_init()
            state = before() if before else None
            report = hardening.harden(HardeningConfig(channel_fd=child_end.fileno(), **settings))
            message = {"layers": report.as_records(), "result": body(child_end, state)}
            child_end.sendall(pickle.dumps(message))
            code = 0
        except BaseException:
            with contextlib.suppress(BaseException):
                child_end.sendall(pickle.dumps({"error": traceback.format_exc()}))
        finally:
            os._exit(code)
    child_end.close()
    try:
        if send_fds:
            socket.send_fds(parent_end, [b"fds"], list(send_fds))
        parent_end.settimeout(20)
        data = b"".join(iter(lambda: parent_end.recv(1 << 16), b""))
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        parent_end.close()
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    message = pickle.loads(data) if data else {}
    report = LayerReport.from_records(message.get("layers", []))
    return Outcome(report, message.get("result"), message.get("error"), status)


def ok(outcome: Outcome) -> Any:
    assert outcome.error is None, outcome.error
    assert outcome.status == 0, f"child status {outcome.status}"
    return outcome.result


def errno_of(action: Callable[[], object]) -> str:
    """The errno name an action fails with, or 'succeeded'."""
    try:
        action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return "succeeded"


# --- the report -------------------------------------------------------------------------------


def test_report_lookup_table_and_round_trip() -> None:
    report = LayerReport(
        [LayerResult("fds", True, "closed 3"), LayerResult("seccomp", False, "ENOSYS: nope")],
        [LayerResult("fork", True, "EPERM")],
    )
    assert report.active("fds")
    assert not report.active("seccomp")
    assert not report.active("no such layer")
    assert report.missing() == ["seccomp"]
    table = report.as_table()
    for expected in ("seccomp", "NO", "ENOSYS: nope", "probe", "fork"):
        assert expected in table
    assert LayerReport.from_records(report.as_records()) == LayerReport(report.layers)


def test_kernel_supports_names_every_layer(kernel: dict[str, bool]) -> None:
    assert set(kernel) == set(LAYER_NAMES)
    assert all(isinstance(value, bool) for value in kernel.values())


def test_prepare_parent_sets_thread_and_arena_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "8")  # restored afterwards
    monkeypatch.setenv("MIMALLOC_ARENA_RESERVE", "1GiB")
    hardening.prepare_parent(chroot_dir=str(tmp_path / "empty"))
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MIMALLOC_ARENA_RESERVE"] == "64MiB"
    if ROOT:
        st = (tmp_path / "empty").stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o555, 0)


# --- the probe: what `arena doctor` prints ----------------------------------------------------


def test_every_layer_the_kernel_supports_is_active(kernel: dict[str, bool]) -> None:
    report = probe.probe_layers()
    inactive = [name for name, supported in kernel.items() if supported and not report.active(name)]
    assert not inactive, report.as_table()
    if all(kernel.values()):
        assert all(check.active for check in report.checks), report.as_table()


def test_probe_reports_disabled_layers_and_what_gets_through(kernel: dict[str, bool]) -> None:
    report = probe.probe_layers({"seccomp": False, "chroot_dir": None})
    assert report.layers[-1] == LayerResult("seccomp", False, "disabled by configuration")
    assert not report.active("chroot")
    checks = {check.name: check for check in report.checks}
    assert not checks["read /etc/passwd"].active  # nothing else stands in the way
    assert checks["use an inherited fd"].active
    if kernel["net_namespace"]:
        assert checks["connect to 127.0.0.1"].active
        assert "ENETUNREACH" in checks["connect to 127.0.0.1"].detail


# --- one layer at a time ----------------------------------------------------------------------


def test_inherited_descriptors_are_closed() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"secret")
    try:
        outcome = run_hardened(
            lambda channel, _: {
                "read": errno_of(lambda: os.read(read_end, 6)),
                "open": [
                    fd for fd in range(1024) if errno_of(lambda fd=fd: os.fstat(fd)) != "EBADF"
                ],
                "channel": channel.fileno(),
            }
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    result = ok(outcome)
    assert result["read"] == "EBADF"
    assert result["open"] == [result["channel"]]
    assert outcome.report.active("fds")


def _exec_time_environment() -> tuple[int, int, bool]:
    with open("/proc/self/stat") as stat_file:
        fields = stat_file.read().rsplit(")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])
    return start, end, any(ctypes.string_at(start, end - start))


def test_environment_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TEST_SECRET", "hunter2")
    getenv = LIBC.getenv
    getenv.restype = ctypes.c_char_p

    def body(_: socket.socket, block: tuple[int, int, bool]) -> dict[str, Any]:
        start, end, had_content = block
        return {
            "environ": dict(os.environ),
            "getenv": getenv(b"ARENA_TEST_SECRET"),
            "c_environ": ctypes.c_void_p.in_dll(LIBC, "environ").value,
            "block_had_content": had_content,
            "block_now_zero": not any(ctypes.string_at(start, end - start)),
        }

    result = ok(run_hardened(body, before=_exec_time_environment))
    assert result["environ"] == {}
    assert result["getenv"] is None
    assert not result["c_environ"]
    if not result["block_had_content"]:
        pytest.skip("pytest was started with an empty environment")
    assert result["block_now_zero"]


def test_seccomp_refuses_files(kernel: dict[str, bool]) -> None:
    require(kernel, "seccomp")
    # No chroot here, so the refusal can only be seccomp's (the chroot would say ENOENT).
    outcome = run_hardened(
        lambda *_: {
            "open for reading": errno_of(lambda: os.open("/etc/passwd", os.O_RDONLY)),
            "open for writing": errno_of(lambda: os.open("/tmp/arena-x", os.O_WRONLY | os.O_CREAT)),
            "mkdir": errno_of(lambda: os.mkdir(f"/tmp/arena-test-dir-{os.getpid()}")),
            "unlink": errno_of(lambda: os.unlink("/tmp/arena-no-such-file")),
            "chmod": errno_of(lambda: os.chmod("/tmp", 0o777)),
        },
        chroot_dir=None,
    )
    assert ok(outcome) == dict.fromkeys(ok(outcome), "EPERM")


def test_chroot_hides_the_host(kernel: dict[str, bool]) -> None:
    require(kernel, "chroot", "uid")
    outcome = run_hardened(
        lambda *_: {
            "listing": os.listdir("/"),
            "passwd exists": os.path.exists("/etc/passwd"),
            "open": errno_of(lambda: os.open("/etc/passwd", os.O_RDONLY)),
            "mkdir": errno_of(lambda: os.mkdir("/tmp")),
        },
        seccomp=False,  # leave the chroot alone in the way
    )
    assert ok(outcome) == {
        "listing": [],
        "passwd exists": False,
        "open": "ENOENT",
        "mkdir": "EACCES",
    }


def test_file_size_limit_stops_writes() -> None:
    path = Path(f"/tmp/arena-fsize-{os.getpid()}")

    def body(*_: object) -> str:
        with open(path, "wb", buffering=0) as file:
            return errno_of(lambda: file.write(b"x"))

    try:
        outcome = run_hardened(body, uid=None, seccomp=False, chroot_dir=None)
    finally:
        path.unlink(missing_ok=True)
    assert ok(outcome) == "EFBIG"


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def _connect(port: int) -> None:
    with socket.socket() as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))


def test_seccomp_refuses_sockets(kernel: dict[str, bool], listener: int) -> None:
    require(kernel, "seccomp")
    assert ok(run_hardened(lambda *_: errno_of(lambda: _connect(listener)))) == "EPERM"


def test_network_namespace_has_no_loopback(kernel: dict[str, bool], listener: int) -> None:
    require(kernel, "net_namespace")
    _connect(listener)  # reachable from here
    outcome = run_hardened(lambda *_: errno_of(lambda: _connect(listener)), seccomp=False)
    assert ok(outcome) == "ENETUNREACH"


def test_seccomp_refuses_processes(kernel: dict[str, bool]) -> None:
    require(kernel, "seccomp")

    def body(*_: object) -> dict[str, str]:
        def fork() -> None:
            if os.fork() == 0:
                os._exit(0)

        return {
            "fork": errno_of(fork),
            "execv": errno_of(lambda: os.execv("/bin/true", ["true"])),
            "posix_spawn": errno_of(lambda: os.posix_spawn("/bin/true", ["true"], {})),
        }

    outcome = run_hardened(body, chroot_dir=None)
    assert ok(outcome) == {"fork": "EPERM", "execv": "EPERM", "posix_spawn": "EPERM"}


def test_nproc_stops_a_fork_bomb(kernel: dict[str, bool]) -> None:
    require(kernel, "uid")
    limit = 6

    def body(*_: object) -> dict[str, Any]:
        read_end, write_end = os.pipe()
        children, failure = [], "none"
        for _ in range(30):
            try:
                pid = os.fork()
            except OSError as exc:
                failure = errno.errorcode[exc.errno or 0]
                break
            if pid == 0:  # a grandchild waits for EOF, then leaves
                os.close(write_end)
                os.read(read_end, 1)
                os._exit(0)
            children.append(pid)
        os.close(write_end)
        for pid in children:
            os.waitpid(pid, 0)
        return {"forked": len(children), "failure": failure}

    result = ok(run_hardened(body, seccomp=False, max_processes=limit))
    assert result["failure"] == "EAGAIN"
    assert result["forked"] < limit


def test_memory_limit_raises_memory_error() -> None:
    limit = memory_budget()

    def body(*_: object) -> dict[str, str]:
        try:
            bytearray(limit)
        except MemoryError:
            big = "MemoryError"
        else:
            big = "allocated"
        return {"big": big, "small": str(len(bytearray(16 << 20)))}

    assert ok(run_hardened(body, memory_bytes=limit)) == {
        "big": "MemoryError",
        "small": str(16 << 20),
    }


def test_identity_is_the_team_uid(kernel: dict[str, bool]) -> None:
    require(kernel, "uid")
    outcome = run_hardened(
        lambda *_: {
            "uid": os.getresuid(),
            "gid": os.getresgid(),
            "groups": os.getgroups(),
            "signal parent": errno_of(lambda: os.kill(os.getppid(), 0)),
        },
        seccomp=False,  # the refusal to signal the (root) parent comes from the uid alone
        namespace=False,  # in its own PID namespace, the parent is not even visible
    )
    assert ok(outcome) == {
        "uid": (TEST_UID,) * 3,
        "gid": (TEST_UID,) * 3,
        "groups": [],
        "signal parent": "EPERM",
    }


def test_parent_death_signal_survives_the_uid_drop(kernel: dict[str, bool]) -> None:
    require(kernel, "uid")

    def death_signal(*_: object) -> int:
        value = ctypes.c_int(0)
        LIBC.prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG
        return value.value

    arm = lambda: LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # noqa: E731  (PR_SET_PDEATHSIG)
    assert ok(run_hardened(death_signal, before=arm)) == signal.SIGKILL


def test_seccomp_refuses_the_prctl_options_that_would_undo_a_protection(
    kernel: dict[str, bool],
) -> None:
    require(kernel, "seccomp")

    def body(*_: object) -> dict[str, str]:
        def prctl(option: int, arg: int) -> str:
            result = LIBC.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)
            return "succeeded" if result == 0 else errno.errorcode[ctypes.get_errno()]

        name = ctypes.create_string_buffer(b"worker")
        return {
            "clear the parent-death signal": prctl(1, 0),  # PR_SET_PDEATHSIG
            "become dumpable": prctl(4, 1),  # PR_SET_DUMPABLE
            "become a subreaper": prctl(36, 1),  # PR_SET_CHILD_SUBREAPER
            "let any process trace it": prctl(0x59616D61, 2**64 - 1),  # PR_SET_PTRACER_ANY
            "name its thread": prctl(15, ctypes.addressof(name)),  # PR_SET_NAME
        }

    assert ok(run_hardened(body)) == {
        "clear the parent-death signal": "EPERM",
        "become dumpable": "EPERM",
        "become a subreaper": "EPERM",
        "let any process trace it": "EPERM",
        "name its thread": "succeeded",  # pyarrow names its threads: harmless prctls stay
    }


def test_seccomp_limits_signals_and_writes_to_self_and_channel(kernel: dict[str, bool]) -> None:
    require(kernel, "seccomp")

    def body(channel: socket.socket, _: object) -> dict[str, Any]:
        got: list[int] = []
        signal.signal(signal.SIGUSR1, lambda signum, _: got.append(signum))
        signal.raise_signal(signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)
        _, write_end = os.pipe()
        return {
            "signal parent": errno_of(lambda: os.kill(os.getppid(), 0)),
            "signals to self": len(got),
            "write to own pipe": errno_of(lambda: os.write(write_end, b"x")),
            "write to channel": os.write(channel.fileno(), b""),
        }

    # Staying root (uid=None): only seccomp can refuse the signal to the parent.
    outcome = run_hardened(body, uid=None, chroot_dir=None)
    assert ok(outcome) == {
        "signal parent": "EPERM",
        "signals to self": 2,
        "write to own pipe": "EPERM",
        "write to channel": 0,
    }


# Raw system calls with harmless arguments: unfiltered, each fails with something else.
RAW_CALLS = {
    "openat": (257, -100, 0, 0),
    "socket": (41, -1, 0, 0),
    "execve": (59, 0, 0, 0),
    "io_uring_setup": (425, 0, 0),
    "io_setup": (206, 0, 0),
    "bpf": (321, -1, 0, 0),
    "userfaultfd": (323, -1),
    "perf_event_open": (298, 0, 0, 0, 0, 0),
    "keyctl": (250, -1, 0, 0),
    "add_key": (248, 0, 0, 0, 0, 0),
    "memfd_create": (319, 0, 0),
    "ptrace": (101, -1, 0, 0, 0),
    "process_vm_readv": (310, 0, 0, 1, 0, 1, 0),
    "unshare": (272, -1),
    "setns": (308, -1, 0),
    "mount": (165, 0, 0, 0, 0, 0),
    "chroot": (161, 0),
    "pidfd_open": (434, -1, 0),
    "splice": (275, -1, 0, -1, 0, 1, 0),
    "setrlimit": (160, 999, 0),
    "prlimit64": (302, 0, 999, 1, 0),
    "capset": (126, 0, 0),
    "fsopen": (430, 0, 0),
    "listmount": (458, 0, 0, 0, 0),
}


UNPRIVILEGED = {"openat", "socket", "execve", "memfd_create", "splice", "pidfd_open", "prlimit64"}


def _raw_errnos(*_: object) -> dict[str, str]:
    def call(number: int, *args: int) -> str:
        result = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        return "succeeded" if result >= 0 else errno.errorcode[ctypes.get_errno()]

    errnos = {name: call(*spec) for name, spec in RAW_CALLS.items()}
    errnos["clone3"] = call(435, 0, 0)
    return errnos


def test_raw_system_calls_are_refused_by_seccomp(kernel: dict[str, bool]) -> None:
    require(kernel, "seccomp")
    # Without the filter each call fails otherwise (EFAULT, EINVAL, ...) unless it needs a
    # privilege this process lacks; only the calls that prove something are compared.
    control = ok(run_hardened(_raw_errnos, uid=None, chroot_dir=None, seccomp=False))
    provable = {name for name, err in control.items() if err not in ("EPERM", "succeeded")}
    assert provable >= UNPRIVILEGED, control
    filtered = ok(run_hardened(_raw_errnos, uid=None, chroot_dir=None))
    assert filtered == {**dict.fromkeys(RAW_CALLS, "EPERM"), "clone3": "ENOSYS"}


def test_other_syscall_abis_kill_the_worker(kernel: dict[str, bool]) -> None:
    require(kernel, "seccomp")
    x32_getpid = 0x40000000 | 39  # the x32 ABI would sidestep rules written for x86_64
    if os.uname().machine != "x86_64":
        pytest.skip("x32 exists on x86_64 only")
    outcome = run_hardened(lambda *_: LIBC.syscall(ctypes.c_long(x32_getpid)))
    assert outcome.status == -signal.SIGSYS


# --- what must still work ---------------------------------------------------------------------


@pytest.fixture(params=["read-only file", "sealed memfd"])
def arrow_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, dict]]:
    """A window as Arrow IPC behind a descriptor, and what a strategy should compute from it."""
    frame = pd.DataFrame(
        {
            "sym": ["AAPL", "MSFT"] * 300,
            "close": np.linspace(100.0, 130.0, 600),
            "ts": pd.date_range("2026-03-12 13:30", periods=600, freq="min", tz="UTC"),
        }
    )
    path = tmp_path / "window.arrow"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    if request.param == "read-only file":
        fd = os.open(path, os.O_RDONLY)
    else:
        fd = os.memfd_create("window", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.write(fd, path.read_bytes())
        seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    try:
        yield fd, _compute(pa.ipc.open_file(str(path)).read_all())  # warms caches, as a zygote
    finally:
        os.close(fd)


def _compute(table: pa.Table) -> dict[str, Any]:
    frame = table.to_pandas()
    matrix = np.arange(1.0, 401.0).reshape(20, 20) + np.eye(20) * 50
    with ThreadPoolExecutor(max_workers=2) as pool:
        sums = sorted(pool.map(lambda s: float(frame.loc[frame.sym == s, "close"].sum()),
                               ["AAPL", "MSFT"]))  # fmt: skip
    return {
        "matmul": float((matrix @ matrix.T).trace()),
        "solve": np.round(np.linalg.solve(matrix, np.ones(20)), 12).tolist(),
        "rolling": round(float(frame["close"].rolling(5).mean().sum()), 9),
        "groupby": frame.groupby("sym")["close"].mean().round(9).to_dict(),
        "last_ts": str(frame["ts"].iloc[-1]),
        "thread_sums": sums,
    }


def test_hardened_worker_still_does_real_work(
    kernel: dict[str, bool], arrow_file: tuple[int, dict[str, Any]]
) -> None:
    fd, expected = arrow_file

    def body(channel: socket.socket, _: object) -> dict[str, Any]:
        _, fds, _, _ = socket.recv_fds(channel, 16, 1)  # passed after hardening
        view = mmap.mmap(fds[0], 0, prot=mmap.PROT_READ)
        result = _compute(pa.ipc.open_file(pa.py_buffer(view)).read_all())
        writable = lambda: mmap.mmap(fds[0], 0, prot=mmap.PROT_READ | mmap.PROT_WRITE)  # noqa: E731
        result["shared writable map"] = errno_of(writable)  # other teams map the same file
        return result

    outcome = run_hardened(body, send_fds=(fd,))
    result = ok(outcome)
    assert result.pop("shared writable map") in ("EACCES", "EPERM")
    assert result == expected
    assert [n for n, ok_ in kernel.items() if ok_ and not outcome.report.active(n)] == []


# --- a layer that fails does not stop the worker ----------------------------------------------


def _work_and_warnings(*_: object) -> dict[str, Any]:
    return {"sum": float(np.arange(10.0).sum()), "warnings": WARNINGS}


WARNINGS: list[str] = []


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        WARNINGS.append(record.getMessage())


def _record_warnings() -> None:
    hardening.log.addHandler(_Recorder(logging.WARNING))


def test_refused_unshare_is_reported_and_the_worker_runs(
    monkeypatch: pytest.MonkeyPatch, kernel: dict[str, bool]
) -> None:
    def refuse(_: int) -> int:
        ctypes.set_errno(errno.EPERM)
        return -1

    monkeypatch.setattr(hardening, "_libc_unshare", refuse)
    outcome = run_hardened(_work_and_warnings, before=_record_warnings)
    result = ok(outcome)
    assert result["sum"] == 45.0
    for name in ("net_namespace", "ipc_namespace"):
        assert not outcome.report.active(name)
        assert any(r.detail.startswith("EPERM") for r in outcome.report.layers if r.name == name)
        assert any(f"SANDBOX LAYER INACTIVE: {name}: EPERM" in w for w in result["warnings"])
    assert not outcome.report.active("pid_namespace")  # the same unshare, refused too
    assert any("SANDBOX LAYER INACTIVE: pid_namespace" in w for w in result["warnings"])
    refused = ("net_namespace", "ipc_namespace", "pid_namespace")
    others = [n for n in LAYER_NAMES if kernel[n] and n not in refused]
    assert all(outcome.report.active(name) for name in others), outcome.report.as_table()


def test_missing_libseccomp_is_reported_and_the_worker_runs(
    monkeypatch: pytest.MonkeyPatch, kernel: dict[str, bool]
) -> None:
    def no_library() -> None:
        raise RuntimeError("Unable to find libseccomp")

    monkeypatch.setattr(hardening, "_pyseccomp", no_library)
    outcome = run_hardened(_work_and_warnings)
    assert ok(outcome)["sum"] == 45.0
    seccomp = next(r for r in outcome.report.layers if r.name == "seccomp")
    assert seccomp == LayerResult("seccomp", False, "RuntimeError: Unable to find libseccomp")
    assert outcome.report.active("no_new_privs") == kernel["no_new_privs"]


def test_unsafe_chroot_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "left-over").write_text("x")
    outcome = run_hardened(_work_and_warnings, chroot_dir=str(tmp_path), seccomp=False)
    assert ok(outcome)["sum"] == 45.0
    chroot = next(r for r in outcome.report.layers if r.name == "chroot")
    assert not chroot.active
    assert "not an empty" in chroot.detail
