"""How a replay input is read (`ReplayOptions`, the `arena replay` flags) and what a load
understood of it (`ReplayReading`, the one summary printed before a replay starts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.market.replay_problems import ReplayDataError

HOURS = ("regular", "extended")
LABELS = ("start", "end")
SHOWN_SYMBOLS = 12


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to read an input. `None` means "not said": the default (UTC, bar start; a
    suffix on every symbol is stripped) applies, and a reading that does not fit the
    exchange's sessions while another does is refused, naming the flag."""

    hours: str = "regular"  # or "extended": 04:00-20:00 New York on trading days
    tz: str | None = None  # the zone of timestamps written without one
    labels: str | None = None  # "start" or "end": which edge of its minute a stamp names
    symbol_suffix: str | None = None  # stripped from every symbol; "" strips nothing

    def zone(self) -> ZoneInfo:
        if self.hours not in HOURS:
            raise ReplayDataError(f"--hours must be regular or extended, got {self.hours!r}")
        if self.labels not in (None, *LABELS):
            raise ReplayDataError(f"--labels must be start or end, got {self.labels!r}")
        name = self.tz or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReplayDataError(
                f"--tz: unknown time zone {name!r} (e.g. UTC, America/New_York)"
            ) from None

    @property
    def end_labels(self) -> bool:
        return self.labels == "end"


@dataclass(frozen=True, slots=True)
class Dropped:
    """Minutes that had bars but are not replayed, and why."""

    reason: str
    minutes: int
    bars: int


@dataclass(frozen=True, slots=True)
class ReplayReading:
    """What a load understood: the summary a replay prints before it starts."""

    source: str
    symbols: tuple[str, ...]
    sessions: tuple[date, ...]
    minutes_used: int
    bars_used: int
    dropped: tuple[Dropped, ...] = ()
    skipped_rows: int = 0
    hours: str = "regular"
    zone: str = "UTC"  # the zone timestamps without one were read in
    zoned: str = "all"  # how many timestamps carry their own zone: all, some, none
    labels: str = "start"
    symbol_suffix: str = ""
    corporate_actions: int = 0
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The summary as text, one line each; warnings last."""
        lines = [
            f"Read {self.source}: {_count(len(self.symbols), 'symbol')} ({self._symbols()}), "
            f"{_count(len(self.sessions), 'session')}{self._days()}",
            f"  {_count(self.minutes_used, 'minute')} used ({_count(self.bars_used, 'bar')}), "
            + self._hours(),
            f"  {self._zone()}; each stamp labels its bar's {self.labels} (--labels)",
        ]
        for drop in self.dropped:
            lines.append(
                f"  dropped: {_count(drop.minutes, 'minute')} {drop.reason} "
                f"({_count(drop.bars, 'bar')})"
            )
        if self.skipped_rows:
            lines.append(f"  skipped: {_count(self.skipped_rows, 'bad row')} (listed below)")
        if self.symbol_suffix:
            lines.append(f"  symbols: the suffix {self.symbol_suffix!r} stripped from each")
        if self.corporate_actions:
            lines.append(
                f"  corporate actions: {self.corporate_actions} from dividend/split columns"
            )
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return lines

    def _symbols(self) -> str:
        shown = ", ".join(self.symbols[:SHOWN_SYMBOLS])
        more = len(self.symbols) - SHOWN_SYMBOLS
        return f"{shown}, ... {more} more" if more > 0 else shown

    def _days(self) -> str:
        if not self.sessions:
            return ""
        first, last = self.sessions[0], self.sessions[-1]
        return f" ({first})" if first == last else f" ({first} to {last})"

    def _hours(self) -> str:
        if self.hours == "extended":
            return "extended hours (04:00-20:00 New York; trading in the regular session only)"
        return "regular session only (--hours extended keeps pre-market and after hours)"

    def _zone(self) -> str:
        if self.zoned == "all":
            return "timestamps carry their zone"
        where = "timestamps without a zone" if self.zoned == "some" else "timestamps"
        return f"{where} read as {self.zone} time (--tz)"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
