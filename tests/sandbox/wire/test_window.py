"""The tick's window: published once, mapped read-only, identical to the host's bars."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from sandbox.wire.window import FIELDS, WindowView, publish_window, read_prices


def host_window() -> dict[str, dict[str, np.ndarray]]:
    stamps = np.array(["2026-03-12T14:00", "2026-03-12T14:01", "2026-03-12T14:02"],
                      dtype="datetime64[s]")  # fmt: skip
    return {
        "AAA": {f: (stamps if f == "timestamp" else np.array([1.0, 2.0, 3.0]) * (i + 1))
                for i, f in enumerate(FIELDS)},
        "BBB": {f: (stamps[:1] if f == "timestamp" else np.array([9.5])) for f in FIELDS},
    }  # fmt: skip


def test_the_worker_sees_exactly_the_host_window() -> None:
    window = host_window()
    fd = publish_window(window)
    view = WindowView(fd)
    os.close(fd)
    assert sorted(view) == ["AAA", "BBB"]
    assert len(view) == 2
    for symbol, columns in window.items():
        for field in FIELDS:
            assert np.array_equal(view[symbol][field], columns[field])
    assert view["BBB"]["close"].tolist() == [9.5]  # a symbol with a gap keeps its own length
    assert "CCC" not in view


def test_the_arrays_are_views_into_read_only_memory() -> None:
    fd = publish_window(host_window())
    view = WindowView(fd)
    closes = view["AAA"]["close"]
    assert not closes.flags.writeable
    assert not closes.flags.owndata  # a view, not a copy
    with pytest.raises(ValueError, match="read-only"):
        closes[0] = 0.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        closes.setflags(write=True)
    os.close(fd)


def test_the_published_descriptor_cannot_be_written_or_mapped_writable() -> None:
    fd = publish_window(host_window())
    try:
        with pytest.raises(PermissionError):
            os.write(fd, b"tamper")
        with pytest.raises(PermissionError):
            mmap.mmap(fd, 0, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def test_an_empty_window_is_an_empty_mapping() -> None:
    fd = publish_window({})
    assert dict(WindowView(fd)) == {}
    os.close(fd)


def test_every_column_is_a_view_into_the_shared_pages_not_a_copy() -> None:
    fd = publish_window(host_window())
    view = WindowView(fd)
    os.close(fd)
    start, end = view.pages.address, view.pages.address + view.pages.size
    for symbol in view:
        for field in FIELDS:
            data = view[symbol][field].__array_interface__["data"][0]
            assert start <= data < end, (symbol, field)


def test_windows_kept_by_a_strategy_hold_no_descriptors() -> None:
    fd = publish_window(host_window())
    window = os.fstat(fd).st_ino
    before = set(os.listdir("/proc/self/fd"))
    kept = [WindowView(fd) for _ in range(64)]  # a worker may hold only 32 descriptors
    # Other threads of the test process may open or close descriptors meanwhile: what
    # counts is that none of the new ones is another handle on the window.
    opened = set(os.listdir("/proc/self/fd")) - before
    assert [n for n in opened if _inode(int(n)) == window] == []
    closes = kept[0]["AAA"]["close"]
    del kept  # the arrays keep their pages mapped
    assert closes.tolist() == host_window()["AAA"]["close"].tolist()
    os.close(fd)


def test_the_current_prices_travel_in_the_window_as_a_fresh_dict_per_reader() -> None:
    prices = {"AAA": 3.0, "BBB": 9.5, "ZZZ": 101.25}  # a price without bars is kept too
    fd = publish_window(host_window(), prices)
    first, second = read_prices(WindowView(fd)), read_prices(WindowView(fd))
    os.close(fd)
    assert first == prices
    first["AAA"] = 0.0  # a strategy changing its own copy changes nobody else's
    assert second == prices


def test_a_window_with_other_symbols_is_read_anew_not_from_the_last_index() -> None:
    fd = publish_window(host_window(), {"AAA": 3.0})
    assert sorted(WindowView(fd)) == ["AAA", "BBB"]
    os.close(fd)
    stamps = np.array(["2026-03-12T14:03", "2026-03-12T14:04"], dtype="datetime64[s]")
    other = {"CCC": {f: stamps if f == "timestamp" else np.array([7.0, 8.0]) for f in FIELDS}}
    fd = publish_window(other, {"CCC": 8.0})
    view = WindowView(fd)
    os.close(fd)
    assert sorted(view) == ["CCC"]
    assert view["CCC"]["close"].tolist() == [7.0, 8.0]
    assert read_prices(view) == {"CCC": 8.0}


def _inode(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_ino
    except OSError:  # closed since it was listed
        return None


def test_a_seal_refused_for_a_moment_is_tried_again(monkeypatch) -> None:
    """F_SEAL_WRITE fails with EBUSY while the kernel briefly holds a page (it happened once
    in a full suite run); publishing tries again instead of failing the tick."""
    import errno
    import fcntl as real_fcntl

    from sandbox.wire import window as window_module

    calls = []
    original = real_fcntl.fcntl

    def busy_once(fd, command, *args):
        if command == real_fcntl.F_ADD_SEALS and not calls:
            calls.append(command)
            raise OSError(errno.EBUSY, "Device or resource busy")
        return original(fd, command, *args)

    monkeypatch.setattr(window_module.fcntl, "fcntl", busy_once)
    fd = window_module.os.memfd_create("t", window_module.os.MFD_ALLOW_SEALING)
    try:
        window_module._seal(fd)
        assert calls == [real_fcntl.F_ADD_SEALS]
        seals = original(fd, real_fcntl.F_GET_SEALS)
        assert seals & real_fcntl.F_SEAL_WRITE
    finally:
        window_module.os.close(fd)
