"""account email, indexed without blocking writes

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET lock_timeout = '2s'")
    op.execute("SET statement_timeout = '30s'")
    op.add_column("accounts", sa.Column("email", sa.Text, nullable=True))
    with op.get_context().autocommit_block():
        op.create_index("accounts_email_idx", "accounts", ["email"], postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_column("accounts", "email")
