"""The server's own state, shared by every replica that points at the same database.

SQLite (WAL) in a file under AWS_MCP_STATE_DIR by default; any SQLite or PostgreSQL URL in AWS_MCP_DATABASE_URL, so
replicas (or processes on one host) share it. The schema is declared in `tables.py` and created by Alembic
migrations (`migrations/versions/`) that `open_store` runs at start-up, one replica at a time. One module per kind
of state (`confirmations.py`: spent confirmation tokens); `locks.py`: one replica at a time for periodic work.
Every call blocks: run it in a worker thread, never on the event loop. Nothing holding AWS credentials is ever
written here.
"""

from store.confirmations import SpentConfirmations
from store.database import Store, StoreUnavailable, open_store

__all__ = ["SpentConfirmations", "Store", "StoreUnavailable", "open_store"]
