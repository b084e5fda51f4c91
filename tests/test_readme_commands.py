"""Every command in the READMEs' shell blocks runs here as a reader would type it (issue 15),
or is listed below with the reason it cannot (a command that never ends, one that installs
packages, the test suite itself). A README edit that adds a command without either fails."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, find_real_data
from tests.runtime.live_processes import wait_until_answering

pytestmark = pytest.mark.slow
READMES = (REPO / "README.md", REPO / "strategy_starter" / "README.md")
NOT_RUN = {
    "make demo": "never ends by itself: tests/cli/test_demo_processes.py runs `arena demo`",
    "make test": "the test suite itself (`.ci/run` runs it)",
    ".venv/bin/pip install -e '.[qlib]'": "installs packages: `make test` installs them",
    ".venv/bin/pip install --no-deps pyqlib==0.9.7": "installs packages: `make test` does",
    ".venv/bin/pip install -e '.[qlib-research]'": "installs packages (optional research)",
}


def shell_commands(path: Path) -> list[str]:
    """The commands of every ```bash block: continued lines joined, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command:
                commands.append(re.sub(r"\s+", " ", command))
    return commands


def test_every_readme_command_is_run_here_or_excused() -> None:
    run_here = {*REPLAYS, *STARTER, *EMULATOR}
    for readme in READMES:
        for command in shell_commands(readme):
            assert command in run_here or command in NOT_RUN, f"{readme.name}: {command!r}"


REPLAYS = (
    ".venv/bin/arena replay --bars ../shared/data/us-minute-2026-03 --start 2026-03-12 "
    "--end 2026-03-12 --data-dir /tmp/r",
    ".venv/bin/arena replay --bars ../shared/data/us-minute-2026-03 --continue --end 2026-03-13 "
    "--data-dir /tmp/r",
    ".venv/bin/arena replay --bars ../shared/data/us-minute-2026-03 --start 2026-03-12 "
    "--end 2026-03-12 --data-dir /tmp/arena-replay",
)
STARTER = (
    "python test_strategy.py",
    "python test_strategy.py my_strategy.py MyStrategy",
)
EMULATOR = (
    ".venv/bin/arena emulator --bars ../shared/data/us-minute-2026-03 --symbols AAPL,SPY,QQQ "
    "--start 2026-03-12 --end 2026-03-12 --speed 30 --port 8765 &",
    "export ARENA_ALPACA_API_KEY=emulator-key ARENA_ALPACA_SECRET_KEY=emulator-secret "
    "ARENA_ALPACA_TRADING_URL=http://127.0.0.1:8765 ARENA_ALPACA_DATA_URL=http://127.0.0.1:8765 "
    "ARENA_ALPACA_REQUESTS_PER_MINUTE=100000",
    ".venv/bin/arena run --broker alpaca --market alpaca --universe AAPL,SPY,QQQ --duration 60",
)


def typed(command: str, tmp_path: Path, cwd: Path = REPO, env: dict | None = None) -> str:
    """Run `command` as typed, its /tmp paths moved under `tmp_path`; returns its output."""
    words = [w.replace("/tmp/", f"{tmp_path}/") for w in shlex.split(command)]
    if words[0].startswith(".venv/bin/"):
        words[0] = str(Path(sys.executable).parent / Path(words[0]).name)
    elif words[0] == "python":
        words[0] = sys.executable
    answer = subprocess.run(
        words, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert answer.returncode == 0, (command, answer.stdout[-2000:], answer.stderr[-2000:])
    return answer.stdout


@pytest.fixture
def shared_data() -> Path:
    found = find_real_data()
    if found is None or found != REPO.parent / "shared" / "data" / "us-minute-2026-03":
        pytest.skip("the README's commands read ../shared/data beside the repository")
    return found


def test_the_replay_commands_run_as_written(shared_data: Path, tmp_path: Path) -> None:
    for command in REPLAYS:  # a run and its continuation, then a one-session replay
        assert "Leaderboard" in typed(command, tmp_path)


def test_the_starter_kits_local_test_runs_as_written(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    shutil.copytree(REPO / "strategy_starter", kit)
    own = (kit / "strategy.py").read_text().replace("class MomentumStrategy", "class MyStrategy")
    (kit / "my_strategy.py").write_text(own)  # a team's copy, as the README suggests
    for command in STARTER:
        typed(command, tmp_path, cwd=kit)


def test_the_emulator_walkthrough_runs_as_written(shared_data: Path, tmp_path: Path) -> None:
    emulator_words = EMULATOR[0].removesuffix(" &")
    env = {**os.environ}
    for pair in shlex.split(EMULATOR[1].removeprefix("export ")):
        name, _, value = pair.partition("=")
        env[name] = value
    command = shlex.split(emulator_words)
    command[0] = str(Path(sys.executable).parent / "arena")
    emulator = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_answering("http://127.0.0.1:8765/v2/clock")
        env["ARENA_DATA_DIR"] = str(tmp_path / "run")  # not the checkout's data/
        output = typed(EMULATOR[2], tmp_path, env=env)
        assert "Leaderboard" in output
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
