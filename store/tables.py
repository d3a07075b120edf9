"""The schema, as the code reads and writes it. A change here needs a migration in `migrations/versions/`;
tests/test_store.py checks that the migrations build exactly these tables, on SQLite and PostgreSQL."""

from sqlalchemy import BigInteger, Column, MetaData, String, Table

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
