"""The inventory's storage, on a SQLite file and on a real PostgreSQL: listings as partitions (complete ones
tombstone what vanished, failed ones keep everything and say so), write-through, queries with exact totals and
stable cursors, staleness, and fleet results only their principal can page."""

import pytest
from sqlalchemy import select

from inventory import FleetResults, Inventory, PartitionOutcome, Resource, ResultNotFound
from store import Store
from store.tables import fleet_result_items, inventory_resources
from tests.conftest import Clock

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
DAY = 86400.0


@pytest.fixture
def inventory(store: Store, clock: Clock) -> Inventory:
    return Inventory(store, clock=clock)


def instance(number: int, account: str = ACCOUNT, region: str = "us-east-1", **changes) -> Resource:
    fields = {
        "arn": f"arn:aws:ec2:{region}:{account}:instance/i-{number:04d}",
        "account": account,
        "region": region,
        "service": "ec2",
        "type": "ec2:instance",
        "name": f"web-{number}",
        "tags": {"env": "prod" if number % 2 else "dev", "team": "payments"},
        "properties": {"state": "running", "size": "t3.micro"},
    }
    return Resource(**{**fields, **changes})


def bucket(name: str, region: str) -> Resource:
    return Resource(f"arn:aws:s3:::{name}", ACCOUNT, region, "s3", "s3:bucket", name, {"env": "prod"}, {})


def list_instances(inventory: Inventory, resources, complete: bool = True, **kw) -> PartitionOutcome:
    return inventory.record_partition(ACCOUNT, "us-east-1", "ec2:instance", resources, complete=complete, **kw)


def by_arn(page) -> dict[str, dict]:
    return {row["arn"]: row for row in page.rows}


def test_a_second_listing_tells_changed_rows_from_unchanged_ones(inventory, clock):
    assert list_instances(inventory, [instance(1), instance(2), instance(3)]) == PartitionOutcome(added=3)
    clock.advance(60)
    again = [instance(1), instance(2, name="renamed"), instance(3, properties={"state": "stopped"})]
    assert list_instances(inventory, again) == PartitionOutcome(updated=2, unchanged=1)
    rows = by_arn(inventory.query(type="ec2:instance"))
    first, second, third = (rows[instance(number).arn] for number in (1, 2, 3))
    assert first["changed_at"] == first["first_seen"] == clock.now - 60 and first["last_seen"] == clock.now
    assert second["changed_at"] == clock.now and second["name"] == "renamed" and second["first_seen"] == clock.now - 60
    assert third["properties"] == {"state": "stopped"} and third["changed_at"] == clock.now


def test_tags_are_replaced_not_merged(inventory, clock):
    list_instances(inventory, [instance(1, tags={"env": "prod", "owner": "ana"})])
    clock.advance(1)
    assert list_instances(inventory, [instance(1, tags={"env": "prod", "cost": "42"})]).updated == 1
    (row,) = inventory.query(tags={"env": "prod"}).rows
    assert row["tags"] == {"env": "prod", "cost": "42"} and row["changed_at"] == clock.now
    assert inventory.query(tags={"owner": None}).total == 0
    assert inventory.query(tags={"cost": None}).total == 1


def test_a_complete_listing_tombstones_what_vanished(inventory, clock):
    list_instances(inventory, [instance(number) for number in range(1, 5)])
    clock.advance(60)
    assert list_instances(inventory, [instance(1), instance(2)]) == PartitionOutcome(unchanged=2, deleted=2)
    live = inventory.query(type="ec2:instance")
    assert live.total == 2 and set(by_arn(live)) == {instance(1).arn, instance(2).arn}
    assert inventory.query(tags={"team": "payments"}).total == 2
    everything = inventory.query(type="ec2:instance", include_deleted=True)
    assert everything.total == 4
    assert by_arn(everything)[instance(3).arn]["deleted_at"] == clock.now
    assert inventory.query(tags={"team": "payments"}, include_deleted=True).total == 4
    assert inventory.status().tombstones == 2


def test_a_failed_listing_keeps_every_row_and_is_reported_beside_answers(inventory, clock):
    list_instances(inventory, [instance(1), instance(2), instance(3)])
    succeeded = clock.now
    clock.advance(600)
    failed = list_instances(inventory, [instance(1, name="renamed")], complete=False, error="Throttling: slow down")
    assert failed == PartitionOutcome(updated=1)
    page = inventory.query(type="ec2:instance")
    assert page.total == 3 and by_arn(page)[instance(1).arn]["name"] == "renamed"
    assert page.failed_partitions == [
        {
            "account": ACCOUNT,
            "region": "us-east-1",
            "type": "ec2:instance",
            "status": "failed",
            "error": "Throttling: slow down",
            "last_success": succeeded,
        }
    ]
    assert page.max_staleness_seconds == 600
    (partition,) = inventory.status().partitions
    assert partition["last_attempt"] == clock.now and partition["resource_count"] == 3
    assert inventory.query(account=OTHER_ACCOUNT).failed_partitions == []
    assert inventory.query(type="sqs:queue").failed_partitions == []
    clock.advance(60)
    list_instances(inventory, [instance(1)])
    recovered = inventory.query(type="ec2:instance")
    assert recovered.total == 1 and recovered.failed_partitions == [] and recovered.max_staleness_seconds == 0


def test_tombstones_answer_changed_since_and_are_purged_after_a_week(inventory, clock):
    list_instances(inventory, [instance(1), instance(2), instance(3)])
    clock.advance(DAY)
    yesterday = clock.now
    clock.advance(DAY)
    assert list_instances(inventory, [instance(1), instance(2, name="new")]).deleted == 1
    changed = inventory.query(changed_since=yesterday)
    assert changed.total == 2
    rows = by_arn(changed)
    assert rows[instance(3).arn]["deleted_at"] == clock.now and rows[instance(2).arn]["deleted_at"] is None
    assert inventory.query(changed_since=clock.now + 1).total == 0
    clock.advance(6 * DAY)
    assert inventory.purge_tombstones() == 0
    clock.advance(DAY + 1)
    assert inventory.purge_tombstones() == 1
    assert inventory.query(include_deleted=True).total == 2
    assert inventory.status().tombstones == 0


def test_a_resource_that_reappears_is_revived(inventory, clock):
    list_instances(inventory, [instance(1), instance(2)])
    clock.advance(60)
    list_instances(inventory, [instance(1)])
    clock.advance(60)
    assert list_instances(inventory, [instance(1), instance(2)]) == PartitionOutcome(added=1, unchanged=1)
    row = by_arn(inventory.query(tags={"team": "payments"}))[instance(2).arn]
    assert row["deleted_at"] is None and row["changed_at"] == clock.now and row["first_seen"] == clock.now - 120
    assert inventory.status().tombstones == 0


def test_write_through_upserts_and_deletions_show_at_once(inventory, clock):
    list_instances(inventory, [instance(1)])
    clock.advance(5)
    inventory.upsert([instance(2), instance(1, name="resized")])
    page = inventory.query(type="ec2:instance")
    assert page.total == 2 and by_arn(page)[instance(1).arn]["name"] == "resized"
    inventory.mark_deleted([instance(1).arn, "arn:aws:ec2:us-east-1:111111111111:instance/i-never"])
    assert [row["arn"] for row in inventory.query(tags={"team": "payments"}).rows] == [instance(2).arn]
    assert inventory.query(changed_since=clock.now).total == 2


def test_a_listing_tombstones_nothing_written_while_it_ran(inventory, clock):
    list_instances(inventory, [instance(1), instance(3)])
    clock.advance(60)
    began = inventory.now()  # a long listing starts; it will find instance 1 only
    clock.advance(5)
    list_instances(inventory, [instance(1), instance(2), instance(3)])  # a write-through meanwhile: 2 was created
    clock.advance(5)
    outcome = list_instances(inventory, [instance(1)], listed_since=began)
    live = inventory.query(type="ec2:instance")
    assert sorted(by_arn(live)) == [instance(1).arn, instance(2).arn, instance(3).arn] and outcome.deleted == 0
    clock.advance(5)
    assert list_instances(inventory, [instance(1)], listed_since=inventory.now()).deleted == 2  # the control


def test_holds_names_only_partitions_a_listing_recorded(inventory):
    assert not inventory.holds(ACCOUNT, "us-east-1", "ec2:instance") and inventory.partition_keys() == []
    inventory.upsert([instance(1)])
    assert not inventory.holds(ACCOUNT, "us-east-1", "ec2:instance")
    list_instances(inventory, [], complete=False, error="AccessDenied")
    inventory.record_partition(ACCOUNT, "global", "s3:bucket", [], complete=True)
    assert inventory.holds(ACCOUNT, "us-east-1", "ec2:instance") and not inventory.holds(
        ACCOUNT, "eu-west-1", "ec2:instance"
    )
    assert inventory.partition_keys() == [(ACCOUNT, "global", "s3:bucket"), (ACCOUNT, "us-east-1", "ec2:instance")]


def test_s3_buckets_listed_once_per_account_keep_their_own_region(inventory, clock):
    inventory.upsert([bucket("made-by-a-tool", "eu-west-1")])  # its own partition until a listing claims it
    clock.advance(10)
    listed = [bucket("made-by-a-tool", "eu-west-1"), bucket("logs", "us-east-1")]
    assert inventory.record_partition(ACCOUNT, "global", "s3:bucket", listed, complete=True).added == 1
    clock.advance(10)
    assert inventory.record_partition(ACCOUNT, "global", "s3:bucket", listed[1:], complete=True).deleted == 1
    assert inventory.query(region="eu-west-1").total == 0
    clock.advance(30)
    page = inventory.query(region="us-east-1", type="s3:bucket")
    assert [row["name"] for row in page.rows] == ["logs"] and page.max_staleness_seconds == 30


def test_a_tagging_api_listing_does_not_take_rows_from_their_own_listing(inventory, clock):
    list_instances(inventory, [instance(1)])
    clock.advance(10)
    tagged = [instance(1), instance(2)]
    assert inventory.record_partition(ACCOUNT, "us-east-1", "tagged", tagged, complete=True).added == 1
    assert inventory.record_partition(ACCOUNT, "us-east-1", "tagged", [], complete=True).deleted == 1
    assert [row["arn"] for row in inventory.query().rows] == [instance(1).arn]


FLEET = [
    instance(number, account=account, region=region, name=name, tags=tags)
    for number, (account, region, name, tags) in enumerate(
        [
            (ACCOUNT, "us-east-1", "web-a", {"env": "prod", "team": "payments"}),
            (ACCOUNT, "us-east-1", "Web-B", {"env": "dev", "team": "payments"}),
            (ACCOUNT, "eu-west-1", "db_1", {"env": "prod", "team": "core"}),
            (ACCOUNT, "eu-west-1", "db%2", {"env": "prod"}),
            (OTHER_ACCOUNT, "us-east-1", "web-c", {"env": "prod", "team": "core"}),
            (OTHER_ACCOUNT, "eu-west-1", None, {"team": "payments"}),
            (OTHER_ACCOUNT, "eu-west-1", "batch", {}),
        ]
    )
] + [
    Resource(
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue-{n}", ACCOUNT, "us-east-1", "sqs", "sqs:queue", f"q{n}", {"env": "prod"}
    )
    for n in range(3)
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"type": "ec2:instance"}, lambda r: r.type == "ec2:instance"),
        ({"account": OTHER_ACCOUNT}, lambda r: r.account == OTHER_ACCOUNT),
        ({"region": "eu-west-1"}, lambda r: r.region == "eu-west-1"),
        ({"tags": {"env": "prod"}}, lambda r: r.tags.get("env") == "prod"),
        ({"tags": {"team": None}}, lambda r: "team" in r.tags),
        (
            {"tags": {"env": "prod", "team": "core"}},
            lambda r: r.tags.get("env") == "prod" and r.tags.get("team") == "core",
        ),
        ({"tags": {"env": "prod", "team": None}}, lambda r: r.tags.get("env") == "prod" and "team" in r.tags),
        ({"name_contains": "web"}, lambda r: "web" in (r.name or "").lower()),
        ({"name_contains": "_"}, lambda r: "_" in (r.name or "")),
        ({"name_contains": "%"}, lambda r: "%" in (r.name or "")),
        (
            {"type": "ec2:instance", "region": "us-east-1", "tags": {"env": "prod"}},
            lambda r: r.type == "ec2:instance" and r.region == "us-east-1" and r.tags.get("env") == "prod",
        ),
        (
            {"account": ACCOUNT, "tags": {"team": "payments"}, "name_contains": "B"},
            lambda r: r.account == ACCOUNT and r.tags.get("team") == "payments" and "b" in (r.name or "").lower(),
        ),
        ({"tags": {"env": "nope"}}, lambda r: False),
    ],
)
def test_each_filter_and_their_combinations_match_exactly(inventory, filters, expected):
    inventory.upsert(FLEET)
    wanted = sorted(resource.arn for resource in FLEET if expected(resource))
    page = inventory.query(**filters)
    assert page.total == len(wanted)
    assert [row["arn"] for row in page.rows] == wanted
    small = inventory.query(**filters, limit=2)
    assert small.total == len(wanted) and len(small.rows) == min(2, len(wanted))
    assert (small.next_cursor is None) == (len(wanted) <= 2)


def test_rows_carry_every_field(inventory, clock):
    inventory.upsert([instance(7)])
    (row,) = inventory.query().rows
    assert row == {
        "arn": instance(7).arn,
        "account": ACCOUNT,
        "region": "us-east-1",
        "service": "ec2",
        "type": "ec2:instance",
        "name": "web-7",
        "tags": {"env": "prod", "team": "payments"},
        "properties": {"state": "running", "size": "t3.micro"},
        "first_seen": clock.now,
        "last_seen": clock.now,
        "changed_at": clock.now,
        "deleted_at": None,
    }


def test_a_cursor_pages_every_row_once_while_rows_are_inserted(inventory):
    inventory.upsert(instance(number) for number in range(0, 50, 2))
    seen: list[str] = []
    page = inventory.query(tags={"team": "payments"}, limit=10)
    assert page.total == 25
    seen += [row["arn"] for row in page.rows]
    inventory.upsert([instance(1), instance(49), instance(51)])  # one before the cursor, two after
    while page.next_cursor:
        page = inventory.query(tags={"team": "payments"}, limit=10, cursor=page.next_cursor)
        seen += [row["arn"] for row in page.rows]
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert set(seen) == {instance(n).arn for n in range(0, 50, 2)} | {instance(49).arn, instance(51).arn}
    assert page.total == 28


def test_a_tampered_or_foreign_cursor_is_refused(inventory):
    inventory.upsert(instance(number) for number in range(5))
    cursor = inventory.query(type="ec2:instance", limit=2).next_cursor
    assert cursor
    tampered = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for bad in (tampered, "not-a-cursor", cursor[:10], ""):
        with pytest.raises(ValueError, match="invalid cursor"):
            inventory.query(type="ec2:instance", limit=2, cursor=bad)
    with pytest.raises(ValueError, match="other filters"):
        inventory.query(type="sqs:queue", limit=2, cursor=cursor)
    with pytest.raises(ValueError, match="limit"):
        inventory.query(limit=0)


def test_staleness_is_that_of_the_oldest_listing_the_filter_covers(inventory, clock):
    assert inventory.query().max_staleness_seconds is None
    list_instances(inventory, [instance(1)])
    clock.advance(100)
    inventory.record_partition(ACCOUNT, "eu-west-1", "ec2:instance", [instance(2, region="eu-west-1")], complete=True)
    clock.advance(20)
    assert inventory.query().max_staleness_seconds == 120
    assert inventory.query(region="eu-west-1").max_staleness_seconds == 20
    assert inventory.query(account=OTHER_ACCOUNT).max_staleness_seconds is None
    assert inventory.mark_stale(older_than_seconds=60) == 1
    (stale,) = inventory.query(region="us-east-1").failed_partitions
    assert stale["status"] == "stale" and stale["region"] == "us-east-1"


def test_status_counts_live_rows_per_type(inventory, clock):
    inventory.upsert(FLEET)
    list_instances(inventory, [instance(0)])
    clock.advance(5)
    inventory.record_partition(ACCOUNT, "us-east-1", "sqs:queue", [], complete=False, error="AccessDenied")
    status = inventory.status()
    assert status.counts_by_type == {"ec2:instance": 6, "sqs:queue": 3}  # i-0001 left the us-east-1 listing
    assert status.total == 9 and status.tombstones == 1 and status.oldest_success == clock.now - 5
    assert [(p["type"], p["status"], p["error"]) for p in status.partitions] == [
        ("ec2:instance", "ok", None),
        ("sqs:queue", "failed", "AccessDenied"),
    ]


def test_a_large_listing_is_written_in_chunks_and_tombstones_in_chunks(inventory, clock):
    assert list_instances(inventory, (instance(number) for number in range(2500))).added == 2500
    clock.advance(1)
    assert list_instances(inventory, (instance(number) for number in range(1200))).deleted == 1300
    assert inventory.query(type="ec2:instance").total == 1200
    assert inventory.query(tags={"team": "payments"}).total == 1200


def test_fleet_results_are_paged_by_their_principal_only(store, clock):
    results = FleetResults(store, clock=clock)
    items = [{"account": ACCOUNT, "index": number} for number in range(2500)]
    handle = results.save("alice", {"accounts": 1, "errors": []}, items, ttl_seconds=600)
    assert len(handle) >= 22 and handle.replace("-", "").replace("_", "").isalnum()
    first = results.page(handle, "alice", offset=0, limit=1000)
    assert first.summary == {"accounts": 1, "errors": []} and first.total == 2500 and first.next_offset == 1000
    assert first.items[0] == items[0] and len(first.items) == 1000
    last = results.page(handle, "alice", offset=2000, limit=1000)
    assert last.items == items[2000:] and last.next_offset is None
    with pytest.raises(ResultNotFound) as someone_else:
        results.page(handle, "bob", 0, 10)
    with pytest.raises(ResultNotFound) as unknown:
        results.page("no-such-handle", "alice", 0, 10)
    assert str(someone_else.value).replace(handle, "H") == str(unknown.value).replace("no-such-handle", "H")
    assert isinstance(someone_else.value, KeyError) and "expired or never existed" in str(unknown.value)


def test_fleet_results_expire_and_are_purged(store, clock):
    results = FleetResults(store, clock=clock)
    short = results.save("alice", {}, [1, 2, 3], ttl_seconds=60)
    kept = results.save("alice", {}, [4], ttl_seconds=3600)
    clock.advance(61)
    with pytest.raises(ResultNotFound):
        results.page(short, "alice", 0, 10)
    assert results.purge() == 1
    assert results.page(kept, "alice", 0, 10).items == [4]
    with store.engine.connect() as connection:
        assert connection.execute(select(fleet_result_items.c.handle).distinct()).scalars().all() == [kept]
        assert connection.execute(select(inventory_resources.c.arn)).all() == []


def test_analyze_leaves_planner_statistics(store, inventory):
    inventory.upsert(FLEET)
    inventory.analyze()
    with store.engine.connect() as connection:
        if store.backend == "sqlite":
            analyzed = connection.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar()
        else:
            analyzed = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'inventory_tags' AND last_vacuum IS NOT NULL"
            ).scalar()
        assert analyzed
