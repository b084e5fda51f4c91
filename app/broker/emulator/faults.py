"""Fault injection for the emulator: a small, seeded, deterministic language.

A spec is a comma-separated list of items (spaces ignored, empty = no faults)::

    429:0.1,500:0.05,slow:0.1:1.5,timeout:0.02,partial:0.3,reject:0.02,burst429:5

Request faults (answered instead of, or around, an Alpaca `/v2/...` request):

- `429:P[:S]`       answer 429 with Alpaca's body `{"code": 42910000, "message": "rate
                    limit exceeded"}` and `X-RateLimit-Limit/Remaining/Reset`, and with S a
                    `Retry-After: S` header (seconds; fractions allowed for tests); not
                    applied.
- `500:P`           answer 500 with an Alpaca JSON body; the request is not applied.
- `502:P`, `503:P`  answer with a gateway's HTML page (not JSON!); not applied.
- `504:P`           APPLY the request, then answer 504 with a gateway's HTML page: the
                    order exists although the client saw an error. alpaca-py retries 429
                    and 504 on its own, POST included, so a retried submit then meets
                    the 422 duplicate-client_order_id refusal.
- `slow:P:S`        sleep S seconds before handling (combines with any other fault).
- `timeout:P[:S]`   APPLY the request, hold the connection S seconds (default 5), then
                    close it without any answer (the client sees a dropped connection,
                    or its own read timeout if shorter).
- `burstKIND:N[:A]` the next N requests in scope all get KIND, counted from when the spec
                    is set: a status (429, 500, 502, 503, 504; `burst429:5:2` with
                    Retry-After 2), `slow` (A = the delay, required: `burstslow:3:12`) or
                    `timeout` (A = the hang, default 5).

Order faults (decided once per accepted order, keyed by its client_order_id):

- `partial:P[:SHARE]`  the order may take at most SHARE (default 0.0001) of each bar's
                       volume, so it fills partially over several bars (the simulator's
                       `max_participation`, for that order only).
- `reject:P`           the order is accepted, then goes to status `rejected` at the next
                       clock step (before any fill).

Other items: `seed:N` seeds every draw (default 0). A request fault may end in `@SCOPE`
to limit it to `all` (default), `trading` (`/v2/...` except market data), `data`
(`/v2/stocks/...`), `orders` (`/v2/orders...`, any method) or `submit` (POST
`/v2/orders`); and then in `/HH:MM-HH:MM` to limit it to a window of the emulator's
clock (UTC, from inclusive, to exclusive: after `advance(n)` from the 13:30 open the
clock reads 13:30+n), e.g. `500:1@data/13:40-13:45` takes the data feed down for five
minutes. Admin routes (`/_emulator/...`) are never faulted.

Determinism: the n-th in-scope request's draw for item i is a hash of (seed, i, n); an
order's draw is a hash of (seed, i, client_order_id). The same spec and the same
sequence of requests give the same faults on every run. Items are tried in spec order;
the first answering fault wins (`slow` only adds its delay).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from decimal import Decimal

REQUEST_KINDS = {"429", "500", "502", "503", "504", "slow", "timeout"}
ORDER_KINDS = {"partial", "reject"}
BURST_CODES = {429, 500, 502, 503, 504}
BURST_KINDS = {str(code) for code in BURST_CODES} | {"slow", "timeout"}
SCOPES = {"all", "trading", "data", "orders", "submit"}
APPLIED_FIRST = {504}  # statuses answered only after the request was applied
DEFAULT_HANG = 5.0
DEFAULT_SHARE = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When an item applies: the emulator's clock (UTC time of day) in [start, end)."""

    start: clock_time
    end: clock_time

    def holds(self, now: datetime) -> bool:
        return self.start <= now.astimezone(UTC).time() < self.end


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One item of a spec: its kind, probability, optional argument, scope and window."""

    kind: str
    probability: float = 0.0
    argument: float | None = None
    scope: str = "all"
    window: FaultWindow | None = None


@dataclass(frozen=True, slots=True)
class FaultBurst:
    """`burstKIND:N[:A]`: the next `count` requests in scope (and window) all get `kind`."""

    kind: str
    count: int
    argument: float | None = None
    scope: str = "all"
    window: FaultWindow | None = None


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A parsed spec; `text` is what was parsed."""

    text: str = ""
    rules: tuple[FaultRule, ...] = ()
    seed: int = 0
    bursts: tuple[FaultBurst, ...] = ()


def parse_faults(text: str | None) -> FaultSpec:
    """Parse a spec; ValueError names the offending item."""
    text = (text or "").replace(" ", "")
    rules: list[FaultRule] = []
    bursts: list[FaultBurst] = []
    seed = 0
    for item in filter(None, text.split(",")):
        head, slash, span = item.partition("/")
        body, _, scope = head.partition("@")
        scope = scope or "all"
        if scope not in SCOPES:
            raise ValueError(
                f"fault {item!r}: unknown scope {scope!r} ({', '.join(sorted(SCOPES))})"
            )
        kind, *args = body.split(":")
        try:
            window = _window(span) if slash else None
            if kind == "seed":
                seed = int(_only(args, 1, 1)[0])
            elif kind.startswith("burst"):
                bursts.append(_burst(kind.removeprefix("burst"), args, scope, window))
            else:
                rules.append(_rule(kind, args, scope, window))
        except ValueError as exc:
            raise ValueError(f"fault {item!r}: {exc}") from None
    return FaultSpec(text, tuple(rules), seed, tuple(bursts))


def _only(args: list[str], lo: int, hi: int) -> list[str]:
    if not lo <= len(args) <= hi:
        raise ValueError(f"expected {lo}..{hi} argument(s), got {len(args)}")
    return args


def _window(span: str) -> FaultWindow:
    """`HH:MM-HH:MM` of the emulator's clock, UTC."""
    start, _, end = span.partition("-")
    try:
        window = FaultWindow(clock_time.fromisoformat(start), clock_time.fromisoformat(end))
    except ValueError:
        raise ValueError(f"window {span!r} is not HH:MM-HH:MM") from None
    if window.start >= window.end:
        raise ValueError(f"window {span!r} ends before it starts")
    return window


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("argument must be > 0")
    return value


def _burst(kind: str, args: list[str], scope: str, window: FaultWindow | None) -> FaultBurst:
    if kind not in BURST_KINDS:
        raise ValueError(f"burst kind must be one of {sorted(BURST_KINDS)}")
    args = _only(args, 2, 2) if kind == "slow" else _only(args, 1, 2)
    if kind not in {"429", "slow", "timeout"} and len(args) > 1:
        raise ValueError(f"burst{kind} takes no argument")
    count = int(args[0])
    if count < 0:
        raise ValueError("count must be >= 0")
    argument = _positive(args[1]) if len(args) > 1 else None
    return FaultBurst(kind, count, argument, scope, window)


def _rule(kind: str, args: list[str], scope: str, window: FaultWindow | None = None) -> FaultRule:
    if kind not in REQUEST_KINDS | ORDER_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    wanted = {"slow": (2, 2), "timeout": (1, 2), "partial": (1, 2), "429": (1, 2)}
    args = _only(args, *wanted.get(kind, (1, 1)))
    probability = float(args[0])
    if not 0 <= probability <= 1:
        raise ValueError("probability must be in [0, 1]")
    argument = _positive(args[1]) if len(args) > 1 else None
    if kind in ORDER_KINDS and (scope != "all" or window is not None):
        raise ValueError("order faults take no scope")
    return FaultRule(kind, probability, argument, scope, window)


def draw(seed: int, index: int, key: str | int) -> float:
    """A uniform number in [0, 1) fixed by (seed, item index, key)."""
    digest = hashlib.blake2b(f"{seed}|{index}|{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def scope_of(method: str, path: str) -> set[str]:
    """The scopes a request belongs to."""
    market_data = path.startswith(("/v2/stocks", "/v1/"))  # bars; corporate actions
    scopes = {"all", "data" if market_data else "trading"}
    if path.startswith("/v2/orders"):
        scopes.add("orders")
        if method == "POST" and path.rstrip("/") == "/v2/orders":
            scopes.add("submit")
    return scopes


@dataclass(frozen=True, slots=True)
class RequestFault:
    """What to do with one request: delay, answer a status, and whether to apply it."""

    delay: float = 0.0
    status: int | None = None
    apply_first: bool = False
    drop_after: float | None = None  # timeout: apply, wait, close without answering
    retry_after: float | None = None  # a 429's Retry-After header, in seconds


@dataclass(frozen=True, slots=True)
class OrderFault:
    """Per-order faults: a participation cap and/or a later rejection."""

    share: Decimal | None = None
    reject: bool = False


def _answer(kind: str, argument: float | None, delay: float = 0.0) -> RequestFault:
    """The fault a request-fault kind (a status, `slow` or `timeout`) makes."""
    if kind == "slow":
        return RequestFault(delay=delay + (argument or 0.0))
    if kind == "timeout":
        return RequestFault(delay=delay, drop_after=DEFAULT_HANG if argument is None else argument)
    status = int(kind)
    retry_after = argument if status == 429 else None
    return RequestFault(delay, status, status in APPLIED_FIRST, retry_after=retry_after)


@dataclass
class FaultInjector:
    """Holds the current spec and hands out deterministic decisions (thread-safe).

    `clock` is the emulator's time, which windowed items follow; without one they never
    apply."""

    spec: FaultSpec = field(default_factory=FaultSpec)
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    clock: Callable[[], datetime] | None = None
    _bursts: list[list] = field(default_factory=list)  # [burst, requests left]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.set(self.spec)

    def set(self, spec: FaultSpec | str | None) -> FaultSpec:
        """Install a spec (text or parsed); restarts the request count and bursts."""
        parsed = spec if isinstance(spec, FaultSpec) else parse_faults(spec)
        with self._lock:
            self.spec = parsed
            self.requests = 0
            self._bursts = [[burst, burst.count] for burst in parsed.bursts]
        return parsed

    def _applies(self, item: FaultRule | FaultBurst, scopes: set[str]) -> bool:
        if item.scope not in scopes:
            return False
        if item.window is None:
            return True
        return self.clock is not None and item.window.holds(self.clock())

    def decide(self, method: str, path: str) -> RequestFault:
        """The fault (possibly none) for the next request."""
        scopes = scope_of(method, path)
        with self._lock:
            self.requests += 1
            n = self.requests
            for entry in self._bursts:
                burst = entry[0]
                if entry[1] > 0 and self._applies(burst, scopes):
                    entry[1] -= 1
                    return self._count(_answer(burst.kind, burst.argument))
            delay = 0.0
            for index, rule in enumerate(self.spec.rules):
                if rule.kind in ORDER_KINDS or not self._applies(rule, scopes):
                    continue
                if draw(self.spec.seed, index, n) >= rule.probability:
                    continue
                if rule.kind == "slow":
                    delay += rule.argument or 0.0
                else:
                    return self._count(_answer(rule.kind, rule.argument, delay))
            return self._count(RequestFault(delay=delay))

    def _count(self, fault: RequestFault) -> RequestFault:
        if fault.delay:
            self.injected["slow"] += 1
        if fault.status is not None:
            self.injected[str(fault.status)] += 1
        if fault.drop_after is not None:
            self.injected["timeout"] += 1
        return fault

    def for_order(self, client_order_id: str) -> OrderFault:
        """The order faults of a newly accepted order (a pure function of its id)."""
        share: Decimal | None = None
        reject = False
        for index, rule in enumerate(self.spec.rules):
            if rule.kind not in ORDER_KINDS:
                continue
            if draw(self.spec.seed, index, client_order_id) >= rule.probability:
                continue
            if rule.kind == "partial" and share is None:
                share = DEFAULT_SHARE if rule.argument is None else Decimal(repr(rule.argument))
            elif rule.kind == "reject":
                reject = True
        if share is not None:
            self.note("partial")
        if reject:
            self.note("reject")
        return OrderFault(share, reject)

    def note(self, kind: str) -> None:
        """Count one injected fault of `kind` (reported by /_emulator/state)."""
        with self._lock:
            self.injected[kind] += 1


class RateLimiter:
    """Alpaca's limit: `per_minute` requests per minute per API key, as a token bucket."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.per_minute)

    def take(self, key: str) -> tuple[bool, dict[str, str]]:
        """Spend one token for `key`: (allowed, X-RateLimit-* headers)."""
        if not self.per_minute:
            return True, {}
        limit = float(self.per_minute)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (limit, now))
            tokens = min(limit, tokens + (now - at) * limit / 60)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
        refill = 0 if tokens >= limit else (limit - tokens) * 60 / limit
        return allowed, rate_headers(self.per_minute, int(tokens), refill)


def rate_headers(limit: int, remaining: int, reset_in: float) -> dict[str, str]:
    """Alpaca's rate-limit headers; Reset is a Unix time in seconds."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(remaining, 0)),
        "X-RateLimit-Reset": str(int(time.time() + reset_in + 0.999)),
    }
