"""The schema, as the code reads and writes it. A change here needs a migration in `migrations/versions/`;
tests/test_store.py checks that the migrations build exactly these tables, on SQLite and PostgreSQL."""

from sqlalchemy import BigInteger, Boolean, Column, Double, Index, Integer, MetaData, String, Table, Text, text

METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

spent_confirmations = Table(
    "spent_confirmations",  # confirmation tokens already used: single use across every replica
    METADATA,
    Column("nonce", String(64), primary_key=True),  # the token's random nonce (not the token)
    Column("expires_at", BigInteger, nullable=False, index=True),  # the token's expiry, epoch seconds
)

# The fleet inventory (inventory/store.py). Times are epoch seconds as floats (DOUBLE PRECISION): sub-second
# order between a listing and a write-through matters, and staleness is reported in seconds.
inventory_resources = Table(
    "inventory_resources",  # one row per AWS resource seen by a listing or one of the server's own writes
    METADATA,
    Column("arn", String(2048), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),  # the resource's region, or "global"
    Column("service", String(64), nullable=False),
    Column("type", String(128), nullable=False),  # service:kind, "ec2:instance"
    Column("name", String(1024)),
    Column("properties", Text, nullable=False),  # JSON object
    Column("digest", String(32), nullable=False),  # of name, tags and properties: change detection, one compare
    Column("partition_region", String(32), nullable=False),  # the listing the row was last seen in
    Column("partition_type", String(128), nullable=False),
    Column("first_seen", Double, nullable=False),
    Column("last_seen", Double, nullable=False),
    Column("changed_at", Double, nullable=False, index=True),  # name, tags or properties changed, deleted, revived
    Column("deleted_at", Double),  # a tombstone: gone from a complete listing, or deleted by a tool
    Index("ix_inventory_resources_type_live", "type", "deleted_at", "arn"),  # a type's pages, in arn order
    Index("ix_inventory_resources_type_count", "type", "deleted_at"),  # its count: a quarter of the bytes to read
    Index(  # tombstones only: a few rows, where a full index would cost every insert
        "ix_inventory_resources_deleted_at",
        "deleted_at",
        sqlite_where=text("deleted_at IS NOT NULL"),
        postgresql_where=text("deleted_at IS NOT NULL"),
    ),
    Index("ix_inventory_resources_partition", "account", "partition_region", "partition_type", "deleted_at"),
)

inventory_tags = Table(
    "inventory_tags",
    METADATA,
    Column("arn", String(2048), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
    Column("live", Boolean, nullable=False),  # its resource's deleted_at IS NULL, copied: counts need no join
    Index("ix_inventory_tags_key_value", "key", "value", "live", "arn"),
    sqlite_with_rowid=False,  # the primary key is the table: one b-tree fewer per tag written
)

inventory_partitions = Table(
    "inventory_partitions",  # one listing: (account, region, type); its rows are those with that partition
    METADATA,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("type", String(128), primary_key=True),
    Column("status", String(16), nullable=False),  # ok, failed, stale
    Column("error", Text),
    Column("last_attempt", Double, nullable=False),
    Column("last_success", Double),
    Column("resource_count", Integer, nullable=False),  # its live rows after the last listing
)

fleet_results = Table(
    "fleet_results",  # a fleet query's result too large for one answer, paged by whoever ran it
    METADATA,
    Column("handle", String(32), primary_key=True),
    Column("principal", String(512), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
    Column("summary", Text, nullable=False),  # JSON object
    Column("item_count", Integer, nullable=False),
)

fleet_result_items = Table(
    "fleet_result_items",
    METADATA,
    Column("handle", String(32), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("item", Text, nullable=False),  # JSON
)

# Integrations (integrations/): where the audit stream's events go, and the outbox that delivers them.
integrations = Table(
    "integrations",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # CONFIGURING, TESTING, ACTIVE, ERROR, INACTIVE, DEPRECATED
    Column("state_reason", Text),
    Column("enabled", Boolean, nullable=False),
    Column("definition", Text, nullable=False),  # JSON: the integration as created or replaced, secrets left out
    Column("secrets", Text, nullable=False),  # JSON: webhook signing secrets and auth credentials; never shown
    Column("revision", Integer, nullable=False),  # bumped on every change: the API's ETag
    Column("failures", Integer, nullable=False),  # consecutive failed deliveries or health checks
    Column("successes", Integer, nullable=False),  # consecutive good ones
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("next_check_at", Double),  # the next health check; NULL: none configured
    Column("check_claimed_until", Double),  # the replica running the check holds it until then
)

integration_events = Table(
    "integration_events",  # what the audit stream said, redacted: written with its deliveries in one transaction
    METADATA,
    Column("id", String(32), primary_key=True),  # the webhook-id: stable across retries and replays
    Column("type", String(64), nullable=False),
    Column("created_at", Double, nullable=False, index=True),
    Column("payload", Text, nullable=False),  # JSON
)

integration_deliveries = Table(
    "integration_deliveries",  # one event to one integration: the outbox
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("integration_id", String(32), nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("claimed_until", Double),  # a worker's claim; an expired claim (a killed replica) is taken over
    Column("claimed_by", String(64)),
    Column("last_status", Integer),  # the receiver's last HTTP status, if any
    Column("last_error", Text),
    Column("created_at", Double, nullable=False),
    Column("delivered_at", Double),
    Index("ix_integration_deliveries_due", "status", "next_attempt_at"),
    Index("ix_integration_deliveries_integration", "integration_id", "created_at"),
    Index("ix_integration_deliveries_lane", "integration_id", "status", "next_attempt_at"),
)

integration_health = Table(
    "integration_health",  # health check results, the latest few per integration
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("integration_id", String(32), nullable=False),
    Column("checked_at", Double, nullable=False),
    Column("healthy", Boolean, nullable=False),
    Column("status", Integer),
    Column("latency_ms", Double),
    Column("error", Text),
    Index("ix_integration_health_integration", "integration_id", "checked_at"),
)
