"""The rule catalogue. Each module holds one rule; ids are stable and never reused."""

from __future__ import annotations

from turnout.core.migrations.rules import (
    add_column_rewrite,
    add_domain_constraint,
    add_required_column,
    change_column_type,
    concurrently_in_transaction,
    constraint_not_valid,
    create_index_concurrently,
    drop_column,
    drop_database,
    drop_index_concurrently,
    drop_not_null,
    drop_table,
    integer_primary_key,
    lock_held_across_statements,
    lock_timeout,
    rename_column,
    rename_table,
    set_not_null,
    statement_timeout,
    table_rewrite,
    transaction_nesting,
    truncate_cascade,
    uncommitted_transaction,
    unique_without_index,
    unused_suppression,
)
from turnout.core.migrations.rules.base import Context, Hit, Rule

__all__ = ["RULES", "RULES_BY_ID", "Context", "Hit", "Rule"]

RULES: tuple[Rule, ...] = (
    add_column_rewrite.RULE,
    change_column_type.RULE,
    set_not_null.RULE,
    constraint_not_valid.RULE,
    create_index_concurrently.RULE,
    drop_index_concurrently.RULE,
    unique_without_index.RULE,
    table_rewrite.RULE,
    add_domain_constraint.RULE,
    lock_timeout.RULE,
    statement_timeout.RULE,
    lock_held_across_statements.RULE,
    concurrently_in_transaction.RULE,
    transaction_nesting.RULE,
    uncommitted_transaction.RULE,
    rename_column.RULE,
    rename_table.RULE,
    drop_column.RULE,
    drop_table.RULE,
    add_required_column.RULE,
    drop_not_null.RULE,
    truncate_cascade.RULE,
    drop_database.RULE,
    integer_primary_key.RULE,
    unused_suppression.RULE,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
