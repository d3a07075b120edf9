"""refresh_inventory, query_inventory and inventory_status over streamable HTTP, against moto's AWS
Organization, on SQLite and on PostgreSQL: refresh then query, tombstones, a failed listing keeping its rows."""

import boto3
import pytest

from sandbox import DEFAULT_ACCOUNT
from tests.aws_proxy import misbehaving_aws
from tests.conftest import ACCESS_KEY, connect, serve
from tests.helpers import ok
from tests.test_fleet import ORG_ROLE, Organization

pytestmark = pytest.mark.anyio

REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def organization(moto_endpoint: str) -> Organization:
    return Organization(moto_endpoint)


def rows_by_type(answer: dict) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in answer["rows"]:
        grouped.setdefault(row["type"], []).append(row)
    return grouped


async def test_refresh_then_query_answers_from_the_store_with_tombstones_for_what_vanished(
    organization, make_settings, database_url, moto_endpoint
):
    web = organization.account("web", env="prod")
    data = organization.account("data")
    instance = organization.instance(web, "us-east-1")
    ec2 = organization.session(web).client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint)
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "env", "Value": "prod"}, {"Key": "Name", "Value": "web-1"}])
    s3 = organization.session(data).client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="data-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    queue = boto3.client("sqs", region_name="eu-west-1", endpoint_url=moto_endpoint, **organization.keys).create_queue(
        QueueName="jobs", tags={"env": "prod"}
    )["QueueUrl"]
    settings = make_settings(AWS_MCP_ORG_ROLE_NAME=ORG_ROLE, AWS_MCP_DATABASE_URL=database_url)
    with serve(settings) as running:
        async with connect(running.url) as client:
            refreshed = await ok(
                client,
                "refresh_inventory",
                accounts={"organization": True},
                regions=REGIONS,
                types=["ec2:instance", "s3:bucket", "tagged"],
            )
            prod = await ok(client, "query_inventory", tags={"env": "prod"})
            buckets = await ok(client, "query_inventory", type="s3:bucket", region="eu-west-1")
            named = await ok(client, "query_inventory", name_contains="web-")
            first = await ok(client, "query_inventory", type="ec2:instance", limit=1)
            status = await ok(client, "inventory_status")

            ec2.terminate_instances(InstanceIds=[instance])
            await ok(client, "refresh_inventory", accounts=[web], regions=["us-east-1"], types=["ec2:instance"])
            live = await ok(client, "query_inventory", type="ec2:instance", account=web)
            changed = await ok(client, "query_inventory", type="ec2:instance", changed_since="2000-01-01T00:00:00Z")
    assert refreshed["counts"] == {"ok": 3 * 2 * 2 + 3}  # 3 accounts × 2 regions × 2 regional types + 3 global
    assert refreshed["resources"]["ec2:instance"] == 1 and refreshed["resources"]["s3:bucket"] == 1
    by_type = rows_by_type(prod)
    assert prod["total"] == 2 and set(by_type) == {"ec2:instance", "sqs:queue"}
    assert by_type["ec2:instance"][0]["account"] == web and by_type["ec2:instance"][0]["tags"]["Name"] == "web-1"
    assert by_type["sqs:queue"][0]["account"] == DEFAULT_ACCOUNT and queue.endswith("jobs")
    assert [(r["name"], r["account"], r["region"]) for r in buckets["rows"]] == [("data-lake", data, "eu-west-1")]
    assert named["total"] == 1
    assert first["total"] == 1 and first["next_cursor"] is None
    assert prod["max_staleness_seconds"] is not None and prod["failed_partitions"] == []
    assert status["counts_by_type"]["ec2:instance"] == 1 and status["total"] >= 3
    assert live["total"] == 0
    (gone,) = changed["rows"]
    assert gone["arn"].endswith(instance) and gone["deleted_at"] is not None


async def test_a_failed_listing_keeps_its_rows_and_is_reported_stale(organization, make_settings, moto_endpoint):
    member = organization.account("busy")
    organization.instance(member, "us-east-1")
    with misbehaving_aws(moto_endpoint) as (proxy, aws):
        aws.keys[ACCESS_KEY] = DEFAULT_ACCOUNT
        settings = make_settings(AWS_MCP_ORG_ROLE_NAME=ORG_ROLE, AWS_ENDPOINT_URL=proxy, AWS_MCP_MAX_ATTEMPTS="1")
        with serve(settings) as running:
            async with connect(running.url) as client:
                arguments = {"accounts": [member], "regions": ["us-east-1"], "types": ["ec2:instance"]}
                await ok(client, "refresh_inventory", **arguments)
                aws.throttle.add((member, "us-east-1"))
                failed = await ok(client, "refresh_inventory", **arguments)
                kept = await ok(client, "query_inventory", type="ec2:instance", account=member)
    assert failed["counts"] == {"throttled": 1}
    assert failed["failures"][0]["type"] == "ec2:instance" and failed["failures"][0]["code"] == "RequestLimitExceeded"
    assert kept["total"] == 1
    (stale,) = kept["failed_partitions"]
    assert stale["account"] == member and stale["status"] != "ok" and "RequestLimitExceeded" in stale["error"]
