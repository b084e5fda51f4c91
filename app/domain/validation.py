"""Turn what a strategy returned into intents, or into rejections a team can read.

Every check uses the host's reference price (the last close), never a price the
strategy chose. Quantities are checked cumulatively over the team's signals of the
minute, so ten buys that each fit but together overspend are caught. A message quotes the
team's values through `app.domain.bounds`, so it stays within MAX_MESSAGE_CHARS.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from app.domain.bounds import (
    MAX_MESSAGE_CHARS,
    MAX_SYMBOL_CHARS,
    amount,
    clip,
    name_some,
    quote,
    signal_copy,
)
from app.domain.models import Intent, OrderType, Rejection, Side
from app.domain.numbers import canonical
from app.domain.portfolio import ZERO, Portfolio

ALLOWED_FIELDS = frozenset({"symbol", "action", "quantity", "order_type", "limit_price", "reason"})
MAX_REASON_CHARS = 200
MAX_FRACTION_DIGITS = 9  # Alpaca accepts up to 9 decimals for fractional quantities


@dataclass(frozen=True, slots=True)
class TradingRules:
    """What a competition allows; set per competition."""

    allow_short: bool = False
    allow_fractional: bool = False
    max_signals_per_minute: int = 20
    # What the broker says of its assets (Alpaca: `shortable`, `fractionable`).
    not_shortable: frozenset[str] = frozenset()
    not_fractionable: frozenset[str] = frozenset()


@dataclass(slots=True)
class TeamExposure:
    """A team's book plus what it has already committed to orders not yet settled."""

    portfolio: Portfolio
    reserved_cash: Decimal = ZERO
    pending_sells: dict[str, Decimal] = field(default_factory=dict)


class SignalError(ValueError):
    """A signal that breaks a rule; its message is shown to the team."""


class SchemaError(SignalError):
    """What is not a signal at all: a field unknown or missing, a wrong type or value (an
    upload's smoke call is refused for it; a rule's refusal is only a warning there)."""


@dataclass(slots=True)
class _Budget:
    """What is left to spend and to sell while a team's signals are checked in order."""

    cash: Decimal
    sellable: dict[str, Decimal]


def validate_signals(
    team_id: str,
    output: object,
    exposure: TeamExposure,
    reference_prices: Mapping[str, Decimal],
    rules: TradingRules,
) -> tuple[list[Intent], list[Rejection]]:
    """Check a strategy's return value against the schema and the rules."""
    intents, rejections = parse_signals(team_id, output, reference_prices, rules)
    accepted, refused = apply_budget(intents, exposure, reference_prices, rules)
    return accepted, sorted(rejections + refused, key=lambda r: r.signal_index)


def parse_signals(
    team_id: str,
    output: object,
    reference_prices: Mapping[str, Decimal],
    rules: TradingRules,
) -> tuple[list[Intent], list[Rejection]]:
    """The schema checks, which do not depend on the team's book."""
    if output is None:
        return [], []
    if isinstance(output, dict):
        signals: list[object] = [output]
    elif isinstance(output, list):
        signals = output
    else:
        reason = (
            f"generate_signal returned {type(output).__name__}; "
            "expected a dict, a list of dicts, or None"
        )
        return [], [Rejection(team_id, 0, reason, schema=True)]
    intents: list[Intent] = []
    rejections: list[Rejection] = []
    limit = rules.max_signals_per_minute
    for index, signal in enumerate(signals[:limit]):
        try:
            intents.append(_parse_signal(team_id, index, signal, reference_prices, rules))
        except SignalError as error:
            rejections.append(_rejection(team_id, index, error, signal_copy(signal)))
    if len(signals) > limit:
        extra = len(signals) - limit
        reason = f"too many signals: at most {limit} per minute; {extra} more were ignored"
        rejections.append(Rejection(team_id, limit, reason))
    return intents, rejections


def apply_budget(
    intents: list[Intent],
    exposure: TeamExposure,
    reference_prices: Mapping[str, Decimal],
    rules: TradingRules,
) -> tuple[list[Intent], list[Rejection]]:
    """Cash and position checks, cumulative over `intents` in order."""
    budget = _Budget(
        cash=exposure.portfolio.cash - exposure.reserved_cash,
        sellable={
            s: p.quantity - exposure.pending_sells.get(s, ZERO)
            for s, p in exposure.portfolio.positions.items()
        },
    )
    accepted: list[Intent] = []
    rejections: list[Rejection] = []
    for intent in intents:
        try:
            _check_and_spend(intent, budget, reference_prices[intent.symbol], rules)
        except SignalError as error:
            rejections.append(_rejection(intent.team_id, intent.signal_index, error))
        else:
            accepted.append(intent)
    return accepted, rejections


def _parse_signal(
    team_id: str,
    index: int,
    signal: object,
    reference_prices: Mapping[str, Decimal],
    rules: TradingRules,
) -> Intent:
    if not isinstance(signal, dict):
        raise SchemaError(f"a signal must be a dict, got {type(signal).__name__}")
    unknown = sorted((key for key in signal if key not in ALLOWED_FIELDS), key=_field_order)
    if unknown:
        hint = _hint(unknown, signal) or ";"
        raise SchemaError(f"unknown field(s) {name_some(unknown)}{hint} allowed: {_allowed()}")
    symbol = signal.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise SchemaError("'symbol' is required and must be a non-empty string")
    if symbol not in reference_prices:
        raise SignalError(
            f"unknown symbol {quote(symbol, MAX_SYMBOL_CHARS)}: not in this competition's universe"
        )
    action = signal.get("action")
    if action not in ("buy", "sell"):
        raise SchemaError(f"'action' must be 'buy' or 'sell', got {quote(action)}")
    quantity = _positive_decimal(signal.get("quantity"), "quantity")
    _check_fraction(quantity, rules, symbol)
    order_type, limit_price = _order_type(signal)
    reason = signal.get("reason", "")
    if not isinstance(reason, str):
        raise SchemaError("'reason' must be a string")
    return Intent(
        team_id=team_id,
        symbol=symbol,
        side=Side(action),
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        reason=reason[:MAX_REASON_CHARS],
        signal_index=index,
    )


def _order_type(signal: dict) -> tuple[OrderType, Decimal | None]:
    raw_type = signal.get("order_type", "market")
    if raw_type not in ("market", "limit"):
        raise SchemaError(f"'order_type' must be 'market' or 'limit', got {quote(raw_type)}")
    order_type = OrderType(raw_type)
    raw_limit = signal.get("limit_price")
    if order_type is OrderType.LIMIT:
        if raw_limit is None:
            raise SchemaError("a limit order needs 'limit_price'")
        return order_type, _positive_decimal(raw_limit, "limit_price")
    if raw_limit is not None:
        raise SchemaError("'limit_price' is only allowed with order_type 'limit'")
    return order_type, None


def _positive_decimal(value: object, name: str) -> Decimal:
    # bool is an int subclass: True must not mean "1 share".
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SchemaError(f"'{name}' must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"'{name}' must be a finite number, got {value}")  # nan, inf
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError) as error:
        raise SchemaError(f"'{name}' is not a valid number: {quote(value)}") from error
    if not number.is_finite():
        raise SchemaError(f"'{name}' must be a finite number, got {_number(value)}")
    if number <= 0:
        raise SchemaError(f"'{name}' must be greater than 0, got {_number(value)}")
    return canonical(number)


def _check_fraction(quantity: Decimal, rules: TradingRules, symbol: str) -> None:
    if quantity == quantity.to_integral_value():
        return
    if not rules.allow_fractional:
        raise SignalError(
            f"fractional quantity {amount(quantity)} is not allowed: use whole shares"
        )
    if symbol in rules.not_fractionable:
        raise SignalError(
            f"fractional quantity {amount(quantity)}: the broker trades {symbol} "
            "in whole shares only"
        )
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_FRACTION_DIGITS:
        raise SignalError(
            f"quantity {amount(quantity)} has more than {MAX_FRACTION_DIGITS} decimals"
        )


def _check_and_spend(intent: Intent, budget: _Budget, price: Decimal, rules: TradingRules) -> None:
    """Refuse an intent the team cannot afford or cover; otherwise reserve it."""
    if intent.side is Side.BUY:
        cost = intent.quantity * price
        if cost > budget.cash:
            raise SignalError(
                f"insufficient cash: buying {amount(intent.quantity)} {intent.symbol} at the "
                f"reference price {amount(price)} costs {amount(cost)}, "
                f"available {amount(budget.cash)}"
            )
        budget.cash -= cost
        return
    held = budget.sellable.get(intent.symbol, ZERO)
    if not rules.allow_short and intent.quantity > held:
        raise SignalError(
            f"selling {amount(intent.quantity)} {intent.symbol} but only "
            f"{amount(max(held, ZERO))} available: what you hold, less what your resting and "
            "open orders already sell (short selling is not allowed in this competition)"
        )
    short_part = intent.quantity - max(held, ZERO)
    if short_part > 0:
        if intent.symbol in rules.not_shortable:
            raise SignalError(
                f"selling {amount(intent.quantity)} {intent.symbol} would open a short of "
                f"{amount(short_part)}, but the broker does not lend {intent.symbol} "
                "(not shortable)"
            )
        if short_part != short_part.to_integral_value():
            raise SignalError(
                f"selling {amount(intent.quantity)} {intent.symbol} would open a fractional short "
                f"of {amount(short_part)}; shorts must be whole shares"
            )
        # A short is collateralised by cash at the reference price, like a buy of the same size.
        collateral = short_part * price
        if collateral > budget.cash:
            raise SignalError(
                f"insufficient cash to short {amount(short_part)} {intent.symbol}: collateral "
                f"at the reference price {amount(price)} is {amount(collateral)}, "
                f"available {amount(budget.cash)}"
            )
        budget.cash -= collateral
    budget.sellable[intent.symbol] = held - intent.quantity


def _hint(unknown: list[object], signal: dict) -> str:
    """A guess for a misspelt field, " — did you mean 'quantity'?", among the fields the
    signal lacks (for its first few unknown ones); "" when nothing is close."""
    missing = sorted(ALLOWED_FIELDS - {k for k in signal if type(k) is str})
    guesses = []
    for key in unknown[:3]:
        if type(key) is str and len(key) <= 32:
            close = difflib.get_close_matches(key, missing, n=1, cutoff=0.5)
            guesses += [f"{quote(close[0])} for {quote(key)}"] if close else []
    if not guesses:
        return ""
    if len(unknown) == 1:
        return f" — did you mean {guesses[0].split(' for ')[0]}?"
    return f" — did you mean {', '.join(guesses)}?"


def _allowed() -> str:
    return ", ".join(sorted(ALLOWED_FIELDS))


def _field_order(key: object) -> tuple[bool, str]:
    # Sorted, the same fields are named whatever order the dict arrived in; keys from the
    # sandbox are strings, others sort after them by type (str() of some cannot be taken).
    return (False, key) if type(key) is str else (True, type(key).__name__)


def _number(value: int | float | Decimal) -> str:
    return amount(value) if isinstance(value, Decimal) else quote(value)


def _rejection(
    team_id: str, index: int, error: SignalError, signal: str | None = None
) -> Rejection:
    # Numbers and host text can still add up: the cap holds whatever a message quotes.
    reason = clip(str(error), MAX_MESSAGE_CHARS)
    return Rejection(team_id, index, reason, signal, schema=isinstance(error, SchemaError))
