"""The host answering a worker's history request from its bar store (bounded, no look-ahead).

Crash-only towards the team: whatever a request makes the history service raise, the answer
is an error for the team that asked, never an exception in the host. Unexpected failures
(anything but the ValueError family the service raises for bad arguments) are logged with
the team's name, since they point at a gap in the service's own checks.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import orjson

from sandbox.wire.framing import MAX_FRAME
from sandbox.wire.messages import ApiAnswer, ApiRequest

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = MAX_FRAME // 2  # a request that needs more asks for too much at once
# The fewest bytes one bar takes in an answer (a 10-digit timestamp and five 1-digit numbers
# with their commas): more bars than this allows are refused before anything is built, so
# the host's cost of one request stays at about one largest answer (~10 ms).
MIN_BAR_BYTES = 21
MAX_ANSWER_BARS = MAX_ANSWER_BYTES // MIN_BAR_BYTES
MAX_REASON_CHARS = 300  # of an error answer: the service's message may quote the team's input


def _bars(columns: dict[str, np.ndarray]) -> int:
    return max((len(values) for values in columns.values()), default=0)


def _plain(columns: dict[str, np.ndarray]) -> dict[str, list]:
    return {
        field: (
            values.astype("datetime64[s]").astype(np.int64) if field == "timestamp" else values
        ).tolist()
        for field, values in columns.items()
    }


def answer(
    history: Any, request: ApiRequest, deadline: float | None = None, team: str = ""
) -> ApiAnswer:
    """The answer to one request; a bad request is an error for the team, never a crash.

    `features` works until the calling team's deadline at most: host time spent for a team
    is that team's budget."""
    method = request.method
    if history is None:
        return ApiAnswer(error="history is not available in this run")
    budget = {"deadline": deadline} if method == "features" else {}
    try:
        data = getattr(history, method)(*request.args, **budget)  # views: nothing copied yet
        several = method.endswith("Multi") or method == "features"
        bars = sum(_bars(c) for c in data.values()) if several else _bars(data)
        if bars > MAX_ANSWER_BARS:
            return ApiAnswer(
                error=f"{method}: {bars:,} bars are more than one answer holds "
                f"({MAX_ANSWER_BARS:,}): ask for fewer symbols or a shorter range"
            )
        plain: Any = {s: _plain(c) for s, c in data.items()} if several else _plain(data)
        encoded = orjson.dumps(plain)
    except (ValueError, TypeError, KeyError, LookupError) as error:
        return ApiAnswer(error=_cut(f"{method}: {error}"))
    except Exception as error:  # a gap in the service's checks: still only this team's
        log.exception("history %s for team %s failed", method, team or "?")
        return ApiAnswer(error=f"{method}: the host could not answer ({type(error).__name__})")
    if len(encoded) > MAX_ANSWER_BYTES:
        return ApiAnswer(
            error=f"{method}: the answer would be {len(encoded):,} bytes, over "
            f"{MAX_ANSWER_BYTES:,}: ask for fewer symbols or a shorter range"
        )
    return ApiAnswer(data=orjson.Fragment(encoded))  # encoded once, embedded in the frame


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."
