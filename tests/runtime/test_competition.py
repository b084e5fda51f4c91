"""The composition root's report of which sandbox layers the workers got."""

from __future__ import annotations

import logging

from app.engine.ports import LoadOutcome
from app.runtime.competition import log_sandbox_layers, sandbox_layer_summary

LAYERS = (
    {"name": "seccomp", "active": False, "detail": "libseccomp not found"},
    {"name": "uid", "active": True, "detail": "uid=20000"},
)


def test_a_missing_layer_is_named_with_its_reason_and_logged_loudly(caplog):
    outcomes = {"a": LoadOutcome(False, "load", "boom"), "b": LoadOutcome(True, layers=LAYERS)}
    active, inactive = sandbox_layer_summary(outcomes)
    assert active == ["uid"]
    assert inactive == ["seccomp (libseccomp not found)"]
    with caplog.at_level(logging.INFO):
        log_sandbox_layers(outcomes)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["SANDBOX DEGRADED: layers NOT active: seccomp (libseccomp not found)"]
