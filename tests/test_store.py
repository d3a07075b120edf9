"""The state database, on a SQLite file and on a real PostgreSQL (tests/postgres.py): the schema the migrations
build, migrations run once however many replicas start together, and spent confirmation tokens that stay
spent whichever replica, thread or process redeems them."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from config import ConfigError, load_settings
from core.calls import AwsCall, ResolvedTarget
from guard.confirm import ConfirmationTokens, TokenRejected
from store import SpentConfirmations, Store, StoreUnavailable, open_store
from store.confirmations import PURGE_GRACE_SECONDS
from store.database import safe_url
from store.migrate import HEAD, VERSION_TABLE, current_revision, head_revision
from store.tables import METADATA, spent_confirmations
from tests.repo import ROOT

SECRET = "a-confirmation-secret-shared-by-replicas"


def opened(url: str) -> Store:
    return open_store(load_settings({"AWS_MCP_DATABASE_URL": url}, env_file=None))


def delete_secret_call(name: str = "doomed") -> AwsCall:
    return AwsCall(ResolvedTarget(region="us-east-1"), "secretsmanager", "DeleteSecret", {"SecretId": name})


def test_the_migrations_build_exactly_the_tables_the_code_declares(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert head_revision() == HEAD, "store/migrate.py HEAD must name the latest migration"
    with store.engine.connect() as connection:
        assert current_revision(connection) == HEAD
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, METADATA) == []
        assert set(inspect(connection).get_table_names()) == {*METADATA.tables, VERSION_TABLE}


def test_migrating_again_changes_nothing_and_keeps_the_data(database_url):
    first = opened(database_url)
    SpentConfirmations(first).spend("kept", int(time.time()) + 60)
    first.close()
    again = opened(database_url)
    with again.engine.connect() as connection:
        assert current_revision(connection) == HEAD
        assert connection.execute(select(spent_confirmations.c.nonce)).scalars().all() == ["kept"]
    again.close()


def test_a_database_migrated_by_a_newer_server_stops_startup(database_url):
    newer = opened(database_url)
    with newer.transaction() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    newer.close()
    with pytest.raises(ConfigError, match=r"AWS_MCP_DATABASE_URL: .*'9999' is unknown to this server .* newer"):
        opened(database_url)


MIGRATING_PROCESS = """
import json, sys, time
from pathlib import Path
import store.migrate
from config import load_settings
from store import open_store

folder = Path(sys.argv[1])
upgrade = store.migrate._upgrade


def slow_upgrade(connection, before):  # widens the window in which another replica could interfere
    upgrade(connection, before)
    time.sleep(2.0)
    print(json.dumps({"upgraded": True}), flush=True)


store.migrate._upgrade = slow_upgrade
settings = load_settings(env_file=None)
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
started = time.time()
open_store(settings).close()
print(json.dumps({"started": started, "finished": time.time()}), flush=True)
"""


def test_replicas_starting_together_migrate_once_one_at_a_time(database_url, tmp_path):
    """Three processes open one empty database at the same instant. One migrates (and holds the lock two seconds
    longer than it needs); the others wait for it, then find the schema current. Without the lock the loser of
    the race would fail on CREATE TABLE, or run the migration a second time."""
    environment = {**os.environ, "AWS_MCP_DATABASE_URL": database_url}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATING_PROCESS, str(tmp_path), str(number)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(3)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(children):
        assert time.monotonic() < deadline and all(child.poll() is None for child in children)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    reports = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        reports.append([json.loads(line) for line in out.splitlines()])
    upgraded = [report for report in reports if {"upgraded": True} in report]
    assert len(upgraded) == 1
    migration_done = upgraded[0][-1]["finished"]
    waiters = [report[-1] for report in reports if report is not upgraded[0]]
    assert all(waiter["finished"] >= migration_done - 0.05 for waiter in waiters), "one went on before the schema"
    assert any(waiter["started"] < migration_done - 1.0 for waiter in waiters), "no replica overlapped the migration"
    check = opened(database_url)
    with check.engine.connect() as connection:
        assert current_revision(connection) == HEAD
    check.close()


def test_a_token_spent_through_one_store_is_refused_through_another(database_url):
    """Two engines on one database are two replicas: the nonce is the key, whichever writes it first wins."""
    replicas = [opened(database_url), opened(database_url)]
    tokens = [ConfirmationTokens(SECRET, 300, spent=SpentConfirmations(replica)) for replica in replicas]
    call = delete_secret_call()
    issued = tokens[0].issue(call, "alice")
    tokens[1].redeem(issued.token, call, "alice")
    with pytest.raises(TokenRejected, match="already used"):
        tokens[0].redeem(issued.token, call, "alice")
    with pytest.raises(TokenRejected, match="already used"):
        tokens[1].redeem(issued.token, call, "alice")
    tokens[0].redeem(tokens[1].issue(call, "alice").token, call, "alice")  # another token is another nonce
    for replica in replicas:
        replica.close()


def test_one_token_redeemed_by_many_threads_at_once_succeeds_exactly_once(database_url):
    """16 threads over 4 replicas (engines), released together by a barrier, all redeem the same token."""
    replicas = [opened(database_url) for _ in range(4)]
    tokens = [ConfirmationTokens(SECRET, 300, spent=SpentConfirmations(replica)) for replica in replicas]
    call = delete_secret_call()
    token = tokens[0].issue(call, "alice").token
    threads = 16
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def redeem(number: int) -> None:
        barrier.wait()
        try:
            tokens[number % len(tokens)].redeem(token, call, "alice")
            outcomes.append("redeemed")
        except TokenRejected as refused:
            outcomes.append(str(refused))

    workers = [threading.Thread(target=redeem, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes.count("redeemed") == 1
    assert len(outcomes) == threads and all("already used" in o for o in outcomes if o != "redeemed")
    for replica in replicas:
        replica.close()


def test_spent_tokens_are_purged_only_well_after_they_expire(store):
    now = [1_000_000.0]
    spent = SpentConfirmations(store, clock=lambda: now[0])
    assert spent.spend("expired-long-ago", int(now[0]) - PURGE_GRACE_SECONDS - 1)
    assert spent.spend("expired-just-now", int(now[0]) - 1)
    assert spent.spend("still-valid", int(now[0]) + 60)
    with store.engine.connect() as connection:
        left = set(connection.execute(select(spent_confirmations.c.nonce)).scalars())
    assert left == {"expired-just-now", "still-valid"}  # the first spend purged; a clock a little behind is covered
    assert not spent.spend("expired-just-now", int(now[0]) - 1)
    now[0] += 30
    assert spent.spend("another", int(now[0]) + 60)  # no purge within the minute: one round trip per redemption
    now[0] += PURGE_GRACE_SECONDS + 120
    assert spent.spend("later", int(now[0]) + 60)
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(spent_confirmations)).scalar() == 1


def test_a_database_that_stops_answering_raises_store_unavailable_without_the_password(postgres):
    url = postgres.fresh_database("going_away")
    replica = opened(url.replace("postgres:@", "postgres:hunter2-not-shown@"))  # trust auth ignores the password
    spent = SpentConfirmations(replica)
    assert spent.spend("before", int(time.time()) + 60)
    postgres.drop("going_away")
    with pytest.raises(StoreUnavailable) as failed:
        spent.spend("after", int(time.time()) + 60)
    assert "going_away" in str(failed.value) and "hunter2" not in str(failed.value)
    replica.close()


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"AWS_MCP_DATABASE_URL": "not a url"}, "AWS_MCP_DATABASE_URL"),
        ({"AWS_MCP_DATABASE_URL": "mysql://u:p@127.0.0.1/state"}, "AWS_MCP_DATABASE_URL"),
        ({"AWS_MCP_DATABASE_URL": "sqlite://"}, "AWS_MCP_DATABASE_URL"),
        ({"AWS_MCP_DATABASE_URL": "sqlite:////no/such/folder/state.db"}, "AWS_MCP_DATABASE_URL"),
        ({"AWS_MCP_STATE_DIR": "/proc/version"}, "AWS_MCP_STATE_DIR"),
    ],
)
def test_an_unusable_state_database_is_a_configuration_error_naming_the_variable(environment, variable):
    with pytest.raises(ConfigError, match=variable):
        open_store(load_settings(environment, env_file=None))


def test_the_default_database_is_a_wal_sqlite_file_in_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    default = open_store(load_settings({}, env_file=None))
    try:
        assert Path(default.engine.url.database) == tmp_path / "xdg" / "aws-ops-mcp" / "state.db"
        assert (tmp_path / "xdg" / "aws-ops-mcp").stat().st_mode & 0o077 == 0
        with default.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        default.close()


def test_a_database_url_is_logged_without_its_passwords():
    url = make_url("postgresql+psycopg://ops:first-pw@db:5432/state?password=second-pw&sslmode=require")
    shown = safe_url(url)
    assert "first-pw" not in shown and "second-pw" not in shown and "sslmode=require" in shown


def test_a_non_durable_transaction_commits_and_leaves_the_connection_durable(store):
    with store.transaction(durable=False) as connection:
        connection.execute(spent_confirmations.insert().values(nonce="rebuildable", expires_at=1))
    with store.engine.connect() as connection:
        assert connection.execute(select(spent_confirmations.c.nonce)).scalars().all() == ["rebuildable"]
        if store.backend == "sqlite":  # the pool hands the same connection back: FULL (2) again
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        else:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_a_bulk_sqlite_transaction_gets_its_page_cache_and_gives_it_back(tmp_path):
    store = opened(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with store.engine.connect() as connection:
            default = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        with store.transaction(durable=False, cache_mib=16) as connection:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -16 * 1024 != default
            connection.execute(spent_confirmations.insert().values(nonce="bulk", expires_at=1))
        with store.engine.connect() as connection:  # the pool hands the same connection back
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == default
            assert connection.execute(select(spent_confirmations.c.nonce)).scalars().all() == ["bulk"]
    finally:
        store.close()
