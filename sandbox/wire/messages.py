"""The typed frames between host and worker, and the one strict decoder of a worker's frames.

A worker runs a team's code, so everything it sends is checked here before the host looks at
it: the frame must be a JSON object of a known kind, with exactly that kind's fields, each of
its type and within its size; plain data (a strategy's output, a request's arguments) is
walked without recursion, with limits on depth, items and string length. A frame that breaks
any rule raises `FrameRefusedError` with a reason the team can read; the host then treats the
worker as lost. Frames from the host are trusted by the worker and built by `*.frame()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

# A worker's frames are small: ten signals are a few hundred bytes, an error 16,000
# characters. The host refuses a bigger frame from its header, before reading it.
MAX_WORKER_FRAME = 1 << 20
# What a strategy's output may hold (the worker refuses more with a message for the team).
MAX_DEPTH = 8
MAX_ITEMS = 10_000
MAX_STRING = 1_000
# Text a worker reports: printed output (4,000 characters a call plus the truncation note),
# an error with its traceback, a layer's detail.
MAX_PRINTED_CHARS = 4_100
MAX_ERROR_CHARS = 16_000
MAX_DETAIL_CHARS = 1_000
MAX_LAYERS = 32
# History requests: arguments are a few symbols, dates and counts.
MAX_ARG_DEPTH = 3
MAX_ARG_ITEMS = 2_100  # two lists of MAX_API_LIST (features: symbols and expressions)
MAX_API_LIST = 1_000
MAX_CPU_MS = 24 * 3600 * 1000.0

FLOAT_TAG = "$float"  # non-finite floats travel as {"$float": "nan" | "inf" | "-inf"}
_TAGGED_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
LOAD_FAULTS = frozenset({"rejected", "exception", "memory", "recursion"})
CALL_FAULTS = frozenset({"exception", "memory", "recursion", "output", "load"})
HISTORY_METHODS = frozenset(
    {"getLastN", "getDay", "getRange", "getLastNMulti", "getDayMulti", "getRangeMulti",
     "features"}
)  # fmt: skip


class FrameRefusedError(ValueError):
    """A worker's frame broke the wire's rules; the message says which, for the team."""


# -- what a worker sends ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker is hardened; `layers` says which isolation layers are in force."""

    pid: int
    layers: tuple[dict[str, Any], ...]

    def frame(self) -> dict[str, Any]:
        return {"op": "ready", "pid": self.pid, "layers": list(self.layers)}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The strategy loaded, or did not (`kind` in LOAD_FAULTS and `error` say why)."""

    error: str | None = None
    kind: str | None = None

    def frame(self) -> dict[str, Any]:
        if self.error is None:
            return {"op": "loaded"}
        return {"op": "loaded", "error": self.error, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Result:
    """One call's outcome: the output (plain data) or a fault, what it printed, its CPU time."""

    output: Any = None
    printed: str = ""
    error: str | None = None
    kind: str | None = None
    cpu_ms: float = 0.0

    def frame(self) -> dict[str, Any]:
        """`output` must already be wire data (sandbox.worker.plain.to_wire)."""
        if self.error is None:
            return {"op": "result", "output": self.output, "printed": self.printed,
                    "cpu_ms": self.cpu_ms}  # fmt: skip
        return {"op": "result", "error": self.error, "kind": self.kind,
                "printed": self.printed, "cpu_ms": self.cpu_ms}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A `team["api"]` call: a history method or `features`, with plain arguments."""

    method: str
    args: list[Any]

    def frame(self) -> dict[str, Any]:
        return {"op": "api", "method": self.method, "args": self.args}


WorkerFrame = Ready | Loaded | Result | ApiRequest


def decode_worker_frame(payload: bytes) -> WorkerFrame:
    """The one way the host reads a worker's frame: strict, bounded, never recursive."""
    if len(payload) > MAX_WORKER_FRAME:
        raise FrameRefusedError(f"a frame of {len(payload):,} bytes exceeds {MAX_WORKER_FRAME:,}")
    try:
        message = orjson.loads(payload)  # orjson refuses nesting over 1,024 levels
    except orjson.JSONDecodeError as error:
        raise FrameRefusedError(f"the frame is not JSON ({error})") from None
    if type(message) is not dict:
        raise FrameRefusedError("the frame is not a JSON object")
    op = message.get("op")
    decoder = _DECODERS.get(op) if type(op) is str else None
    if decoder is None:
        raise FrameRefusedError(f"unknown frame kind {_short(op)}")
    return decoder(message)


def _ready(message: dict[str, Any]) -> Ready:
    _fields(message, required={"op", "pid", "layers"})
    layers = message["layers"]
    if type(layers) is not list or len(layers) > MAX_LAYERS:
        raise FrameRefusedError(f"layers must be a list of at most {MAX_LAYERS}")
    checked = []
    for layer in layers:
        if type(layer) is not dict:
            raise FrameRefusedError("a layer must be an object")
        _fields(layer, required={"name", "active", "detail"})
        checked.append(
            {
                "name": _text(layer, "name", 64),
                "active": _flag(layer, "active"),
                "detail": _text(layer, "detail", MAX_DETAIL_CHARS),
            }
        )
    return Ready(_integer(message, "pid"), tuple(checked))


def _loaded(message: dict[str, Any]) -> Loaded:
    if "error" not in message:
        _fields(message, required={"op"})
        return Loaded()
    _fields(message, required={"op", "error", "kind"})
    return Loaded(_text(message, "error", MAX_ERROR_CHARS), _kind(message, LOAD_FAULTS))


def _result(message: dict[str, Any]) -> Result:
    cpu_ms = message.get("cpu_ms")
    if type(cpu_ms) not in (int, float) or not 0 <= cpu_ms <= MAX_CPU_MS:
        raise FrameRefusedError(f"cpu_ms must be a number from 0 to {MAX_CPU_MS:g}")
    printed = _text(message, "printed", MAX_PRINTED_CHARS) if "printed" in message else ""
    if "error" in message:
        _fields(message, required={"op", "error", "kind", "cpu_ms"}, optional={"printed"})
        error = _text(message, "error", MAX_ERROR_CHARS)
        return Result(None, printed, error, _kind(message, CALL_FAULTS), float(cpu_ms))
    _fields(message, required={"op", "output", "printed", "cpu_ms"})
    output = plain_data(message["output"], MAX_DEPTH, MAX_ITEMS, "output")
    return Result(output, printed, None, None, float(cpu_ms))


def _api(message: dict[str, Any]) -> ApiRequest:
    _fields(message, required={"op", "method", "args"})
    method = message["method"]
    if type(method) is not str or method not in HISTORY_METHODS:
        raise FrameRefusedError(f"unknown history method {_short(method)}")
    args = message["args"]
    if type(args) is not list:
        raise FrameRefusedError("args must be a list")
    return ApiRequest(method, plain_data(args, MAX_ARG_DEPTH, MAX_ARG_ITEMS, "args"))


_DECODERS = {"ready": _ready, "loaded": _loaded, "result": _result, "api": _api}


def plain_data(value: Any, max_depth: int, max_items: int, what: str) -> Any:
    """A checked copy of JSON data: float tags turned back into floats, every limit held.

    Iterative: a worker decides how deep its data is, the host's stack does not."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]  # value, parent, slot, depth
    items = 0
    while stack:
        item, parent, slot, depth = stack.pop()
        items += 1
        if items > max_items:
            raise FrameRefusedError(f"{what} holds more than {max_items:,} items")
        kind = type(item)
        if kind is str:
            if len(item) > MAX_STRING:
                raise FrameRefusedError(f"{what} holds a string over {MAX_STRING:,} characters")
            parent[slot] = item
        elif item is None or kind in (bool, int, float):
            parent[slot] = item
        elif kind is list or kind is dict:
            if depth >= max_depth:
                raise FrameRefusedError(f"{what} is nested more than {max_depth} levels deep")
            if kind is dict and FLOAT_TAG in item:
                parent[slot] = _tagged_float(item, what)
                continue
            # Slots first, filled as the stack unwinds: a dict keeps the worker's key order.
            copy: Any = [None] * len(item) if kind is list else dict.fromkeys(item)
            parent[slot] = copy
            pairs = enumerate(item) if kind is list else item.items()
            for key, child in pairs:
                if kind is dict and len(key) > MAX_STRING:
                    raise FrameRefusedError(f"{what} holds a key over {MAX_STRING:,} characters")
                stack.append((child, copy, key, depth + 1))
        else:  # orjson gives nothing else; kept for callers that pass other data
            raise FrameRefusedError(f"{what} holds a {kind.__name__}")
    return root[0]


def _tagged_float(item: dict[str, Any], what: str) -> float:
    tag = item.get(FLOAT_TAG)
    if len(item) != 1 or type(tag) is not str or tag not in _TAGGED_FLOATS:
        raise FrameRefusedError(f"{what} holds a malformed {FLOAT_TAG} tag")
    return _TAGGED_FLOATS[tag]


# -- field checks -----------------------------------------------------------------------------


def _fields(message: dict[str, Any], required: set[str], optional: frozenset | set = frozenset()):
    missing = required - message.keys()
    extra = message.keys() - required - optional
    if missing:
        raise FrameRefusedError(f"missing field(s) {', '.join(sorted(missing))}")
    if extra:
        names = ", ".join(_short(name) for name in sorted(extra)[:5])
        raise FrameRefusedError(f"unexpected field(s) {names}")


def _text(message: dict[str, Any], name: str, limit: int) -> str:
    value = message.get(name)
    if type(value) is not str:
        raise FrameRefusedError(f"{name} must be text")
    if len(value) > limit:
        raise FrameRefusedError(f"{name} has {len(value):,} characters; at most {limit:,}")
    return value


def _integer(message: dict[str, Any], name: str) -> int:
    value = message.get(name)
    if type(value) is not int:
        raise FrameRefusedError(f"{name} must be an integer")
    return value


def _flag(message: dict[str, Any], name: str) -> bool:
    value = message.get(name)
    if type(value) is not bool:
        raise FrameRefusedError(f"{name} must be true or false")
    return value


def _kind(message: dict[str, Any], allowed: frozenset[str]) -> str:
    kind = message.get("kind")
    if type(kind) is not str or kind not in allowed:
        raise FrameRefusedError(f"kind must be one of {', '.join(sorted(allowed))}")
    return kind


def _short(value: object) -> str:
    """A worker's value in a message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- what the host sends ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    files: dict[str, str]
    entry_point: str
    params: dict[str, Any]
    allowed: list[str]
    blocked: list[str]

    def frame(self) -> dict[str, Any]:
        return {"op": "load", "files": self.files, "entry_point": self.entry_point,
                "params": self.params,
                "policy": {"allowed": self.allowed, "blocked": self.blocked}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Call:
    tick: str
    header: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        return {"op": "call", "tick": self.tick, "header": self.header}


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    data: Any = None
    error: str | None = None

    def frame(self) -> dict[str, Any]:
        if self.error is not None:
            return {"op": "api_result", "error": self.error}
        return {"op": "api_result", "data": self.data}
