"""A write that fails is one typed error naming the file and the cause (decision 0029): a
line the disk took only in part is cut off again, and the writer then writes nothing more,
anywhere, while still closing every file. Real ENOSPC and EPERM where this machine gives
them (a small tmpfs, an immutable file), and a stand-in `os` everywhere."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest

from app.engine.stop import LedgerWriteError
from app.ledger import jsonl
from app.ledger.jsonl import read_jsonl
from app.ledger.reader import recent_trades
from app.ledger.small_files import write_json_atomic
from app.ledger.writer import LedgerWriter
from tests.ledger.disk_faults import FailingWrites, fill, immutable, mutable, small_tmpfs

ENOSPC = "[Errno 28] No space left on device"


def test_a_line_the_disk_took_in_part_is_cut_off_and_nothing_more_is_written(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LedgerWriter(data_dir)
    writer.trade("alpha", {"n": 1})
    writer.journal({"event": "submit", "client_order_id": "a"})
    writer.end_tick()
    trades = data_dir / "team" / "alpha" / "trades.jsonl"
    disk = FailingWrites("team/alpha/trades.jsonl", room=5)
    monkeypatch.setattr(jsonl, "os", disk)
    with pytest.raises(LedgerWriteError) as caught:
        writer.trade("alpha", {"n": 2, "note": "x" * 40})
    assert caught.value.path == trades
    assert str(caught.value) == f"cannot write {trades}: {ENOSPC}"
    assert disk.taken == 5  # the disk took the start of the line ...
    assert trades.read_bytes() == b'{"n":1}\n'  # ... and it was cut off again
    assert [t["n"] for t in recent_trades(trades.parent, 10)] == [1]  # what the web reads
    monkeypatch.undo()  # room again: still nothing is written, so nothing out of order
    for attempt in (
        lambda: writer.trade("beta", {"n": 3}),
        lambda: writer.journal({"event": "submit", "client_order_id": "b"}),
        writer.sync_journal,
        writer.end_tick,
    ):
        with pytest.raises(LedgerWriteError, match=re.escape("trades.jsonl: [Errno 28]")):
            attempt()
    assert writer.failure is not None
    writer.close()  # raises nothing more, closes every file
    assert writer.open_files == 0
    assert not (data_dir / "team" / "beta").exists()
    journal = list(read_jsonl(data_dir / "orders" / "journal.jsonl"))
    assert [r["client_order_id"] for r in journal] == ["a"]


def test_a_full_tmpfs_leaves_whole_lines_only(data_dir: Path) -> None:
    folder = data_dir / "team" / "alpha"
    with small_tmpfs(folder, "16k") as why:
        if why is not None:
            pytest.skip(f"no tmpfs to fill here ({why}); the stand-in test covers the cut")
        writer = LedgerWriter(data_dir)
        written, failure = 0, None
        while failure is None:
            try:
                writer.trade("alpha", {"note": "y" * 1000})  # 4 KiB pages: some lines straddle
            except LedgerWriteError as error:
                failure = error
            else:
                written += 1
        assert failure.reason == ENOSPC
        lines = list(read_jsonl(folder / "trades.jsonl"))  # strict: no torn last line
        assert len(lines) == written > 0
        writer.close()


def test_an_immutable_journal_refuses_the_submit_and_the_journal_stays_whole(
    data_dir: Path,
) -> None:
    writer = LedgerWriter(data_dir)
    writer.journal({"event": "submit", "client_order_id": "a"})
    path = data_dir / "orders" / "journal.jsonl"
    why = immutable(path)
    if why is not None:
        writer.close()
        pytest.skip(f"no immutable files here ({why}); the stand-in test covers EPERM's path")
    try:
        with pytest.raises(LedgerWriteError) as caught:
            writer.journal({"event": "submit", "client_order_id": "b"}, sync=True)
        assert caught.value.path == path
        assert caught.value.reason == "[Errno 1] Operation not permitted"
        writer.close()
    finally:
        mutable(path)
    assert [r["client_order_id"] for r in read_jsonl(path)] == ["a"]


def test_a_failed_fsync_stops_the_writer_and_a_failed_close_is_raised_once_all_are_closed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LedgerWriter(data_dir)
    writer.trade("alpha", {"n": 1})
    disk = FailingWrites("team/alpha/trades.jsonl", room=10**9)  # writes pass, fsyncs fail
    disk.fsync_error = errno.EIO
    monkeypatch.setattr(jsonl, "os", disk)
    with pytest.raises(LedgerWriteError, match="Input/output error"):
        writer.end_tick()
    writer.close()
    assert writer.open_files == 0

    second = LedgerWriter(data_dir / "second")
    second.trade("alpha", {"n": 1})
    second.metrics("alpha", {"n": 1})
    with pytest.raises(LedgerWriteError, match=re.escape("trades.jsonl: [Errno 5]")):
        second.close()
    assert second.open_files == 0


def test_a_small_file_that_cannot_be_written_stays_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "HOLD.json"
    write_json_atomic(target, {"old": True})

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("app.ledger.small_files.os.fsync", full)
    with pytest.raises(LedgerWriteError) as caught:
        write_json_atomic(target, {"new": True})
    assert caught.value.path == target
    assert caught.value.reason == ENOSPC
    assert json.loads(target.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HOLD.json"]  # no temporary left


def test_filling_a_tmpfs_leaves_no_room(tmp_path: Path) -> None:
    """The helper the process tests rely on: after `fill`, a new page cannot be had."""
    folder = tmp_path / "small"
    with small_tmpfs(folder, "64k") as why:
        if why is not None:
            pytest.skip(f"no tmpfs here: {why}")
        fill(folder)
        with pytest.raises(OSError, match="No space left"):
            (folder / "more").write_bytes(b"z" * 8192)
