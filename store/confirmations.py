"""Spent confirmation tokens, shared: a token redeemed on one replica is refused on every other.

The token itself (HMAC-signed, guard/confirm.py) says what it confirms and until when; this table only
remembers which nonces were used. Rows are purged a while after their token expired (the grace covers
clock skew between replicas: a replica whose clock is behind still refuses a purged token as expired).
"""

import threading
import time
from collections.abc import Callable

from sqlalchemy import delete

from store.database import Store
from store.tables import spent_confirmations

PURGE_EVERY_SECONDS = 60.0
"""At most one purge per process per minute, after a redemption: no background task, no extra round trip
on most redemptions."""
PURGE_GRACE_SECONDS = 300
"""Rows stay this long past their token's expiry."""


class SpentConfirmations:
    """The spent-token set of `ConfirmationTokens`, in the store. Blocking: call from a worker thread."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def spend(self, nonce: str, expires_at: int) -> bool:
        """Record the nonce as used; False when it already was, on this replica or any other. Atomic."""
        with self._store.transaction() as connection:
            spent_now = self._store.insert_new(
                connection, spent_confirmations, {"nonce": nonce, "expires_at": expires_at}
            )
        self._purge_now_and_then()
        return spent_now

    def purge(self) -> int:
        """Forget tokens that expired more than the grace period ago; returns how many."""
        cutoff = int(self._clock()) - PURGE_GRACE_SECONDS
        with self._store.transaction() as connection:
            return connection.execute(
                delete(spent_confirmations).where(spent_confirmations.c.expires_at < cutoff)
            ).rowcount

    def _purge_now_and_then(self) -> None:
        now = self._clock()
        with self._purge_lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_EVERY_SECONDS
        self.purge()
