"""index account names (unsafe: blocks writes while the index builds)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET lock_timeout = '2s'")
    op.execute("SET statement_timeout = '30s'")
    op.create_index("accounts_name_idx", "accounts", ["name"])


def downgrade() -> None:
    op.drop_index("accounts_name_idx")
