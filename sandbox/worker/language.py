"""The language strategy code may use: RestrictedPython's transformer ("policy" in its
terms) with this arena's refusals and rewrites (attribute refusals of `policy`, checked
calls, decorators applied through the guards)."""

from __future__ import annotations

import ast
import re
from typing import Any

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, copy_locations

from sandbox.worker.policy import is_private_name

# Names the generated code uses; a team's `_name` must never shadow them.
_RESERVED_NAME = re.compile(r"_print|_tmp\d*|.*_")
# Dunder methods a strategy's classes may define besides RestrictedPython's own few.
_EXTRA_METHODS = frozenset(
    {"__repr__", "__str__", "__len__", "__iter__", "__getitem__", "__hash__", "__bool__",
     "__post_init__"}
)  # fmt: skip


class StrategyPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer, relaxed where strategies need it and no guard is lost.

    - `_helper` names and `self._state` attributes (single underscore): the runtime guard
      lets them reach only the strategy's own objects; dunders stay refused.
    - `super().__init__(...)`.
    - `x: int = 0` (dataclasses) and `self.n += 1` / `d[k] += 1`, rewritten through the
      same `_getattr_`/`_getitem_`/`_write_`/`_inplacevar_` guards.
    """

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and is_private_name(name) and not _RESERVED_NAME.fullmatch(name):
            return
        extra = allow_magic_methods and name in _EXTRA_METHODS and node.col_offset != 0
        if not extra:
            super().check_name(node, name, allow_magic_methods)

    def _check_attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        super_init = (
            attr == "__init__"
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "super"
        )
        if attr.startswith("_") and attr != "_" and not is_private_name(attr) and not super_init:
            self.error(node, f'"{attr}" is an invalid attribute name because it starts with "_".')
        if attr.endswith("__roles__"):
            self.error(
                node, f'"{attr}" is an invalid attribute name because it ends with "__roles__".'
            )
        if attr in INSPECT_ATTRIBUTES:
            self.error(
                node,
                f'"{attr}" is a restricted name, that is forbidden to access in RestrictedPython.',
            )

    def visit_Attribute(self, node: ast.Attribute) -> Any:  # noqa: N802
        self._check_attribute(node)
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            return _located(_call("_getattr_", node.value, ast.Constant(node.attr)), node)
        node.value = _located(_call("_write_", node.value), node.value)
        return node

    def visit_Call(self, node: ast.Call) -> Any:  # noqa: N802
        """Every call becomes `_apply_(f, ...)`: the callee, its arguments and its result are
        checked (sandbox.worker.values), whatever the callee is and however it was reached.

        `super()` without arguments stays a plain call: it finds its class and instance in
        the calling frame, which must be the method's own."""
        zero_arg_super = (
            isinstance(node.func, ast.Name)
            and node.func.id == "super"
            and not node.args
            and not node.keywords
        )
        node = super().visit_Call(node)
        if zero_arg_super:
            return node
        if isinstance(node.func, ast.Name) and node.func.id == "_apply_":
            return node  # RestrictedPython's own rewrite of f(*args, **kwargs)
        call = ast.Call(ast.Name("_apply_", ast.Load()), [node.func, *node.args], node.keywords)
        return _located(call, node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:  # noqa: N802
        return _checked_decorators(super().visit_FunctionDef(node))

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> Any:  # noqa: N802
        return _checked_decorators(super().visit_AsyncFunctionDef(node))

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:  # noqa: N802
        return _checked_decorators(super().visit_ClassDef(node))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:  # noqa: N802
        return self.node_contents_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:  # noqa: N802
        target = node.target
        if isinstance(target, ast.Name):
            return super().visit_AugAssign(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        value = self.visit(node.value)
        obj, obj_tmp = self.visit(target.value), self.gen_tmp_name()
        setup = [ast.Assign([ast.Name(obj_tmp, ast.Store())], obj)]
        holder = _call("_write_", ast.Name(obj_tmp, ast.Load()))
        if isinstance(target, ast.Attribute):
            self._check_attribute(target)
            current = _call("_getattr_", ast.Name(obj_tmp, ast.Load()), ast.Constant(target.attr))
            store: ast.expr = ast.Attribute(holder, target.attr, ast.Store())
        else:
            key_tmp = self.gen_tmp_name()
            setup.append(ast.Assign([ast.Name(key_tmp, ast.Store())], self.visit(target.slice)))
            key = ast.Name(key_tmp, ast.Load())
            current = _call("_getitem_", ast.Name(obj_tmp, ast.Load()), key)
            store = ast.Subscript(holder, ast.Name(key_tmp, ast.Load()), ast.Store())
        update = ast.Assign([store], _call("_inplacevar_", op, current, value))
        temps = [ast.Name(n.targets[0].id, ast.Del()) for n in setup]  # type: ignore[attr-defined]
        # Temporaries are deleted afterwards, as RestrictedPython does for its own.
        block = ast.Try(
            body=[*setup, update], handlers=[], orelse=[], finalbody=[ast.Delete(temps)]
        )
        return _located(block, node)


def _checked_decorators(node: Any) -> Any:
    """`@d` becomes `@_decorate_(d)`: the interpreter applies a decorator without a call in
    the source, so what `_decorate_` returns makes that application a checked call too."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        node.decorator_list = [
            _located(_call("_decorate_", decorator), decorator) for decorator in node.decorator_list
        ]
    return node


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(func, ast.Load()), list(args), [])


def _located(new: Any, old: ast.AST) -> Any:
    """Give generated nodes the position of the node they replace."""
    for child in ast.walk(new):
        if "lineno" in child._attributes and not hasattr(child, "lineno"):
            copy_locations(child, old)
    return new
