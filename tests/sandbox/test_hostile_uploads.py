"""Hostile uploads against what stands before the sandbox: parsing a team's source, the
HTTP door uploads come through, and the disk they are kept on. The sandbox suite is where
the trust-boundary tests live, so these are here too (issue 11, items 7 to 9).

- Pathological sources (tests/fixtures/hostile_uploads/*.py.txt, each naming the problem
  it must get on its `# expect:` line; kept as text because ruff itself overflows its stack
  on some of them) are refused with that problem, naming the file, by every place that
  parses a team's source: the static checks, the entry-point guess, `arena strategy
  check|test` (exit 1, no internal error) and the upload API (422). Before, each of them
  crashed at least the static checks (RecursionError, MemoryError or a SyntaxError only
  the compiler raises). Every accepted depth also compiles under RestrictedPython, with
  room to spare on the stack.
- The door: against a real `arena serve` with TMPDIR pointed at an empty folder, a large
  streamed body without a key, with a wrong key or another team's, or over the cap with
  the right key, is refused before the server reads it (the client cannot send it all),
  with nothing opened under TMPDIR and nothing written under the data directory; a
  Content-Length over the cap is refused before a byte is sent. No route lets FastAPI
  read a body before the key is checked. A normal upload still works.
- The quota: versions beyond a team's quota (count or bytes) are refused (409) with what
  to do, and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import socket
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from fastapi.testclient import TestClient

from app.cli import main
from app.config.settings import ArenaSettings
from app.strategies.sources import StrategySourceError, guess_entry_point
from app.web import create_app
from app.web.keys import ORGANISER, KeyStore
from sandbox.worker.compiler import check_strategy
from tests.conftest import FIXTURE_STRATEGIES, REPO
from tests.runtime.live_processes import arena, free_port, kill_group, wait_until_answering

HOSTILE = REPO / "tests" / "fixtures" / "hostile_uploads"
SOURCES = sorted(HOSTILE.glob("*.py.txt"))
BUYER = (HOSTILE / "buyer.py").read_text()
WRONG_KEY = "arena_team_" + "x" * 43
UPLOAD = "/api/v1/team/alpha/strategy"
MIB = 1 << 20


def expected(source: Path) -> str:
    """The problem a fixture must be refused with (its `# expect:` line)."""
    match = re.search(r"^# expect: (.+)$", source.read_text(), re.MULTILINE)
    assert match is not None, f"{source.name} has no '# expect:' line"
    return match.group(1)


def name_of(source: Path) -> str:
    return source.name.removesuffix(".py.txt")


def variant(n: int) -> bytes:
    """The good strategy, made a new version by one comment line."""
    return f"{BUYER}# variant {n}\n".encode()


def registry_file(folder: Path, competition: dict | None = None) -> Path:
    teams = [
        {"team_id": t, "name": t.title(), "strategy": str(FIXTURE_STRATEGIES / "scripted.py"),
         "entry_point": "ScriptedStrategy", "initial_cash": 100_000}
        for t in ("alpha", "beta")
    ]  # fmt: skip
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"competition": competition or {}, "teams": teams}))
    return path


def files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


# -- pathological sources -----------------------------------------------------------------


def test_the_fixtures_are_found():
    assert len(SOURCES) >= 7


@pytest.mark.parametrize("source", SOURCES, ids=name_of)
def test_the_static_checks_refuse_a_pathological_source_naming_the_file(source):
    problems = check_strategy({"strategy.py": source.read_text()}, "Strategy")
    assert len(problems) == 1, problems
    assert problems[0].file == "strategy.py"
    assert expected(source) in problems[0].message


@pytest.mark.parametrize("source", SOURCES, ids=name_of)
def test_the_entry_point_guess_refuses_a_pathological_source(source):
    with pytest.raises(StrategySourceError) as refused:
        guess_entry_point({"strategy.py": source.read_text()})
    assert str(refused.value).startswith("strategy.py")
    assert expected(source) in str(refused.value)


# One construct repeated n times: every kind of nesting the limit has to hold for.
KINDS = {
    "sum": lambda n: "X = " + " + ".join(["1"] * n),
    "attributes": lambda n: "X = bars" + ".T" * n,
    "calls": lambda n: "X = " + "f(" * n + "1" + ")" * n,
    "call chain": lambda n: "X = f" + "()" * n,
    "subscripts": lambda n: "X = bars" + "[0]" * n,
    "unary": lambda n: "X = " + "-" * n + "1",
    "lambdas": lambda n: "X = " + "lambda: " * n + "1",
    "conditionals": lambda n: "X = " + "1 if 1 else " * n + "1",
    "lists": lambda n: "X = " + "[" * n + "]" * n,
    "comprehensions": lambda n: "X = " + "[x for x in " * n + "bars" + "]" * n,
    "functions": lambda n: (
        "".join("    " * i + f"def f{i}():\n" for i in range(n)) + "    " * n + "pass"
    ),
}


def from_deeper_stack(frames: int, call):
    """`call()` with `frames` more frames under it, as a web server's thread puts there."""
    return call() if frames == 0 else from_deeper_stack(frames - 1, call)


@pytest.mark.parametrize("kind", KINDS)
def test_every_depth_accepted_compiles_under_restricted_python_with_room_to_spare(kind):
    from sandbox.worker.compiler import TOO_DEEP  # new with the bound

    def problems(n: int) -> list[str]:
        files = {"strategy.py": f"{KINDS[kind](n)}\n{BUYER}"}
        return [p.message for p in check_strategy(files, "Strategy")]

    deepest = 1
    while not problems(deepest + 1):
        deepest += 1
    assert deepest >= 40  # ordinary code is far from the limit (the deepest library: 63)
    assert problems(deepest + 1) == [TOO_DEEP]
    # The deepest accepted module compiled (check_strategy runs RestrictedPython's compile),
    # also with 300 more frames under it than this test has.
    assert from_deeper_stack(300, lambda: problems(deepest)) == []


@pytest.mark.parametrize("source", SOURCES, ids=name_of)
def test_arena_strategy_check_reports_the_problem_and_exits_1(source, tmp_path, capsys):
    strategy = tmp_path / "strategy.py"
    strategy.write_text(source.read_text())
    for entry_point in ([], ["--entry-point", "Strategy"]):
        assert main(["strategy", "check", str(strategy), *entry_point]) == 1
        out, err = capsys.readouterr()
        said = " ".join((out + err).split())  # the console wraps long lines
        assert re.search(r"(^|error: )strategy\.py(:\d+)?: ", out + err, re.MULTILINE)
        assert expected(source) in said
        assert "internal error" not in err


@pytest.mark.parametrize("source", SOURCES, ids=name_of)
def test_arena_strategy_test_reports_the_problem_and_exits_1(source, tmp_path, real_bars, capsys):
    strategy = tmp_path / "strategy.py"
    strategy.write_text(source.read_text())
    args = ["strategy", "test", str(strategy), "--bars", str(real_bars), "--minutes", "1"]
    assert main(args) == 1
    _out, err = capsys.readouterr()
    assert expected(source) in " ".join(err.split())
    assert "internal error" not in err
    assert "did not load" not in err  # refused on the host, before any sandbox started


@pytest.mark.parametrize("source", [HOSTILE / "deep_sum.py.txt"], ids=name_of)
def test_a_sandbox_worker_refuses_it_too(source, tmp_path, real_bars, capsys):
    """With the entry point named, the source reaches the sandbox's worker, whose loading
    parses it the same bounded way: a refusal, not a crashed load."""
    strategy = tmp_path / "strategy.py"
    strategy.write_text(source.read_text())
    args = ["strategy", "test", str(strategy), "--bars", str(real_bars), "--minutes", "1",
            "--entry-point", "Strategy"]  # fmt: skip
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "did not load (rejected)" in err
    assert expected(source) in err


def serve_in_process(
    folder: Path, competition: dict
) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    """The API over a fresh data directory, in this process."""
    registry = registry_file(folder, competition)
    data = folder / "data"
    keys = KeyStore(data).ensure(["alpha", "beta", ORGANISER])
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=1000))
    with TestClient(app) as client:
        yield client, keys, data
    app.state.uploads.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    yield from serve_in_process(tmp_path_factory.mktemp("uploads"), {})


@pytest.fixture(scope="module")
def small_quota(tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    competition = {"sandbox": {"budget_seconds": 2.0},
                   "uploads": {"quota_mb": 1, "max_versions": 2}}  # fmt: skip
    yield from serve_in_process(tmp_path_factory.mktemp("quota"), competition)


def post(api, team: str, filename: str, payload: bytes):
    client, keys, _data = api
    return client.post(f"/api/v1/team/{team}/strategy", headers={"X-API-Key": keys[team]},
                       files={"file": (filename, payload)})  # fmt: skip


@pytest.mark.parametrize("source", SOURCES, ids=name_of)
def test_the_upload_api_refuses_it_with_422_and_stores_nothing(api, source):
    before = files_under(api[2])
    answer = post(api, "alpha", "strategy.py", source.read_bytes())
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]["problems"]
    assert any(p.startswith("strategy.py") and expected(source) in p for p in problems), problems
    assert files_under(api[2]) == before


# -- the storage quota --------------------------------------------------------------------


def test_versions_beyond_the_count_quota_are_refused_and_nothing_is_written(small_quota):
    for n in (1, 2):  # the registry allows 2 versions
        answer = post(small_quota, "alpha", "strategy.py", variant(n))
        assert answer.status_code == 202, answer.text  # stored; no engine runs here (0032)
    before = files_under(small_quota[2])
    refused = post(small_quota, "alpha", "strategy.py", variant(3))
    assert refused.status_code == 409, refused.text
    [problem] = refused.json()["detail"]["problems"]
    assert problem.startswith("storage quota reached: alpha keeps 2 versions;")
    assert "a team may keep 2 versions in 1 MiB" in problem
    assert "ask the organiser to raise competition.uploads in the registry" in problem
    assert files_under(small_quota[2]) == before
    again = post(small_quota, "alpha", "strategy.py", variant(1))  # checked, staged again
    assert (again.status_code, again.json()["again"]) == (202, True), again.text
    assert sorted(set(files_under(small_quota[2])) - set(before)) == []  # a log line only


def test_a_version_beyond_the_byte_quota_is_refused_and_nothing_is_written(small_quota):
    def package(n: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("strategy.py", variant(n))
            for i in range(3):  # 750 KB of data that does not compress: the quota is 1 MiB
                archive.writestr(f"table{i}.txt", os.urandom(250_000))
        return buffer.getvalue()

    assert post(small_quota, "beta", "mine.zip", package(1)).status_code == 202
    before = files_under(small_quota[2])
    refused = post(small_quota, "beta", "mine.zip", package(2))
    assert refused.status_code == 409, refused.text
    [problem] = refused.json()["detail"]["problems"]
    assert problem.startswith("storage quota reached: beta keeps 0.7 MiB of versions and")
    assert "a team may keep 2 versions in 1 MiB" in problem
    assert "make the upload smaller" in problem
    assert files_under(small_quota[2]) == before


# -- the door -----------------------------------------------------------------------------


def test_the_upload_form_is_still_documented(tmp_path):
    """For /docs and clients: the route reads its form itself now (see the door below)."""
    app = create_app(ArenaSettings(registry=registry_file(tmp_path), data_dir=tmp_path / "d"))
    schema = app.openapi()
    upload = schema["paths"]["/api/v1/team/{team_id}/strategy"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in form:  # how FastAPI wrote it for File/Form parameters
        form = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert form["required"] == ["file"]
    assert set(form["properties"]) == {"file", "entry_point"}


@dataclass
class Door:
    port: int
    pid: int
    keys: dict[str, str]
    data: Path
    tmp: Path

    def held_under_tmp(self) -> set[str]:
        """Files under TMPDIR the server holds open (an unlinked temporary file too)."""
        held = set()
        fds = Path(f"/proc/{self.pid}/fd")
        for fd in os.listdir(fds):
            with contextlib.suppress(OSError):
                target = os.readlink(fds / fd)
                if target.startswith(str(self.tmp.resolve())):
                    held.add(target)
        return held

    def key(self, who: str | None) -> str | None:
        return WRONG_KEY if who == "wrong" else self.keys.get(who or "")


@pytest.fixture(scope="module")
def door(tmp_path_factory) -> Door:
    folder = tmp_path_factory.mktemp("door")
    registry, data, tmp = registry_file(folder), folder / "data", folder / "tmp"
    tmp.mkdir()
    keys = KeyStore(data).ensure(["alpha", "beta", ORGANISER])
    port = free_port()
    server = arena("serve", "--data-dir", str(data), "--registry", str(registry),
                   "--port", str(port), env={"TMPDIR": str(tmp)})  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/v1/leaderboard")
        yield Door(port, server.pid, keys, data, tmp)
    finally:
        kill_group(server)


@dataclass
class Answer:
    status: int | None
    body: bytes
    sent: int  # body bytes the client got out before the answer came or the server closed


FORM_HEAD = (
    b'--B\r\nContent-Disposition: form-data; name="file"; filename="strategy.py"\r\n'
    b"Content-Type: text/x-python\r\n\r\n"
)
FORM, JSON = "multipart/form-data", "application/json"
BODIES = {  # content type: (its header, what comes before the padding, what closes it)
    FORM: (f"{FORM}; boundary=B", FORM_HEAD, b"\r\n--B--\r\n"),
    JSON: (JSON, b'{"mode": "block", "pad": "', b'"}'),
}
ADMIN = "/api/v1/admin/kill-switch"
PADDING = 32 * MIB  # enough to outlast every socket buffer between client and server
CHUNK = b"#" * 65536


def stream(door: Door, path: str, key: str | None, held: set[str]) -> Answer:
    """POST PADDING bytes in chunks (Transfer-Encoding: chunked), stopping when an answer
    comes; `held` collects the files under TMPDIR the server had open meanwhile."""
    content_type, head, tail = BODIES[FORM if path.endswith("/strategy") else JSON]
    headers = f"Host: arena\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
    headers += f"X-API-Key: {key}\r\n" if key else ""
    chunks = [head, *[CHUNK] * (PADDING // len(CHUNK)), tail]
    sent = 0
    with socket.create_connection(("127.0.0.1", door.port), timeout=30) as client:
        client.sendall(f"POST {path} HTTP/1.1\r\n{headers}\r\n".encode())
        with contextlib.suppress(OSError):  # the server closing while we send is the point
            for chunk in chunks:
                if select.select([client], [], [], 0)[0]:
                    break  # answered
                client.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                held |= door.held_under_tmp()
            else:
                client.sendall(b"0\r\n\r\n")
        return Answer(*read_answer(client), sent)


def read_answer(client: socket.socket) -> tuple[int | None, bytes]:
    """The status and body of the answer (its Content-Length's worth), or None."""
    received = b""
    with contextlib.suppress(OSError):  # a reset after the answer, for the unread body
        while not _complete(received) and (chunk := client.recv(65536)):
            received += chunk
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", received)
    return (int(match.group(1)) if match else None), received.partition(b"\r\n\r\n")[2]


def _complete(received: bytes) -> bool:
    head, found, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: (\d+)", head)
    return bool(found and length and len(body) >= int(length.group(1)))


REFUSALS = [  # who knocks, and what they must get
    (None, 401),
    ("wrong", 401),
    ("beta", 403),  # another team's key
    ("alpha", 413),  # the right key, but the body is over the cap
]


@pytest.mark.parametrize("path", [UPLOAD, ADMIN], ids=["upload", "admin"])
@pytest.mark.parametrize(("who", "status"), REFUSALS, ids=[str(w) for w, _ in REFUSALS])
def test_a_large_body_is_refused_before_the_server_reads_it(door, path, who, status):
    if path != UPLOAD and who == "alpha":
        who = ORGANISER  # the organiser's key opens the admin route: over its cap
    before, held = files_under(door.data), set()
    answer = stream(door, path, door.key(who), held)
    assert answer.status == status, answer
    assert answer.sent < PADDING // 2  # the server stopped reading long before the end
    if status == 413:
        assert b"over" in answer.body
    assert held == set()  # no temporary file, not even an unlinked one
    assert list(door.tmp.iterdir()) == []
    assert files_under(door.data) == before


def test_every_route_with_a_body_refuses_a_stranger_before_reading_it(door):
    """Every operation the API documents with a body, found in its own schema."""
    schema = requests.get(f"http://127.0.0.1:{door.port}/openapi.json", timeout=10).json()
    operations = {
        path.replace("{team_id}", "alpha"): set(operation["requestBody"]["content"])
        for path, item in schema["paths"].items()
        for operation in item.values()
        if "requestBody" in operation
    }
    assert len(operations) >= 3  # the upload, the kill switch, the fold
    assert all(kinds <= set(BODIES) for kinds in operations.values()), operations
    for path in operations:
        held: set[str] = set()
        answer = stream(door, path, None, held)
        assert (path, answer.status, held) == (path, 401, set())
        assert answer.sent < PADDING // 2, path


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("alpha", 413)])
def test_a_content_length_over_the_cap_is_refused_before_a_byte_is_sent(door, who, status):
    key = f"X-API-Key: {door.key(who)}\r\n" if who else ""
    with socket.create_connection(("127.0.0.1", door.port), timeout=10) as client:
        client.sendall(f"POST {UPLOAD} HTTP/1.1\r\nHost: arena\r\n{key}"
                       "Content-Type: multipart/form-data; boundary=B\r\n"
                       f"Content-Length: {4 << 30}\r\n\r\n".encode())  # fmt: skip
        answered, body = read_answer(client)
    assert answered == status
    if status == 413:
        assert b"the upload is over 1,048,576 bytes" in body


def test_a_normal_upload_still_goes_through_the_door(door):
    url = f"http://127.0.0.1:{door.port}{UPLOAD}"
    alpha = {"X-API-Key": door.keys["alpha"]}
    answer = requests.post(url, headers=alpha, files={"file": ("strategy.py", variant(0))},
                           data={"entry_point": "Strategy"}, timeout=60)  # fmt: skip
    assert answer.status_code == 202, answer.text  # stored; no engine runs beside this door
    version = answer.json()["version"]
    assert answer.json()["report"]["smoke"]["output"]["action"] == "buy"
    listed = requests.get(url, headers=alpha, timeout=10).json()["versions"]
    assert [v["version"] for v in listed if v["source"] == "upload"] == [version]
    assert (door.data / "strategies" / "alpha" / version / "files" / "strategy.py").is_file()
