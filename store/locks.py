"""One replica at a time for shared periodic work (the inventory's background refresh).

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) taken on a connection held until `release`; a replica
that does not get it skips its round instead of waiting, and one that dies releases it with its connection.
SQLite: the database of one process, so a lock in this process (per database and name) is enough.
Blocking: call from worker threads.
"""

import hashlib
import threading

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from store.database import Store, StoreUnavailable, first_line

_LOCAL: dict[tuple[str, str], threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def advisory_key(name: str) -> int:
    """A signed 64-bit key of our own, derived from the name (the migration lock's way)."""
    return int.from_bytes(hashlib.sha256(f"aws-ops-mcp/{name}".encode()).digest()[:8], "big", signed=True)


class RoundLock:
    """Taken with `try_acquire` (False: another holder has it), given back with `release`."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name
        self._connection: Connection | None = None
        self._local: threading.Lock | None = None

    def try_acquire(self) -> bool:
        if self._store.backend != "postgresql":
            with _LOCAL_GUARD:
                lock = _LOCAL.setdefault((self._store.location, self._name), threading.Lock())
            if not lock.acquire(blocking=False):
                return False
            self._local = lock
            return True
        try:
            connection = self._store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            raise StoreUnavailable(f"the state database {self._store.location} failed: {first_line(exc.orig)}") from exc
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self._name)}
            ).scalar_one()
        except DBAPIError as exc:
            connection.invalidate()
            connection.close()
            raise StoreUnavailable(f"the state database {self._store.location} failed: {first_line(exc.orig)}") from exc
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        if self._local is not None:
            lock, self._local = self._local, None
            lock.release()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self._name)})
            except DBAPIError:
                connection.invalidate()  # the session ends, and its locks with it
            finally:
                connection.close()
