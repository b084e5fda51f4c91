"""The zygote's own choices: its PID namespace, and the fallback it reports when refused."""

from __future__ import annotations

import ctypes
import errno

import pytest

from sandbox.worker import hardening, zygote


def test_a_refused_namespace_is_reported_with_the_fallback(monkeypatch: pytest.MonkeyPatch):
    def refuse(_: int) -> int:
        ctypes.set_errno(errno.EPERM)
        return -1

    monkeypatch.setattr(hardening, "_libc_unshare", refuse)
    in_namespace, lifetime = zygote.enter_namespace()  # refused before any fork
    assert not in_namespace
    assert lifetime.startswith("the kernel refused a PID namespace (")
    assert "unshare(pid)" in lifetime


def test_without_pidfds_the_zygote_stays_out_of_a_namespace(monkeypatch: pytest.MonkeyPatch):
    """A pid from inside a namespace means nothing to the host: no pidfds, no namespace."""

    def no_pidfds(_: int) -> int:
        raise OSError(errno.ENOSYS, "pidfd_open")

    monkeypatch.setattr(zygote.os, "pidfd_open", no_pidfds)
    in_namespace, lifetime = zygote.enter_namespace()
    assert not in_namespace
    assert lifetime.startswith("no pidfds here")
