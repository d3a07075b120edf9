"""Integrations, their outbox (events and deliveries) and health check results.

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
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("next_check_at", sa.Double(), nullable=True),
        sa.Column("check_claimed_until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.UniqueConstraint("name", name="uq_integrations_name"),
    )
    op.create_table(
        "integration_events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integration_events"),
    )
    op.create_index("ix_integration_events_created_at", "integration_events", ["created_at"])
    op.create_table(
        "integration_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("integration_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("claimed_until", sa.Double(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_integration_deliveries"),
    )
    op.create_index("ix_integration_deliveries_due", "integration_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_integration_deliveries_integration", "integration_deliveries", ["integration_id", "created_at"])
    op.create_index(
        "ix_integration_deliveries_lane", "integration_deliveries", ["integration_id", "status", "next_attempt_at"]
    )
    op.create_table(
        "integration_health",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.String(32), nullable=False),
        sa.Column("checked_at", sa.Double(), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_integration_health"),
    )
    op.create_index("ix_integration_health_integration", "integration_health", ["integration_id", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_integration_health_integration", table_name="integration_health")
    op.drop_table("integration_health")
    op.drop_index("ix_integration_deliveries_lane", table_name="integration_deliveries")
    op.drop_index("ix_integration_deliveries_integration", table_name="integration_deliveries")
    op.drop_index("ix_integration_deliveries_due", table_name="integration_deliveries")
    op.drop_table("integration_deliveries")
    op.drop_index("ix_integration_events_created_at", table_name="integration_events")
    op.drop_table("integration_events")
    op.drop_table("integrations")
