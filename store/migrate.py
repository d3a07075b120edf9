"""Alembic migrations, run at start-up by `open_store`, one process at a time.

Every replica migrates when it starts; they queue on a lock held for the whole upgrade, so the first
one creates or upgrades the schema and the others find it current. PostgreSQL: a transaction-scoped
advisory lock (DDL is transactional there, so a failed upgrade leaves nothing behind). SQLite: the
upgrade runs inside BEGIN IMMEDIATE, the database's write lock. A database already at `HEAD` is not
handed to Alembic at all (its import alone costs ~0.2 s of every start-up).

A new table (or column) is a new file in `migrations/versions/` whose `down_revision` is the latest
one, written by hand (see 0001), the matching change in `tables.py`, and `HEAD` moved to it.
"""

import hashlib
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

log = logging.getLogger("aws_ops_mcp.store")

HEAD = "0003"
"""The latest revision in migrations/versions/ (tests/test_store.py keeps the two equal)."""
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "aws_ops_mcp_schema_version"
"""Alembic's version table, named for this server so a database shared with other applications is safe."""
ADVISORY_LOCK = int.from_bytes(hashlib.sha256(b"aws-ops-mcp/store/migrations").digest()[:8], "big", signed=True)


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of this server."""


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The head of the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> str:
    """Upgrade the database to `HEAD` under the migration lock, unless it is there already; returns `HEAD`."""
    with engine.begin() as connection:
        if current_revision(connection) == HEAD:
            return HEAD
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        before = current_revision(connection)
        if before == HEAD:  # another replica migrated while this one waited for the lock
            return HEAD
        _upgrade(connection, before)
    log.info("state database migrated from %s to %s", before or "empty", HEAD)
    return HEAD


def _upgrade(connection: Connection, before: str | None) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(connection), HEAD)
    except CommandError as exc:
        raise SchemaTooNew(
            f"its schema revision {before!r} is unknown to this server (whose latest is {HEAD!r}): "
            "was it migrated by a newer version?"
        ) from exc
