"""Named crash points for the crash tests: `ARENA_FAILPOINTS=name:n,...` makes the host
SIGKILL itself the n-th time it reaches `name` (1 = the first). Unset, each point costs one
dictionary lookup. The points sit where a crash is most dangerous: between writing an
order's journal line and sending it, between journaling a fill and its ledger lines.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("ARENA_FAILPOINTS", "")
_ARMED: dict[str, int] = {}
for _item in filter(None, (part.strip() for part in _SPEC.split(","))):
    _name, _, _count = _item.partition(":")
    _ARMED[_name] = int(_count or 1)


def failpoint(name: str) -> None:
    """Die here, as a power cut or `kill -9` would, if this point is armed and due."""
    left = _ARMED.get(name)
    if left is None:
        return
    if left <= 1:
        os.kill(os.getpid(), signal.SIGKILL)
    _ARMED[name] = left - 1
