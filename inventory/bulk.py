"""INSERT ... ON CONFLICT DO UPDATE for many rows in one round trip, below SQLAlchemy's per-row work.

SQLite: one prepared statement run by the driver's executemany. PostgreSQL: one statement over `unnest` of one
array per column (a thousand rows, one parse, one round trip), where executemany would send a statement per row.
Rows are tuples in the order of `columns`; no two rows of one call may share a conflict key.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Connection, Double, Integer, Table

POSTGRESQL_ARRAYS = {Boolean: "boolean[]", Double: "float8[]", Integer: "int4[]"}


def upsert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: Sequence[str],
    update: Sequence[str],
    set_literal: dict[str, str] | None = None,
) -> None:
    """Insert `rows`; a row whose `conflict` key exists updates `update` columns from it (and `set_literal`:
    column → SQL, for constants)."""
    if not rows:
        return
    assignments = [f"{name} = excluded.{name}" for name in update]
    assignments += [f"{name} = {value}" for name, value in (set_literal or {}).items()]
    on_conflict = f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(assignments)}"
    names = ", ".join(columns)
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks}) {on_conflict}", list(rows))
        return
    arrays = ", ".join(f"%s::{_array_type(table, name)}" for name in columns)
    statement = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}"
    connection.exec_driver_sql(statement, tuple(list(values) for values in zip(*rows, strict=True)))


def select_in(
    connection: Connection, table: Table, columns: Sequence[str], key: str, values: Sequence[Any]
) -> Sequence[tuple[Any, ...]]:
    """`columns` of the rows whose `key` is one of `values`, as plain tuples: no expanding IN list for SQLAlchemy
    to render per call, no Row objects. SQLite: one ? per value (at most 32,766); PostgreSQL: `= ANY` of one array."""
    if not values:
        return []
    names = ", ".join(columns)
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(values))
        statement, parameters = f"SELECT {names} FROM {table.name} WHERE {key} IN ({marks})", tuple(values)
    else:
        statement = f"SELECT {names} FROM {table.name} WHERE {key} = ANY(%s::{_array_type(table, key)})"
        parameters = (list(values),)
    return connection.exec_driver_sql(statement, parameters).tuples().all()


def _array_type(table: Table, column: str) -> str:
    kind = type(table.c[column].type)
    return next((array for base, array in POSTGRESQL_ARRAYS.items() if issubclass(kind, base)), "text[]")
