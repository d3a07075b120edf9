"""Spent confirmation tokens: one row per token used, kept until a while after it expires.

Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_confirmations",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_spent_confirmations"),
    )
    op.create_index("ix_spent_confirmations_expires_at", "spent_confirmations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_spent_confirmations_expires_at", table_name="spent_confirmations")
    op.drop_table("spent_confirmations")
