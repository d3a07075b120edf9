"""The fleet inventory (resources, their tags, the listings' partitions) and stored fleet query results.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_resources",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("name", sa.String(1024), nullable=True),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("partition_region", sa.String(32), nullable=False),
        sa.Column("partition_type", sa.String(128), nullable=False),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("arn", name="pk_inventory_resources"),
    )
    op.create_index("ix_inventory_resources_changed_at", "inventory_resources", ["changed_at"])
    op.create_index(
        "ix_inventory_resources_deleted_at",
        "inventory_resources",
        ["deleted_at"],
        sqlite_where=sa.text("deleted_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index("ix_inventory_resources_type_live", "inventory_resources", ["type", "deleted_at", "arn"])
    op.create_index("ix_inventory_resources_type_count", "inventory_resources", ["type", "deleted_at"])
    op.create_index(
        "ix_inventory_resources_partition",
        "inventory_resources",
        ["account", "partition_region", "partition_type", "deleted_at"],
    )
    op.create_table(
        "inventory_tags",
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("arn", "key", name="pk_inventory_tags"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_inventory_tags_key_value", "inventory_tags", ["key", "value", "live", "arn"])
    op.create_table(
        "inventory_partitions",
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_attempt", sa.Double(), nullable=False),
        sa.Column("last_success", sa.Double(), nullable=True),
        sa.Column("resource_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "region", "type", name="pk_inventory_partitions"),
    )
    op.create_table(
        "fleet_results",
        sa.Column("handle", sa.String(32), nullable=False),
        sa.Column("principal", sa.String(512), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("handle", name="pk_fleet_results"),
    )
    op.create_index("ix_fleet_results_expires_at", "fleet_results", ["expires_at"])
    op.create_table(
        "fleet_result_items",
        sa.Column("handle", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("handle", "position", name="pk_fleet_result_items"),
    )


def downgrade() -> None:
    op.drop_table("fleet_result_items")
    op.drop_index("ix_fleet_results_expires_at", table_name="fleet_results")
    op.drop_table("fleet_results")
    op.drop_table("inventory_partitions")
    op.drop_index("ix_inventory_tags_key_value", table_name="inventory_tags")
    op.drop_table("inventory_tags")
    op.drop_index("ix_inventory_resources_type_count", table_name="inventory_resources")
    op.drop_index("ix_inventory_resources_type_live", table_name="inventory_resources")
    op.drop_index("ix_inventory_resources_partition", table_name="inventory_resources")
    op.drop_index("ix_inventory_resources_deleted_at", table_name="inventory_resources")
    op.drop_index("ix_inventory_resources_changed_at", table_name="inventory_resources")
    op.drop_table("inventory_resources")
