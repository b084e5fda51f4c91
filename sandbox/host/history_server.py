"""The host answering a worker's history request from its bar store (bounded, no look-ahead)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.worker.history_client import METHODS


def _plain(columns: dict[str, np.ndarray]) -> dict[str, list]:
    return {
        field: (
            values.astype("datetime64[s]").astype(np.int64) if field == "timestamp" else values
        ).tolist()
        for field, values in columns.items()
    }


def answer(history: Any, message: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
    """A reply for one `api` request; a bad request is an error for the team, never a crash.

    `features` works until the calling team's deadline at most: host time spent for a team
    is that team's budget."""
    method = message.get("method")
    args = message.get("args")
    if history is None:
        return {"op": "api_result", "error": "history is not available in this run"}
    if method not in METHODS or not isinstance(args, list):
        return {"op": "api_result", "error": f"unknown history method {method!r}"}
    budget = {"deadline": deadline} if method == "features" else {}
    try:
        data = getattr(history, method)(*args, **budget)
    except (ValueError, TypeError, KeyError) as error:
        return {"op": "api_result", "error": f"{method}: {error}"}
    if method.endswith("Multi") or method == "features":
        return {"op": "api_result", "data": {s: _plain(c) for s, c in data.items()}}
    return {"op": "api_result", "data": _plain(data)}
