"""Alembic's environment: the migrations run on the connection (and in the transaction, under the lock)
that `store.migrate.migrate` opened; nothing here connects on its own."""

from alembic import context

from store.migrate import VERSION_TABLE
from store.tables import METADATA

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=METADATA,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
