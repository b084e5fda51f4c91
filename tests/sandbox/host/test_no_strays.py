"""No strays, ever: workers die with the host, whatever they do to themselves.

The zygote is the init of a PID namespace of its own (sandbox.worker.hardening.
become_namespace_init) and dies with the host; when a namespace's init dies the kernel
kills every process in it. A worker cannot leave the namespace (seccomp refuses unshare and
setns) nor clear its parent-death signal (seccomp refuses that prctl): both are tested here
with a process that does its worst (tests/fixtures/rogue/immortal.py), and with a real host
killed with SIGKILL while its sandbox runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.host.probe import kernel_supports

REPO = Path(__file__).resolve().parents[3]
IMMORTAL = REPO / "tests" / "fixtures" / "rogue" / "immortal.py"
GONE_WITHIN = 5.0  # seconds: the kernel tears a namespace down at once; slack for a busy box


@pytest.fixture(scope="module")
def namespaces() -> None:
    if not kernel_supports()["pid_namespace"]:
        pytest.skip("the kernel refuses PID namespaces here: the fallback is tested instead")


def alive(pid: int) -> bool:
    """A process, not a zombie awaiting its parent's wait."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def start_immortal(in_namespace: bool) -> tuple[int, int]:
    """Fork a parent that starts the immortal process; returns (parent, immortal) pids."""
    read_end, write_end = os.pipe()
    parent = os.fork()
    if parent == 0:
        code = 1
        try:
            os.close(read_end)
            if in_namespace:
                from sandbox.worker.hardening import become_namespace_init

                become_namespace_init()  # the zygote's own way in; only the init returns
            child = subprocess.Popen([sys.executable, str(IMMORTAL)], stdout=write_end)
            os.close(write_end)
            child.wait()
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        immortal = int(reader.readline())
    return parent, immortal


def test_without_the_namespace_such_a_process_outlives_its_parent() -> None:
    """The control: what the namespace is for (a cleared parent-death signal is enough)."""
    parent, immortal = start_immortal(in_namespace=False)
    try:
        os.kill(parent, signal.SIGKILL)
        os.waitpid(parent, 0)
        time.sleep(0.3)
        assert alive(immortal), "expected the immortal process to survive without a namespace"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(immortal, signal.SIGKILL)


def test_in_the_namespace_it_dies_with_the_init(namespaces: None) -> None:
    parent, immortal = start_immortal(in_namespace=True)
    try:
        assert alive(immortal)
        status = Path(f"/proc/{immortal}/status").read_text()
        assert len(next(ln for ln in status.splitlines() if ln.startswith("NSpid:")).split()) == 3
        os.kill(parent, signal.SIGKILL)  # the init's parent: the init gets its death signal
        os.waitpid(parent, 0)
        assert wait_until_gone([immortal]) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(immortal, signal.SIGKILL)


HOST = """
import sys, time
from app.engine.ports import TeamCode
from sandbox.host.supervisor import SandboxRunner, SandboxSettings
SOURCE = '''
class S:
    def __init__(self, params=None):
        pass
    def generate_signal(self, team, bars, current_prices):
        return None
'''
runner = SandboxRunner(SandboxSettings(budget_seconds=5.0))
outcomes = runner.load_many({f"t{i}": TeamCode({"strategy.py": SOURCE}, "S", {}, "v1")
                             for i in range(3)})
assert all(o.ok for o in outcomes.values()), outcomes
pids = [runner.zygote.pid] + [w.pid for w in runner.workers.values()]
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def namespace_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def test_a_killed_host_leaves_no_zygote_and_no_worker(namespaces: None) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        zygote, *workers = map(int, host.stdout.readline().split())  # type: ignore[union-attr]
        assert len(workers) == 3
        assert all(alive(p) for p in [zygote, *workers])
        inits = {namespace_of(w) for w in workers}
        assert len(inits) == 1  # one namespace for all workers...
        assert inits != {namespace_of(os.getpid())}  # ...which is not the host's
        host.kill()  # SIGKILL: no cleanup code of the host runs
        host.wait()
        assert wait_until_gone([zygote, *workers]) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            host.kill()
