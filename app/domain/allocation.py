"""Split a quantity (or a fee) among teams pro rata, exactly.

Largest-remainder rounding in integer units of a quantum: every part is a multiple of
the quantum, the parts sum exactly to the total, and ties go to the earlier weight
(callers order teams by id), so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)


def allocate_pro_rata(
    total: Decimal, weights: Sequence[Decimal], quantum: Decimal
) -> list[Decimal]:
    """Parts of `total` proportional to `weights`, each a multiple of `quantum`."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must be non-negative")
    units = _units(total, quantum)
    weight_units = _integer_weights(weights)
    weight_sum = sum(weight_units)
    if units == 0:
        return [ZERO for _ in weights]
    if weight_sum == 0:
        raise ValueError("cannot allocate a positive total over zero weights")
    base = [units * w // weight_sum for w in weight_units]
    remainders = [units * w % weight_sum for w in weight_units]
    left = units - sum(base)
    # The `left` largest remainders get one more unit; ties by position.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        base[i] += 1
    return [quantum * b for b in base]


def allocate_whole_first(
    total: Decimal, waiting: Sequence[Decimal], whole: Sequence[bool], quantum: Decimal
) -> list[Decimal]:
    """Parts of `total` for teams waiting for `waiting`, where a team marked `whole` (it
    asked for whole shares) gets a whole number: the whole teams together get the whole
    number nearest their pro-rata share that leaves the fractional teams no more than they
    wait for; each side is then split pro rata (largest remainder). Where no whole number
    fits, everyone is split at `quantum`. The parts always sum to `total` exactly and none
    passes what its team waits for."""
    if quantum >= 1 or not any(whole) or total <= 0:
        return allocate_pro_rata(total, waiting, quantum)
    whole_wait = sum((q for q, w in zip(waiting, whole, strict=True) if w), ZERO)
    frac_wait = sum((q for q, w in zip(waiting, whole, strict=True) if not w), ZERO)
    low = max(_ceil(total - frac_wait), 0)
    high = min(int(total.to_integral_value(rounding=ROUND_FLOOR)), int(whole_wait))
    if low > high:
        return allocate_pro_rata(total, waiting, quantum)
    ideal = total * whole_wait / (whole_wait + frac_wait)
    given = Decimal(min(max(int(ideal.to_integral_value(rounding=ROUND_HALF_EVEN)), low), high))
    whole_parts = iter(
        allocate_pro_rata(given, [q for q, w in zip(waiting, whole, strict=True) if w], Decimal(1))
    )
    fractional = [q for q, w in zip(waiting, whole, strict=True) if not w]
    frac_parts = iter(allocate_pro_rata(total - given, fractional, quantum) if fractional else [])
    return [next(whole_parts) if w else next(frac_parts) for w in whole]


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def fee_quantum(fee: Decimal) -> Decimal:
    """The unit to split a fee in: cents, or finer where the fee itself is finer."""
    exponent = fee.normalize().as_tuple().exponent
    return Decimal(1).scaleb(min(int(exponent), -2)) if isinstance(exponent, int) else Decimal(1)


def _units(value: Decimal, quantum: Decimal) -> int:
    units = value / quantum
    if units != units.to_integral_value():
        raise ValueError(f"total {value} is not a multiple of the quantum {quantum}")
    return int(units)


def _integer_weights(weights: Sequence[Decimal]) -> list[int]:
    """Scale weights by one power of ten so that all become integers (exact ratios)."""
    places = max((max(0, -int(w.normalize().as_tuple().exponent)) for w in weights), default=0)
    scale = Decimal(10) ** places
    return [int(w * scale) for w in weights]
