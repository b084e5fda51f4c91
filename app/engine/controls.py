"""The organiser's kill switch, as the engine sees it: a mode and when it was thrown.

- `block`: no new orders; strategies still run, and every signal is refused with the reason.
- `cancel`: block, and cancel every open order at the broker once.
- `flatten`: cancel, then close every team's positions through the normal pipeline (so
  the fills are allocated back to the teams), then block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class KillMode(StrEnum):
    BLOCK = "block"
    CANCEL = "cancel"
    FLATTEN = "flatten"


@dataclass(frozen=True, slots=True)
class KillSwitch:
    mode: KillMode
    since: datetime  # a new `since` is a new activation: cancel and flatten act once each
