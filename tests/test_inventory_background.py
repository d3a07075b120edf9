"""The inventory kept current without anyone asking: write-through after the server's own writes, the background
refresh (AWS_MCP_INVENTORY_REFRESH_MINUTES) with one replica at a time, and its stop at the drain; over
streamable HTTP against moto, on SQLite and on PostgreSQL."""

import itertools
import time

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import select

from config import ConfigError, Settings, load_settings
from fleet.provider import Fleet
from fleet.scheduler import Round, Scheduler
from guard.audit import AuditLog
from inventory import FleetResults, Inventory, Resource
from sandbox import DEFAULT_ACCOUNT
from store import open_store
from store.locks import RoundLock
from store.tables import fleet_results
from tests.aws_proxy import misbehaving_aws
from tests.conftest import ACCESS_KEY, Served, connect, serve
from tests.helpers import audit_records, ok
from tests.test_execute import invoke

pytestmark = pytest.mark.anyio

SECRETS = "secretsmanager:secret"
GROUPS = "ec2:security-group"


def fleet_of(running: Served) -> Fleet:
    return running.server.app.provider(Fleet)


async def settled(running: Served) -> None:
    """Write-through has listed everything it queued."""
    assert await anyio.to_thread.run_sync(fleet_of(running).write_through.wait_idle, 30)


def refreshing_every(settings: Settings, seconds: float) -> Settings:
    """The interval below the variable's one-minute floor, for tests only."""
    return settings.model_copy(update={"inventory_refresh_minutes": seconds / 60})


async def refresh(client, *types: str, regions: tuple[str, ...] = ("us-east-1",)) -> dict:
    return await ok(client, "refresh_inventory", accounts=[DEFAULT_ACCOUNT], regions=list(regions), types=list(types))


async def test_our_own_creations_and_deletions_show_in_the_inventory_without_a_refresh(make_settings, database_url):
    settings = make_settings(AWS_MCP_DATABASE_URL=database_url, AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true")
    with serve(settings) as running:
        async with connect(running.url) as client:
            await refresh(client, SECRETS, GROUPS, "s3:bucket")
            secret = await ok(client, "create_secret", name="db/password", secret_string="v", tags={"team": "db"})
            created = await invoke(client, "ec2", "CreateSecurityGroup", {"GroupName": "web", "Description": "w"})
            group = created["result"]
            await invoke(
                client,
                "ec2",
                "CreateTags",
                {"Resources": [group["GroupId"]], "Tags": [{"Key": "env", "Value": "prod"}]},
            )
            await invoke(client, "s3", "CreateBucket", {"Bucket": "fresh-bucket"})
            await settled(running)
            secrets = await ok(client, "query_inventory", type=SECRETS)
            prod = await ok(client, "query_inventory", tags={"env": "prod"})
            buckets = await ok(client, "query_inventory", type="s3:bucket")

            await ok(client, "delete_secret", secret_id="db/password", force_delete_without_recovery=True)
            await invoke(client, "ec2", "DeleteSecurityGroup", {"GroupId": group["GroupId"]})
            await settled(running)
            secrets_after = await ok(client, "query_inventory", type=SECRETS)
            prod_after = await ok(client, "query_inventory", tags={"env": "prod"})
            gone = await ok(client, "query_inventory", changed_since="2000-01-01T00:00:00Z", type=GROUPS)
    assert [(row["arn"], row["tags"]) for row in secrets["rows"]] == [(secret["arn"], {"team": "db"})]
    (tagged,) = prod["rows"]
    assert tagged["type"] == GROUPS and tagged["name"] == "web" and tagged["arn"].endswith(group["GroupId"])
    assert [row["name"] for row in buckets["rows"]] == ["fresh-bucket"]
    assert secrets_after["total"] == 0 and prod_after["total"] == 0
    deleted = [row for row in gone["rows"] if row["deleted_at"] is not None]
    assert [row["name"] for row in deleted] == ["web"]


async def test_a_write_into_a_partition_nobody_listed_adds_nothing(make_settings, database_url):
    with serve(make_settings(AWS_MCP_DATABASE_URL=database_url)) as running:
        async with connect(running.url) as client:
            await refresh(client, SECRETS)
            await ok(client, "create_secret", name="elsewhere", secret_string="v", region="eu-west-1")
            await invoke(client, "ec2", "CreateSecurityGroup", {"GroupName": "unlisted", "Description": "u"})
            await settled(running)
            everything = await ok(client, "query_inventory")
            status = await ok(client, "inventory_status")
    assert everything["total"] == 0
    assert [(p["region"], p["type"]) for p in status["partitions"]] == [("us-east-1", SECRETS)]


async def test_each_write_through_listing_is_audited_as_the_writer(make_settings, audit_file):
    with serve(make_settings()) as running:
        async with connect(running.url) as client:
            await refresh(client, SECRETS)
            await ok(client, "create_secret", name="audited", secret_string="not-in-the-audit")
            await settled(running)
            await ok(client, "create_secret", name="unheld", secret_string="v", region="eu-west-1")
            await settled(running)
    records = audit_records(audit_file)
    writes = [r for r in records if r["tool"] == "create_secret"]
    relisted = [r for r in records if r.get("write_through")]
    assert len(writes) == 2
    (record,) = relisted  # the second write's partition is one nobody listed: no listing, no record
    assert record["write_through"] == {
        "type": SECRETS,
        "account": DEFAULT_ACCOUNT,
        "region": "us-east-1",
        "after": "secretsmanager:CreateSecret",
    }
    assert (record["tool"], record["background"], record["outcome"]) == ("refresh_inventory", True, "ok")
    assert (record["principal"], record["role"]) == (writes[0]["principal"], writes[0]["role"])
    assert "not-in-the-audit" not in audit_file.read_text()


async def test_a_failing_relisting_fails_neither_the_tool_call_nor_the_partition(make_settings, caplog):
    with misbehaving_aws(make_settings().endpoint_url) as (proxy, aws):
        aws.keys[ACCESS_KEY] = DEFAULT_ACCOUNT
        with serve(make_settings(AWS_ENDPOINT_URL=proxy, AWS_MCP_MAX_ATTEMPTS="1")) as running:
            async with connect(running.url) as client:
                await refresh(client, SECRETS)
                aws.refused.add("secretsmanager.ListSecrets")
                created = await ok(client, "create_secret", name="unseen", secret_string="not-in-any-log")
                await settled(running)
                listed = await ok(client, "query_inventory", type=SECRETS)
    assert created["name"] == "unseen"
    assert listed["total"] == 0 and listed["failed_partitions"] == []
    warnings = [record.getMessage() for record in caplog.records if "write-through" in record.getMessage()]
    assert any("AccessDeniedException" in message for message in warnings)
    assert not any("not-in-any-log" in message for message in warnings)


async def test_the_background_refresh_lists_held_partitions_again_as_the_server(
    make_settings, database_url, audit_file, aws
):
    settings = refreshing_every(make_settings(AWS_MCP_DATABASE_URL=database_url), 0.5)
    with serve(settings) as running:
        async with connect(running.url) as client:
            await refresh(client, SECRETS)
            arn = aws().client("secretsmanager").create_secret(Name="made-outside", SecretString="v")["ARN"]
            found = None
            with anyio.fail_after(20):
                while found is None or found["total"] == 0:
                    await anyio.sleep(0.2)
                    found = await ok(client, "query_inventory", type=SECRETS)
    assert found["rows"][0]["arn"] == arn
    rounds = [r for r in audit_records(audit_file) if r["principal"] == "system:inventory"]
    assert {(r["tool"], r["role"], r["background"], r["outcome"]) for r in rounds} == {
        ("refresh_inventory", "viewer", True, "ok")
    }
    assert any(r["fleet"]["listings"] == 1 and r["fleet"]["resources"] == {SECRETS: 1} for r in rounds)


async def test_replicas_sharing_a_database_refresh_one_at_a_time(make_settings, database_url):
    with misbehaving_aws(make_settings().endpoint_url) as (proxy, aws):
        aws.keys[ACCESS_KEY] = DEFAULT_ACCOUNT
        settings = make_settings(AWS_MCP_DATABASE_URL=database_url, AWS_ENDPOINT_URL=proxy)
        with serve(refreshing_every(settings, 0.2)) as first, serve(refreshing_every(settings, 0.2)) as second:
            async with connect(first.url) as client:
                await refresh(client, SECRETS, regions=("us-east-1", "eu-west-1"))
            aws.delay = 0.3  # a round now lasts longer than the interval: replicas would overlap without the lock
            await anyio.sleep(4)
            aws.delay = 0
            rounds = [(name, r) for name, served in (("first", first), ("second", second)) for r in rounds_of(served)]
    ran = sorted(((name, r) for name, r in rounds if r.ran), key=lambda pair: pair[1].started)
    assert len(ran) >= 3 and any(not r.ran for _, r in rounds)
    overlaps = [(a, b) for (_, a), (_, b) in itertools.pairwise(ran) if b.started < a.finished]
    assert overlaps == []


def rounds_of(running: Served) -> list[Round]:
    return list(fleet_of(running).scheduler.rounds)


async def test_the_drain_stops_a_background_round_at_once(make_settings, audit_file):
    with misbehaving_aws(make_settings().endpoint_url) as (proxy, aws):
        aws.keys[ACCESS_KEY] = DEFAULT_ACCOUNT
        settings = refreshing_every(make_settings(AWS_ENDPOINT_URL=proxy), 0.2)
        with serve(settings) as running:
            async with connect(running.url) as client:
                await refresh(client, SECRETS)
            aws.delay = 5.0
            await anyio.sleep(0.5)  # a round that began before is over: any listing from now on is held up
            listed = aws.calls("secretsmanager")
            with anyio.fail_after(10):
                while aws.calls("secretsmanager") == listed:
                    await anyio.sleep(0.05)
            began = time.monotonic()
            running.server.app.runtime.drain.begin()
            with anyio.fail_after(5):
                while not any(r.outcome == "cancelled" for r in rounds_of(running)):
                    await anyio.sleep(0.05)
            stopped = time.monotonic() - began
            aws.delay = 0
    assert stopped < 1.5
    cancelled = [r for r in audit_records(audit_file) if r["principal"] == "system:inventory"]
    assert cancelled[-1]["outcome"] == "cancelled"


async def test_one_holder_of_a_round_lock_at_a_time_across_connections(make_settings, database_url):
    settings = make_settings(AWS_MCP_DATABASE_URL=database_url)
    one, other = open_store(settings), open_store(settings)
    try:
        first, second = RoundLock(one, "test"), RoundLock(other, "test")
        assert first.try_acquire()
        assert not second.try_acquire() and not RoundLock(one, "test").try_acquire()
        unrelated = RoundLock(other, "another name")
        assert unrelated.try_acquire()
        unrelated.release()
        first.release()
        assert second.try_acquire()
        second.release()
    finally:
        one.close()
        other.close()


async def test_housekeeping_purges_what_expired_and_marks_partitions_the_refresh_missed_stale(
    make_settings, database_url, tmp_path
):
    day = 86400.0
    now = [1_700_000_000.0]
    store = open_store(make_settings(AWS_MCP_DATABASE_URL=database_url))
    inventory, results = Inventory(store, clock=lambda: now[0]), FleetResults(store, clock=lambda: now[0])
    secret = Resource(f"arn:aws:secretsmanager:us-east-1:{DEFAULT_ACCOUNT}:secret:x", DEFAULT_ACCOUNT, "us-east-1",
                      "secretsmanager", SECRETS, "x", {}, {})  # fmt: skip

    def scheduler(refresh_days: float) -> Scheduler:
        audit = AuditLog(str(tmp_path / "audit.jsonl"))
        return Scheduler(lambda _: anyio.sleep(0), inventory, results, store, audit, refresh_days * day)

    try:
        inventory.record_partition(DEFAULT_ACCOUNT, "us-east-1", SECRETS, [secret], complete=True)
        now[0] += day
        inventory.record_partition(DEFAULT_ACCOUNT, "us-east-1", SECRETS, [], complete=True)  # x: a tombstone
        now[0] += 8 * day
        inventory.record_partition(DEFAULT_ACCOUNT, "eu-west-1", SECRETS, [], complete=True)
        expired = results.save("jwt:alice", {}, [1], ttl_seconds=60)
        now[0] += 120
        kept = results.save("jwt:alice", {}, [2], ttl_seconds=3600)

        await scheduler(0).housekeep()  # no background refresh: nothing says how old is too old
        first = {(p["region"], p["status"]) for p in inventory.status().partitions}
        await scheduler(1).housekeep()
        second = {(p["region"], p["status"]) for p in inventory.status().partitions}
        status = inventory.status()
        with store.reading() as connection:
            handles = set(connection.execute(select(fleet_results.c.handle)).scalars())
        assert handles == {kept} and expired not in handles
    finally:
        store.close()
    assert status.tombstones == 0 and inventory.query(changed_since=0).total == 0
    assert first == {("us-east-1", "ok"), ("eu-west-1", "ok")}
    assert second == {("us-east-1", "stale"), ("eu-west-1", "ok")}


@pytest.mark.parametrize("minutes", ["0.5", "-1", "nan", "20000"])
def test_a_refresh_interval_below_a_minute_or_beyond_a_week_stops_start_up(minutes: str) -> None:
    with pytest.raises(ConfigError, match="AWS_MCP_INVENTORY_REFRESH_MINUTES"):
        load_settings({"AWS_MCP_INVENTORY_REFRESH_MINUTES": minutes}, env_file=None)
