"""What every alpaca-py client in the host needs and alpaca-py does not offer.

alpaca-py's REST clients use a `requests` session with no timeout (a hung answer hangs the
caller for ever) and retry 429/504 by themselves, POSTs included, with 3 s sleeps. The host
owns timing and retries, so both are set here, on the only (private) knobs there are.
"""

from __future__ import annotations

from typing import Any, TypeVar

import requests

Client = TypeVar("Client")


class TimeoutSession(requests.Session):
    """A session whose every request has a timeout unless it names one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def tune_client(client: Client, timeout: float) -> Client:
    """Give an alpaca-py client a timeout and no hidden retries."""
    client._session = TimeoutSession(timeout)  # type: ignore[attr-defined]
    client._retry = 0  # type: ignore[attr-defined]
    return client
