"""The service reads the ledgers through the lines that wrote them, old ledgers included."""

from __future__ import annotations

from pathlib import Path

from app.ledger.jsonl import encode_line
from app.web.service import ArenaService


def write(path: Path, *records: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(encode_line(r) for r in records))


def event(kind: str, version: str) -> dict:
    return {"timestamp": "2026-03-12T14:01:00Z", "team_id": "alpha", "kind": kind,
            "message": "m", "printed": "", "strategy_version": version}  # fmt: skip


def test_an_old_ledger_without_status_in_its_metrics_takes_health_from_its_errors_file(
    tmp_path: Path,
) -> None:
    """Ledgers written before metrics said the status: the team's errors.jsonl says it."""
    folder = tmp_path / "team" / "alpha"
    write(folder / "metrics.jsonl", {"timestamp": "2026-03-12T14:02:00Z", "owner": "alpha",
                                     "rank": 1, "total_return_pct": 0.5})  # fmt: skip
    write(folder / "errors.jsonl", event("version", "v1"), event("disabled", "v1"))
    status = ArenaService(tmp_path).status("alpha")
    assert (status["health"], status["strategy_version"]) == ("disabled", "v1")
    write(folder / "events.jsonl", event("version", "v2"))  # a resumed run re-enabled it
    status = ArenaService(tmp_path).status("alpha")
    assert (status["health"], status["strategy_version"]) == ("active", "v2")
