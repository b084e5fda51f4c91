"""The corporate-actions feed over Alpaca's announcements (alpaca-py's CorporateActionsClient,
`GET /v1/corporate-actions`): cash dividends and forward and reverse splits of the universe
(decision 0030). A read that keeps failing raises CorporateActionsUnavailableError: trading
waits for the announcements, which the engine asks for again at every tick."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import CorporateActionsType
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.requests import CorporateActionsRequest

from app.alpaca.http import tune_client
from app.domain.corporate import ActionKind, CorporateAction
from app.engine.ports import CorporateActionsUnavailableError

log = logging.getLogger(__name__)
TYPES = [
    CorporateActionsType.CASH_DIVIDEND,
    CorporateActionsType.FORWARD_SPLIT,
    CorporateActionsType.REVERSE_SPLIT,
]


class AlpacaCorporateActions:
    """The engine's corporate-actions feed: actions with after < ex-date <= through. A read
    is tried again within `deadline_seconds` (it runs inside a tick); then it raises
    CorporateActionsUnavailableError, and the engine asks again at its next tick."""

    def __init__(
        self,
        client: CorporateActionsClient,
        universe: Sequence[str],
        deadline_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = tune_client(client, deadline_seconds)
        self.universe = sorted(universe)
        self.deadline_seconds = deadline_seconds
        self.sleep = sleep
        self.failures = 0

    def __call__(self, after: date, through: date) -> list[CorporateAction]:
        request = CorporateActionsRequest(
            symbols=self.universe, types=TYPES, start=after + timedelta(days=1), end=through
        )
        deadline = time.monotonic() + self.deadline_seconds
        attempts, cause = 0, ""
        while not attempts or time.monotonic() + 0.25 * 2**attempts < deadline:
            if attempts:
                self.sleep(0.25 * 2 ** (attempts - 1))
            attempts += 1
            try:
                answer = self.client.get_corporate_actions(request)
            except (APIError, requests.RequestException, ValueError) as error:
                self.failures += 1
                cause = str(error).splitlines()[0] if str(error) else type(error).__name__
                log.warning("corporate actions %s..%s not read (%s)", after, through, cause)
                continue
            return [a for group in answer.data.values() for raw in group if (a := _action(raw))]
        raise CorporateActionsUnavailableError(
            f"{cause} ({attempts} attempt(s) in {self.deadline_seconds:g} s)"
        )


def _action(raw: Any) -> CorporateAction | None:
    kind = getattr(raw, "corporate_action_type", "")
    if kind == "cash_dividends":
        rate = _decimal(raw.rate)
        return CorporateAction(raw.symbol, ActionKind.DIVIDEND, raw.ex_date, rate, raw.payable_date)
    if kind in ("forward_splits", "reverse_splits"):  # new_rate for old_rate, kept exact
        new, old = _decimal(raw.new_rate), _decimal(raw.old_rate)
        return CorporateAction(
            raw.symbol, ActionKind.SPLIT, raw.ex_date, new, raw.payable_date, old
        )
    return None


def _decimal(value: float) -> Decimal:
    """A rate as Alpaca writes it (a JSON number): its shortest decimal, no float noise."""
    return Decimal(repr(float(value))).normalize()
