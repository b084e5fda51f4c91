"""Qlib factor expressions as data: parsed, checked and put in canonical form, never run.

A team sends text such as `Corr($close, Log($volume + 1), 10)`. Qlib itself turns such
text into objects with Python's `eval`; the host must never do that with a team's text.
Here the text is checked character by character, parsed by Python's `ast` module (which
only reads it) and walked: every node must be a Qlib operator from `OPERATORS` with the
right arguments, a bar field, a number, or one of the arithmetic, comparison and logical
operators Qlib overloads (`+ - * / ** > >= < <= == != & |`). Anything else is an
`ExpressionError` saying what and where. The result is a small tree (`Op`, `Field`,
numbers) that the evaluator maps onto Qlib's operator classes by name.

Pure: no Qlib import, no I/O.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from enum import Enum

MAX_LENGTH = 400  # characters of one expression
MAX_NODES = 60  # operators, fields and numbers in one expression
MAX_DEPTH = 12  # nesting
MAX_WINDOW = 400  # the largest rolling window N (bars): a session and a little more
MAX_CONSTANT = 1e12  # numbers beyond this are typos, and overflow float32 arithmetic
FIELDS = ("open", "high", "low", "close", "volume", "vwap")


class ExpressionError(ValueError):
    """A team's expression is not one the host evaluates; the message says why."""


class Arg(Enum):
    """What an operator argument must be."""

    EXPR = "an expression"  # a field, an operator, or a number
    WINDOW = f"a whole number of bars from 1 to {MAX_WINDOW}"
    SPAN = f"a number of bars above 0 and at most {MAX_WINDOW} (below 1: the smoothing factor)"
    SCORE = "a number from 0 to 1"


E, N = Arg.EXPR, Arg.WINDOW
OPERATORS: dict[str, tuple[Arg, ...]] = {
    # element-wise
    "Abs": (E,), "Sign": (E,), "Log": (E,), "Not": (E,),
    "Power": (E, E), "Add": (E, E), "Sub": (E, E), "Mul": (E, E), "Div": (E, E),
    "Greater": (E, E), "Less": (E, E), "Gt": (E, E), "Ge": (E, E), "Lt": (E, E),
    "Le": (E, E), "Eq": (E, E), "Ne": (E, E), "And": (E, E), "Or": (E, E),
    "If": (E, E, E),
    # rolling over the last N bars
    "Ref": (E, N), "Mean": (E, N), "Sum": (E, N), "Std": (E, N), "Var": (E, N),
    "Skew": (E, N), "Kurt": (E, N), "Max": (E, N), "Min": (E, N), "IdxMax": (E, N),
    "IdxMin": (E, N), "Med": (E, N), "Mad": (E, N), "Rank": (E, N), "Count": (E, N),
    "Delta": (E, N), "Slope": (E, N), "Rsquare": (E, N), "Resi": (E, N), "WMA": (E, N),
    "EMA": (E, Arg.SPAN), "Quantile": (E, N, Arg.SCORE),
    "Corr": (E, E, N), "Cov": (E, E, N),
}  # fmt: skip
"""Qlib's expression operators a team may use, with the arguments each takes. Left out on
purpose: ChangeInstrument and Mask (they reach other instruments), TResample and the
Rolling/PairRolling bases (they take a function name)."""

_BINARY = {
    ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mul", ast.Div: "Div", ast.Pow: "Power",
    ast.BitAnd: "And", ast.BitOr: "Or",
}  # fmt: skip
_COMPARE = {ast.Gt: "Gt", ast.GtE: "Ge", ast.Lt: "Lt", ast.LtE: "Le", ast.Eq: "Eq", ast.NotEq: "Ne"}
_ALLOWED_CHARACTERS = re.compile(r"[A-Za-z0-9$.,()+\-*/<>=!&| \t]*")
_FIELD = re.compile(r"\$([A-Za-z]\w*)")
_FIELD_PREFIX = "F_"  # `$close` becomes the name F_close; a team cannot type `_` itself


@dataclass(frozen=True, slots=True)
class Field:
    name: str

    def __str__(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    args: tuple[Node, ...]

    def __str__(self) -> str:
        return f"{self.name}({','.join(_text(a) for a in self.args)})"


Node = Op | Field | int | float


def _text(node: Node) -> str:
    return repr(node) if isinstance(node, int | float) else str(node)


@dataclass(frozen=True, slots=True)
class Expression:
    """A checked expression: `key` is its canonical text (equal for equal meaning)."""

    text: str
    tree: Node

    @property
    def key(self) -> str:
        return _text(self.tree)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(_fields(self.tree))


def _fields(node: Node) -> list[str]:
    if isinstance(node, Field):
        return [node.name]
    if isinstance(node, Op):
        return [f for arg in node.args for f in _fields(arg)]
    return []


def parse_expression(text: object, fields: tuple[str, ...] = FIELDS) -> Expression:
    """Check `text` and return its tree; raises ExpressionError naming every problem found."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ExpressionError("an expression must not be empty")
    if len(stripped) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters ({len(stripped)})")
    bad = sorted(set(_ALLOWED_CHARACTERS.sub("", stripped)))
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ExpressionError(f"{stripped!r}: characters not allowed in an expression: {shown}")
    unknown = sorted({f for f in _FIELD.findall(stripped) if f not in fields})
    if unknown:
        known = " ".join(f"${f}" for f in fields)
        raise ExpressionError(
            f"{stripped!r}: unknown field {', '.join('$' + f for f in unknown)} (fields: {known})"
        )
    source = _FIELD.sub(lambda m: _FIELD_PREFIX + m.group(1), stripped)
    try:
        parsed = ast.parse(source, mode="eval")
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{stripped!r}: nested too deeply") from None
    except SyntaxError as error:
        column = f" at column {error.offset}" if error.offset else ""
        raise ExpressionError(f"{stripped!r}: not a valid expression{column}") from None
    walker = _Walker(stripped, fields)
    tree = walker.node(parsed.body, depth=1)
    return Expression(stripped, tree)


class _Walker:
    """Turns a checked `ast` tree into `Op`/`Field`/number nodes, counting as it goes."""

    def __init__(self, text: str, fields: tuple[str, ...]) -> None:
        self.text = text
        self.fields = fields
        self.nodes = 0

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        where = getattr(node, "col_offset", None)
        at = f" (at column {where + 1})" if where is not None else ""
        return ExpressionError(f"{self.text!r}: {message}{at}")

    def node(self, node: ast.AST, depth: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH}")
        match node:
            case ast.Constant(value=bool()) | ast.Constant(value=complex()):
                raise self.fail(node, f"{node.value!r} is not a number an expression may use")
            case ast.Constant(value=int() | float() as value):
                if not abs(value) <= MAX_CONSTANT:  # also refuses inf and nan
                    raise self.fail(node, f"numbers must be within ±{MAX_CONSTANT:g}")
                return value
            case ast.Name(id=name) if name.startswith(_FIELD_PREFIX):
                return Field(name[len(_FIELD_PREFIX) :])
            case ast.Name(id=name):
                raise self.fail(node, f"{name!r} is neither a field ($close...) nor a call")
            case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float() as v)):
                if isinstance(v, bool):
                    raise self.fail(node, f"{v!r} is not a number an expression may use")
                return -v
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return Op("Mul", (self.node(operand, depth + 1), -1))
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.node(operand, depth + 1)
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
                args = (self.node(left, depth + 1), self.node(right, depth + 1))
                return self._both_constant(node, Op(_BINARY[type(op)], args))
            case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in _COMPARE:
                args = (self.node(left, depth + 1), self.node(right, depth + 1))
                return self._both_constant(node, Op(_COMPARE[type(op)], args))
            case ast.Compare():
                raise self.fail(node, "chained comparisons (a < b < c) are not supported")
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
                return self.call(node, name, args, depth)
            case ast.Call(keywords=[_, *_]):
                raise self.fail(node, "operators take positional arguments only")
            case _:
                kind = type(node).__name__
                raise self.fail(node, f"{kind} is not part of Qlib's expression language")

    def _both_constant(self, node: ast.AST, op: Op) -> Op:
        if not any(isinstance(a, Op | Field) for a in op.args):
            raise self.fail(node, "an operator needs at least one field or expression")
        return op

    def call(self, node: ast.Call, name: str, args: list[ast.expr], depth: int) -> Op:
        spec = OPERATORS.get(name)
        if spec is None:
            raise self.fail(node, f"unknown operator {name!r} (see the starter kit's README)")
        if len(args) != len(spec):
            raise self.fail(node, f"{name} takes {len(spec)} argument(s), got {len(args)}")
        values = tuple(
            self.argument(name, kind, arg, depth) for kind, arg in zip(spec, args, strict=True)
        )
        exprs = [v for v, kind in zip(values, spec, strict=True) if kind is Arg.EXPR]
        if not any(isinstance(v, Op | Field) for v in exprs):
            raise self.fail(node, f"{name} needs at least one field or expression")
        return Op(name, values)

    def argument(self, name: str, kind: Arg, arg: ast.expr, depth: int) -> Node:
        value = self.node(arg, depth + 1)
        if kind is Arg.EXPR:
            return value
        if not isinstance(value, int | float) or not _fits(kind, value):
            raise self.fail(arg, f"{name}: this argument must be {kind.value}")
        return value


def _fits(kind: Arg, value: float) -> bool:
    whole = isinstance(value, int) or float(value).is_integer()
    match kind:
        case Arg.WINDOW:
            return whole and 1 <= value <= MAX_WINDOW
        case Arg.SPAN:
            return 0 < value <= MAX_WINDOW
        case Arg.SCORE:
            return 0 <= value <= 1
    return False
