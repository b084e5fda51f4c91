"""Strategy uploads through the API: good ones become versions; hostile or broken ones get a
4xx listing every reason, store nothing, and leave the running version as it was."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.config.settings import ArenaSettings
from app.web import create_app
from app.web.keys import ORGANISER, KeyStore
from tests.conftest import FIXTURE_STRATEGIES

GOOD = """
class Strategy:
    def __init__(self, params):
        self.symbol = params.get("symbol", "AAA")

    def generate_signal(self, team, bars, current_prices):
        symbol = sorted(current_prices)[0]
        return {"symbol": symbol, "action": "buy", "quantity": 1}
"""
LOOPS = """
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        while True:
            pass
"""


def zipped(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> tuple[TestClient, dict[str, str], Path]:
    folder = tmp_path_factory.mktemp("uploads")
    teams = [
        {"team_id": t, "name": t.title(), "strategy": str(FIXTURE_STRATEGIES / "scripted.py"),
         "entry_point": "ScriptedStrategy", "initial_cash": 100_000}
        for t in ("alpha", "beta")
    ]  # fmt: skip
    registry = folder / "registry.yaml"
    document = {"competition": {"sandbox": {"budget_seconds": 1.0}}, "teams": teams}
    registry.write_text(yaml.safe_dump(document))
    data = folder / "data"
    keys = KeyStore(data).ensure(["alpha", "beta", ORGANISER])
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=1000))
    with TestClient(app) as client:
        yield client, keys, data
    app.state.uploads.close()


def post(api, filename: str, payload: bytes, team: str = "alpha", **form: str):
    client, keys, _data = api
    return client.post(
        f"/api/v1/team/{team}/strategy",
        headers={"X-API-Key": keys[team]},
        files={"file": (filename, payload)},
        data=form,
    )


def stored(api, team: str = "alpha") -> list[str]:
    folder = api[2] / "strategies" / team
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_good_file_becomes_a_version_with_its_report(api):
    answer = post(api, "strategy.py", GOOD.encode(), team="beta")
    assert answer.status_code == 202, answer.text  # stored; no engine runs here (0032)
    body = answer.json()
    assert body["report"]["entry_point"] == "Strategy"
    assert body["report"]["smoke"]["output"]["action"] == "buy"
    client, keys, _ = api
    versions = client.get("/api/v1/team/beta/strategy", headers={"X-API-Key": keys["beta"]})
    listed = versions.json()["versions"]
    assert [v["version"] for v in listed if v["source"] == "upload"] == [body["version"]]
    assert listed[-1]["source"] == "registry"  # the one the engine starts with
    again = post(api, "strategy.py", GOOD.encode(), team="beta")  # checked and staged again
    assert again.status_code == 202, again.text
    assert (again.json()["version"], again.json()["again"]) == (body["version"], True)


def test_a_package_whose_modules_import_each_other_works(api):
    package = zipped({
        "mine/strategy.py": b"from helpers import pick\n\n\nclass Strategy:\n"
        b"    def __init__(self, params):\n        pass\n\n"
        b"    def generate_signal(self, team, bars, current_prices):\n"
        b"        return pick(current_prices)\n",
        "mine/helpers.py": b"def pick(prices):\n"
        b"    return {'symbol': sorted(prices)[-1], 'action': 'buy', 'quantity': 2}\n",
        "mine/notes.txt": b"small data files are kept\n",
    })  # fmt: skip
    answer = post(api, "mine.zip", package)
    assert answer.status_code == 202, answer.text
    report = answer.json()["report"]
    assert report["files"] == ["helpers.py", "strategy.py", "notes.txt"]
    assert report["smoke"]["output"]["quantity"] == 2


HOSTILE = {
    "zip bomb": ("bomb.zip", zipped({"strategy.py": GOOD.encode(), "pad.txt": b"0" * 400_000}),
                 "compression ratio over"),
    "zip slip": ("slip.zip", zipped({"../evil.py": GOOD.encode()}), "'..' is not allowed"),
    "absolute path": ("abs.zip", zipped({"/etc/cron.d/x.py": GOOD.encode()}),
                      "absolute paths are not allowed"),
    "symlink": ("link.zip", zipped({"strategy.py": GOOD.encode()}, links=("passwd.txt",)),
                "links are not allowed"),
    "oversized": ("big.py", b"#" * (2 << 20), "over 1,048,576 bytes"),
    "binary junk .py": ("strategy.py", os.urandom(4096) + b"\xff\xfe", "not UTF-8"),
    "binary junk .zip": ("strategy.zip", os.urandom(4096), "not a valid zip"),
    "wrong type": ("strategy.exe", b"MZ", "upload a .py file or a .zip package"),
    "member type": ("t.zip", zipped({"strategy.py": GOOD.encode(), "x.so": b"\x7fELF"}),
                    "file type not allowed"),
    "syntax error": ("strategy.py", b"class Strategy:\n    def generate_signal(self,\n",
                     "strategy.py:"),
    "forbidden import": ("strategy.py", b"import os\n" + GOOD.encode(), "os"),
    "smoke-test timeout": ("strategy.py", LOOPS.encode(), "smoke test: timeout"),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_or_broken_upload_is_refused_with_its_reasons_and_stores_nothing(api, case):
    filename, payload, reason = HOSTILE[case]
    before = stored(api)
    client, keys, _ = api
    alpha = {"X-API-Key": keys["alpha"]}
    versions_before = client.get("/api/v1/team/alpha/strategy", headers=alpha)
    answer = post(api, filename, payload)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.status_code not in (201, 202)
    problems = answer.json()["detail"]["problems"]
    assert any(reason in p for p in problems), problems
    assert stored(api) == before  # nothing written
    versions_after = client.get("/api/v1/team/alpha/strategy", headers=alpha)
    assert versions_after.json() == versions_before.json()  # the running version is untouched


def test_every_problem_of_an_upload_is_listed_at_once(api):
    package = zipped({"strategy.py": b"import os\nimport socket\n" + GOOD.encode(),
                      "../x.py": b"", "y.exe": b""})  # fmt: skip
    problems = post(api, "many.zip", package).json()["detail"]["problems"]
    assert len(problems) >= 2
    assert any("'..'" in p for p in problems)
    assert any("file type not allowed" in p for p in problems)


def test_uploads_are_rate_limited_per_team_key_not_per_address(api):
    _client, keys, data = api
    registry = data.parent / "registry.yaml"
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=3))
    with TestClient(app) as client:  # every request comes from the same address

        def send(team: str) -> int:
            files = {"file": ("x.py", b"junk\xff")}
            headers = {"X-API-Key": keys[team]}
            path = f"/api/v1/team/{team}/strategy"
            return client.post(path, headers=headers, files=files).status_code

        assert [send("alpha") for _ in range(4)] == [422, 422, 422, 429]
        assert send("beta") == 422  # another key behind the same address is not limited
