"""Where the state lives and how to reach it: the URL from the settings, one engine, migrated at open.

SQLite: a file (default `state.db` under AWS_MCP_STATE_DIR), WAL so readers never wait on the writer,
a busy timeout so writers queue instead of failing, and every transaction opened with BEGIN IMMEDIATE
(the write lock up front: no deadlock between two transactions that both read, then write).
PostgreSQL: psycopg 3, connections checked before use and opened with a timeout.
"""

import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from config import ConfigError, Settings

log = logging.getLogger("aws_ops_mcp.store")

URL_VARIABLE = "AWS_MCP_DATABASE_URL"
DIRECTORY_VARIABLE = "AWS_MCP_STATE_DIR"
SQLITE_FILE = "state.db"
BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another's lock (replicas' migrations, bursts of redemptions)."""
CONNECT_TIMEOUT_SECONDS = 10
"""How long a PostgreSQL connection attempt may take before start-up (or a call) gives up."""
BACKENDS = ("sqlite", "postgresql")


class StoreUnavailable(Exception):
    """The state database did not answer; the message says so without the URL's password."""


class Store:
    """One engine on the state database. Blocking: call it from worker threads only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def location(self) -> str:
        """The URL with its password hidden, for logs and errors."""
        return safe_url(self.engine.url)

    @contextmanager
    def transaction(self, durable: bool = True, cache_mib: int | None = None) -> Iterator[Connection]:
        """One transaction, committed on success; database failures come out as `StoreUnavailable`.

        `durable=False` is for state that can be rebuilt (the inventory, listed again from AWS): its commit
        does not wait for the disk (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit off), so a power
        loss may roll back its last commits, never corrupt them. A commit waits ~20-70 ms for an fsync on
        ordinary disks: more than the writes of a thousand resources.

        `cache_mib` (SQLite; with `durable=False`): the connection's page cache for this transaction only, for
        bulk writes spread over large indexes (SQLite's default 2 MiB rereads the same pages all the time);
        the pages above the default are freed when it ends."""
        try:
            with self.engine.connect() as connection:
                if durable:
                    with connection.begin():
                        yield connection
                elif self.backend == "sqlite":
                    driver = connection.connection.dbapi_connection
                    assert driver is not None
                    (cache_size,) = driver.execute("PRAGMA cache_size").fetchone()
                    driver.execute("PRAGMA synchronous = NORMAL")  # outside a transaction: the driver opens none
                    if cache_mib is not None:
                        driver.execute(f"PRAGMA cache_size = {-int(cache_mib) * 1024}")
                    try:
                        with connection.begin():
                            yield connection
                    finally:
                        driver.execute("PRAGMA synchronous = FULL")
                        driver.execute(f"PRAGMA cache_size = {int(cache_size)}")
                else:
                    with connection.begin():
                        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                        yield connection
        except DBAPIError as exc:
            raise StoreUnavailable(f"the state database {self.location} failed: {first_line(exc.orig)}") from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no connection to the state database {self.location} came free") from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read-only transaction: a consistent snapshot across its statements. On SQLite it begins
        DEFERRED, so it takes no write lock and a long read never makes a writer wait (WAL)."""
        try:
            with self.engine.connect() as connection:
                connection.execution_options(read_only=True)
                with connection.begin():
                    yield connection
        except DBAPIError as exc:
            raise StoreUnavailable(f"the state database {self.location} failed: {first_line(exc.orig)}") from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no connection to the state database {self.location} came free") from exc

    def insert_new(self, connection: Connection, table: Table, row: Mapping[str, Any]) -> bool:
        """Insert `row` unless its key is already there (INSERT ... ON CONFLICT DO NOTHING): True when this call
        inserted it. Atomic on both backends, so of concurrent callers exactly one gets True."""
        dialect_insert = sqlite_insert if self.backend == "sqlite" else postgresql_insert
        key = next(iter(table.primary_key.columns))
        statement = dialect_insert(table).values(dict(row)).on_conflict_do_nothing().returning(key)
        return connection.execute(statement).first() is not None  # a row comes back only when inserted

    def close(self) -> None:
        self.engine.dispose()


def database_url(settings: Settings) -> URL:
    """AWS_MCP_DATABASE_URL, else a SQLite file in the state directory. Bare `postgresql://` means psycopg 3."""
    if settings.database_url is None:
        return URL.create("sqlite", database=str(settings.state_directory / SQLITE_FILE))
    try:
        url = make_url(settings.database_url.strip())
    except ArgumentError:
        raise ConfigError(
            f"{URL_VARIABLE} is not a database URL: expected sqlite:///path/to/state.db or "
            "postgresql+psycopg://user:password@host:5432/database"
        ) from None
    if url.get_backend_name() not in BACKENDS:
        raise ConfigError(
            f"{URL_VARIABLE}: {url.get_backend_name()!r} is not supported; use sqlite:///path or postgresql+psycopg://..."
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError(
            f"{URL_VARIABLE}={url.drivername}:// is an in-memory database, private to one connection: "
            "name a file (sqlite:///path/to/state.db)"
        )
    return url


def connect(url: URL, variable: str = URL_VARIABLE) -> Store:
    """An engine on `url`, tuned for its backend. Connects lazily; `ConfigError` for a URL it cannot use."""
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_connected)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            arguments = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "aws-ops-mcp"}
            arguments = {k: v for k, v in arguments.items() if k not in url.query}
            engine = create_engine(url, pool_pre_ping=True, connect_args=arguments)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"{variable}: cannot use {safe_url(url)}: {exc}") from None
    return Store(engine)


def open_store(settings: Settings) -> Store:
    """The state database the settings name, migrated to this code's schema (see `store.migrate`).

    Raises `ConfigError` naming the variable when it cannot be opened, so the server does not start.
    """
    from store.migrate import SchemaTooNew, migrate

    url = database_url(settings)
    variable = URL_VARIABLE if settings.database_url is not None else DIRECTORY_VARIABLE
    if settings.database_url is None:
        try:
            settings.state_directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{DIRECTORY_VARIABLE}: cannot create {settings.state_directory}: {exc.strerror}"
            ) from None
    store = connect(url, variable)
    try:
        revision = migrate(store.engine)
    except (SQLAlchemyError, SchemaTooNew) as exc:
        store.close()
        reason = first_line(exc.orig) if isinstance(exc, DBAPIError) else first_line(exc)
        raise ConfigError(f"{variable}: cannot open the state database {store.location}: {reason}") from None
    log.info("state database %s at schema revision %s", store.location, revision)
    return store


def safe_url(url: URL) -> str:
    """`url` fit for a log line: the password (in the URL or in its query, as libpq allows) replaced by ***."""
    query = {key: "***" if "pass" in key.lower() else value for key, value in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver opens no transactions; _sqlite_begin does
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        mode = _journal_mode_wal(cursor)
        if str(mode).lower() != "wal":
            log.warning("the state database cannot use WAL (journal mode %s): readers will wait on writers", mode)
    finally:
        cursor.close()


def _journal_mode_wal(cursor: Any) -> str:
    """Turning a new file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once, without
    waiting out the busy timeout, while another process (a replica starting beside this one) holds the file:
    retried within BUSY_TIMEOUT_SECONDS. Once the file is in WAL the pragma is a read and never busy."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get("read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
