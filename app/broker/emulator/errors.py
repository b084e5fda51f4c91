"""Alpaca's error answers: an HTTP status and a `{"code", "message"}` body.

alpaca-py turns any non-2xx answer into `APIError(response.text)` and reads `.code` and
`.message` from that JSON body, so every refusal the emulator makes uses this shape.
Codes and messages marked "observed" come from Alpaca's live API as reported by users;
the rest follow Alpaca's numbering (HTTP status * 100000 + 10000) with our own wording.
"""

from __future__ import annotations

from app.broker.simulator import DUPLICATE_ID, INSUFFICIENT_QTY, WASH_TRADE

UNAUTHORIZED = "request is not authorized"  # observed, 401 / 40110000
NOT_SHORTABLE_ACCOUNT = "account is not allowed to short"  # observed, 403 / 40310000
FRACTIONAL_SHORT = "fractional orders are not allowed to short"  # observed, 403
BUYING_POWER = "insufficient buying power"  # observed, 403 / 40310000
RATE_LIMITED = "rate limit exceeded"  # 429 / 42910000


class AlpacaError(Exception):
    """A refusal answered as Alpaca answers it."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


def unprocessable(message: str, code: int = 40010001) -> AlpacaError:
    """422: a request Alpaca understands but refuses (bad field, duplicate id, ...)."""
    return AlpacaError(422, code, message)


def forbidden(message: str) -> AlpacaError:
    """403: a valid order the account may not place (wash trade, flip, shorting, ...)."""
    return AlpacaError(403, 40310000, message)


def not_found(message: str) -> AlpacaError:
    return AlpacaError(404, 40410000, message)


def unauthorized() -> AlpacaError:
    return AlpacaError(401, 40110000, UNAUTHORIZED)


def from_simulator(message: str) -> AlpacaError:
    """Map a SimulatedBroker refusal message to the answer Alpaca gives for it."""
    if message == DUPLICATE_ID:
        return unprocessable(DUPLICATE_ID)  # observed: 422 / 40010001
    if message in (WASH_TRADE, INSUFFICIENT_QTY, NOT_SHORTABLE_ACCOUNT):
        return forbidden(message)  # observed: 403 / 40310000
    if "short" in message:
        return forbidden(FRACTIONAL_SHORT)
    return unprocessable(message)
