"""Small helpers over pglast's AST: walking nodes and reading names and constants.

pglast ships no type information, so node values are typed ``Any`` here and the
helpers return plain Python values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

__all__ = ["const_value", "func_name", "strings", "walk"]


def walk(node: Any) -> Iterator[Any]:
    """Every AST node under ``node`` (itself included), depth first."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)
        return
    if not isinstance(node, ast.Node):
        return
    yield node
    slots: Any = type(node).__slots__  # type: ignore[attr-defined]
    for attr in slots:
        value = getattr(node, attr, None)
        if isinstance(value, (ast.Node, list, tuple)):
            yield from walk(value)


def strings(names: Any) -> tuple[str, ...]:
    """The ``sval`` of each ``String`` in a name list such as ``funcname``."""
    return tuple(str(n.sval) for n in names or () if isinstance(n, ast.String))


def func_name(call: Any) -> str:
    """``FuncCall`` → its unqualified, lower-case name (``pg_catalog.now`` → ``now``)."""
    names = strings(call.funcname)
    return names[-1].lower() if names else ""


def const_value(node: Any) -> str | int | float | bool | None:
    """The value of an ``A_Const`` (or a signed integer constant); None when not a constant."""
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return None
        val: Any = node.val
        if isinstance(val, ast.Integer):
            return int(getattr(val, "ival", 0))
        if isinstance(val, ast.Float):
            return float(getattr(val, "fval", "0"))
        if isinstance(val, ast.Boolean):
            return bool(val.boolval)
        if isinstance(val, ast.String):
            return str(val.sval)
    return None
