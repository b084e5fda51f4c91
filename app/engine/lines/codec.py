"""The codec every ledger line shares: fields in JSON order, typed reading back.

A line's fields are its JSON keys, in order; a field marked `ROUTING` is not written (it
says where the line goes), one marked `OMIT_NONE` is left out when None. Values keep their
Python types (Decimal, datetime, enums); the ledger writer encodes them. Reading parses by
the field annotations.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from types import NoneType, UnionType
from typing import Any, ClassVar

from app.domain.timefmt import parse_rfc3339

ZERO = Decimal(0)
DERIVED_QUANTUM = Decimal("0.000001")  # average costs and P&L derived by division
ACCOUNT_LABEL = "account"  # the account's `owner` in snapshots and metrics (a reserved id)
ROUTING = {"json": False}
OMIT_NONE = {"omit_none": True}


class Channel(StrEnum):
    TRADES = "trades"
    PORTFOLIO = "portfolio"
    METRICS = "metrics"
    EVENTS = "events"
    JOURNAL = "journal"


def derived(value: Decimal) -> Decimal:
    """Round a figure that came out of a division; cash and quantities stay exact."""
    return value.quantize(DERIVED_QUANTUM).normalize() if value else Decimal(0)


class LineError(ValueError):
    """A ledger record that does not have the shape of its line."""


# -- the codec every line shares ------------------------------------------------------------


class Part:
    """A JSON object with typed fields (a line, or a part nested in one)."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for name, omit_none, _hint in layout(type(self)):
            value = getattr(self, name)
            if value is None and omit_none:
                continue
            record[name] = _plain(value)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> typing.Self:
        if not isinstance(record, Mapping):
            raise LineError(f"a {cls.__name__} is a JSON object, got {type(record).__name__}")
        values: dict[str, Any] = {}
        for name, _omit_none, hint in layout(cls):
            if name in record:
                values[name] = parse_field(record[name], hint, name)
            elif not _has_default(cls, name):
                raise LineError(f"a {cls.__name__} needs {name!r}")
        return cls(**values)


class Line(Part):
    """A ledger line: a part that knows its channel and its owner (None: the account)."""

    __slots__ = ()
    channel: ClassVar[Channel]

    @property
    def ledger_owner(self) -> str | None:
        return None


_LAYOUTS: dict[type, tuple[tuple[str, bool, Any], ...]] = {}


def layout(cls: type) -> tuple[tuple[str, bool, Any], ...]:
    """(name, omit when None, type) of each JSON field, in order; computed once per class."""
    found = _LAYOUTS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _LAYOUTS[cls] = tuple(
            (f.name, bool(f.metadata.get("omit_none")), hints[f.name])
            for f in dataclasses.fields(cls)
            if f.metadata.get("json", True)
        )
    return found


def _has_default(cls: type, name: str) -> bool:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_json()
    if type(value) is list:
        return [_plain(item) for item in value]
    if type(value) is dict:
        return {key: _plain(item) for key, item in value.items()}
    return value


def parse_field(value: Any, hint: Any, name: str) -> Any:
    """`value` as read from JSON, made the field's type."""
    try:
        return _convert(value, hint)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise LineError(f"{name}: {error}") from error


def _convert(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is UnionType or origin is typing.Union:
        options = [h for h in typing.get_args(hint) if h is not NoneType]
        return None if value is None else _convert(value, options[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(v, item) for v in value]
    if origin is dict:
        _key, item = typing.get_args(hint)
        return {str(k): _convert(v, item) for k, v in value.items()}
    if hint is Any or hint is object:
        return value
    if isinstance(hint, type) and issubclass(hint, Part):
        return hint.from_json(value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime:
        return value if isinstance(value, datetime) else parse_rfc3339(str(value))
    if hint is date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint in (str, int, bool, float):
        if not isinstance(value, hint):
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"no reader for {hint!r}")


def line_dataclass(cls: type) -> type:
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
