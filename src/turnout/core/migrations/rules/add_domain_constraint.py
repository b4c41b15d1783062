"""add-domain-constraint: checking a domain constraint locks every table using the domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

from turnout.core.migrations.ast import strings
from turnout.core.migrations.rules.base import Context, Hit, Rule

_ADD, _VALIDATE = "C", "V"  # AlterDomainStmt.subtype codes


def check(ctx: Context) -> Iterator[Hit]:
    node: Any = ctx.node
    if not isinstance(node, ast.AlterDomainStmt):
        return
    domain = ".".join(strings(node.typeName))
    con: Any = node.def_
    adds = node.subtype == _ADD and con is not None and not con.skip_validation
    if adds or node.subtype == _VALIDATE:
        what = "adding" if adds else "validating"
        yield Hit(
            f"{what} a constraint on domain {domain} reads every value of every column of that "
            "domain, holding SHARE on each table (writes wait)"
        )


RULE = Rule(
    id="add-domain-constraint",
    category="locking",
    summary="ALTER DOMAIN ... ADD CONSTRAINT (without NOT VALID) or VALIDATE CONSTRAINT",
    why=(
        "PostgreSQL checks a domain constraint against every stored value of every column "
        "that uses the domain, holding SHARE on each of those tables: writes to all of them "
        "wait. Unlike a table constraint, VALIDATE CONSTRAINT on a domain takes the same "
        "SHARE lock, so NOT VALID followed by VALIDATE does not help."
    ),
    fix=(
        "Put the rule on the tables instead: a table CHECK constraint added NOT VALID and "
        "validated in a separate transaction (SHARE UPDATE EXCLUSIVE). If it must be a "
        "domain constraint, add it NOT VALID and check old values with a query, not VALIDATE."
    ),
    unsafe="ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0);",
    safe=(
        "ALTER TABLE payments ADD CONSTRAINT payments_amount_positive "
        "CHECK (amount > 0) NOT VALID;\n"
        "ALTER TABLE payments VALIDATE CONSTRAINT payments_amount_positive;"
    ),
    check=check,
)
