"""What every alpaca-py client in the host needs and alpaca-py does not offer.

alpaca-py's REST clients use a `requests` session with no timeout (a hung answer hangs the
caller for ever) and retry 429/504 by themselves, POSTs included, with 3 s sleeps. The host
owns timing and retries, so both are set here, on the only (private) knobs there are.
"""

from __future__ import annotations

import urllib.request
from typing import Any, TypeVar

import requests
import requests.adapters

Client = TypeVar("Client")
POOL_SIZE = 16


class TimeoutSession(requests.Session):
    """A session whose every request has a timeout unless it names one.

    Proxy settings are read from the environment once, here: by default `requests` scans
    the whole environment and stats ~/.netrc on every request, a third of the host's cost
    of an order (`make bench`).
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.proxies.update(urllib.request.getproxies())
        self.trust_env = False
        # Concurrent submits (AlpacaBroker) each keep their connection alive.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def tune_client(client: Client, timeout: float) -> Client:
    """Give an alpaca-py client a timeout and no hidden retries."""
    client._session = TimeoutSession(timeout)  # type: ignore[attr-defined]
    client._retry = 0  # type: ignore[attr-defined]
    return client
