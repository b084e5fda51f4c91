"""A failed write, as the run loop ends it: the hold it writes and the one line it says.

Decision 0029: trading stops (no new order, the working ones cancelled), `HOLD.json` says
why if it can be written, and the organiser reads one line naming the file and the cause.
Unlike a reconciliation's hold, this one does not refuse `arena run --resume`: recovery is
what repairs the ledgers after a failed write, and it lifts the hold only when the rebuilt
books equal the broker (otherwise its own hold replaces this one).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from app.engine.stop import LedgerWriteError, StopOutcome
from app.ledger.small_files import write_json_atomic
from app.runtime.resume import hold_path

WRITE_FAILURE = "write-failure"  # the hold's `kind`


class TradingStoppedError(Exception):
    """Trading stopped on a failed write; the message is the one line the organiser reads."""

    def __init__(self, failure: LedgerWriteError, outcome: StopOutcome, line: str) -> None:
        super().__init__(line)
        self.failure = failure
        self.outcome = outcome


def stopped(
    data_dir: Path, failure: LedgerWriteError, outcome: StopOutcome, live: bool
) -> TradingStoppedError:
    """The hold (for a live broker, whose orders outlive the process) and the line."""
    what = (
        f"ledger write failed: {failure.path}: {failure.reason} — trading stopped, "
        f"{outcome.describe()}"
    )
    if not live:  # a simulated broker's orders end with the process; nothing resumes
        return TradingStoppedError(failure, outcome, f"{what}; fix the cause and run again")
    held = _hold(data_dir, failure, what)
    line = f"{what}; {held}; fix the cause, then `arena run --resume`"
    return TradingStoppedError(failure, outcome, line)


def _hold(data_dir: Path, failure: LedgerWriteError, what: str) -> str:
    """Write the hold; the clause that says whether it was written."""
    path = hold_path(data_dir)
    body = {
        "since": datetime.now(UTC).isoformat(),
        "kind": WRITE_FAILURE,
        "file": str(failure.path),
        "cause": failure.reason,
        "problems": [what],
    }
    try:
        write_json_atomic(path, body)
    except LedgerWriteError as error:
        return f"no hold written ({error.reason})"
    return f"trading held ({path.name})"


def held_after_write_failure(data_dir: Path) -> str | None:
    """The file whose failed write holds trading, or None (no hold, or another kind)."""
    path = hold_path(data_dir)
    try:
        body = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("kind") != WRITE_FAILURE:
        return None
    return str(body.get("file") or "(not recorded)")
