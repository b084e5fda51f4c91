"""Deterministic, team-tagged client order IDs.

Format: `<tag>_<YYYYMMDDHHMM>_<SYMBOL>_<leg>` for the block order sent to the broker,
where `tag` is the team's id when the block has one team and `net` when it nets
several; a team's own trade record adds the fill number (`..._o1`, `..._o2`) or `x`
for quantity crossed inside the host. At most 48 characters of `[A-Za-z0-9_-]`: safe
for every Alpaca API. The same tick, symbol and leg always give the same ID, so a
retry after a crash re-sends the same ID and the broker refuses a duplicate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.domain.models import Leg

MAX_CLIENT_ORDER_ID = 48
MULTI_TEAM_TAG = "net"
TEAM_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,15}\Z")
# Team ids that would be mistaken for the host's own tags and owners.
RESERVED_TEAM_IDS = frozenset({MULTI_TEAM_TAG, "account", "host", "admin", "organiser"})
_SYMBOL_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
_ALLOWED = re.compile(r"^[A-Za-z0-9_-]+$")


def tick_stamp(tick: datetime) -> str:
    if tick.tzinfo is None:  # naive means UTC, as everywhere in the arena
        tick = tick.replace(tzinfo=UTC)
    return tick.astimezone(UTC).strftime("%Y%m%d%H%M")


def safe_symbol(symbol: str) -> str:
    """`BRK.B` → `BRK-B`: keep IDs inside Alpaca's safe alphabet."""
    return _SYMBOL_UNSAFE.sub("-", symbol)[:10]


def block_order_id(tick: datetime, symbol: str, leg: Leg, team_ids: list[str]) -> str:
    tag = team_ids[0] if len(team_ids) == 1 else MULTI_TEAM_TAG
    return _checked(f"{tag}_{tick_stamp(tick)}_{safe_symbol(symbol)}_{leg.value}")


def team_trade_id(team_id: str, tick: datetime, symbol: str, leg: Leg, fill_number: int) -> str:
    """A team's own ID for its share of the `fill_number`-th fill of a block leg."""
    return _checked(f"{team_id}_{tick_stamp(tick)}_{safe_symbol(symbol)}_{leg.value}{fill_number}")


def crossed_trade_id(team_id: str, tick: datetime, symbol: str) -> str:
    """A team's ID for its share of the quantity crossed inside the host."""
    return _checked(f"{team_id}_{tick_stamp(tick)}_{safe_symbol(symbol)}_x")


def _checked(client_order_id: str) -> str:
    if len(client_order_id) > MAX_CLIENT_ORDER_ID or not _ALLOWED.match(client_order_id):
        raise ValueError(f"invalid client order id {client_order_id!r}")
    return client_order_id


def crossed_block_id(tick: datetime, symbol: str, team_ids: list[str]) -> str:
    """The parent ID of a block that crossed entirely inside the host (nothing sent)."""
    tag = team_ids[0] if len(team_ids) == 1 else MULTI_TEAM_TAG
    return _checked(f"{tag}_{tick_stamp(tick)}_{safe_symbol(symbol)}_x")
