"""The corporate-actions feed over Alpaca's announcements (alpaca-py's CorporateActionsClient,
`GET /v1/corporate-actions`): cash dividends and forward and reverse splits of the universe
(decision 0030). A failed read is tried again a few times, then logged: the engine goes on,
and reconciliation against the broker shows any action the books missed."""

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

log = logging.getLogger(__name__)
TYPES = [
    CorporateActionsType.CASH_DIVIDEND,
    CorporateActionsType.FORWARD_SPLIT,
    CorporateActionsType.REVERSE_SPLIT,
]


class AlpacaCorporateActions:
    """The engine's corporate-actions feed: actions with after < ex-date <= through."""

    def __init__(
        self,
        client: CorporateActionsClient,
        universe: Sequence[str],
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.client = tune_client(client, timeout_seconds)
        self.universe = sorted(universe)
        self.attempts = attempts
        self.sleep = sleep
        self.failures = 0

    def __call__(self, after: date, through: date) -> list[CorporateAction]:
        request = CorporateActionsRequest(
            symbols=self.universe, types=TYPES, start=after + timedelta(days=1), end=through
        )
        for attempt in range(self.attempts):
            try:
                answer = self.client.get_corporate_actions(request)
            except (APIError, requests.RequestException, ValueError) as error:
                self.failures += 1
                log.warning("corporate actions %s..%s not read (%s)", after, through, error)
                self.sleep(0.5 * 2**attempt)
                continue
            return [a for group in answer.data.values() for raw in group if (a := _action(raw))]
        log.error("corporate actions %s..%s could not be read: reconcile to check", after, through)
        return []


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
