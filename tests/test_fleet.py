"""fleet_query over streamable HTTP against moto: an AWS Organization with member accounts reached through
AssumeRole, selectors, region globs, per-target errors, throttling, progress, cancellation, paging, one audit
record per query."""

import time
from collections.abc import Callable
from typing import Any

import anyio
import boto3
import pytest

from sandbox import DEFAULT_ACCOUNT, PROD_ACCOUNT, STAGING_ACCOUNT, assume
from tests.aws_proxy import misbehaving_aws
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import audit_records, fails, ok

pytestmark = pytest.mark.anyio

ORG_ROLE = "OrganizationAccountAccessRole"
INSTANCE_IDS = "Reservations[].Instances[].InstanceId"


class Organization:
    """An AWS Organization in moto: the default account manages it; members are created in OUs, with tags."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
        self.keys = keys
        self.client = boto3.client("organizations", region_name="us-east-1", endpoint_url=endpoint, **keys)
        self.client.create_organization(FeatureSet="ALL")
        self.root = self.client.list_roots()["Roots"][0]["Id"]
        self.names: dict[str, str] = {}

    def unit(self, name: str, parent: str | None = None) -> str:
        created = self.client.create_organizational_unit(ParentId=parent or self.root, Name=name)
        return created["OrganizationalUnit"]["Id"]

    def account(self, name: str, unit: str | None = None, **tags: str) -> str:
        status = self.client.create_account(
            Email=f"{name}@example.com", AccountName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )["CreateAccountStatus"]
        account = status["AccountId"]
        if unit:
            self.client.move_account(AccountId=account, SourceParentId=self.root, DestinationParentId=unit)
        self.names[account] = name
        return account

    def session(self, account: str) -> boto3.Session:
        if account == DEFAULT_ACCOUNT:
            return boto3.Session(**self.keys)
        return boto3.Session(**assume(self.endpoint, f"arn:aws:iam::{account}:role/{ORG_ROLE}", self.keys))

    def instance(self, account: str, region: str) -> str:
        ec2 = self.session(account).client("ec2", region_name=region, endpoint_url=self.endpoint)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


@pytest.fixture
def organization(moto_endpoint: str) -> Organization:
    return Organization(moto_endpoint)


@pytest.fixture
def fleet_settings(make_settings) -> Callable[..., Any]:
    def make(**overrides: str) -> Any:
        return make_settings(**{"AWS_MCP_ORG_ROLE_NAME": ORG_ROLE, "AWS_MCP_MAX_ATTEMPTS": "1", **overrides})

    return make


def by_target(answer: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(result["account"], result["region"]): result for result in answer["results"]}


async def test_one_read_reaches_every_member_account_and_region_of_the_organization(
    organization, fleet_settings, audit_file
):
    prod = organization.unit("prod")
    payments = organization.unit("payments", parent=prod)
    first = organization.account("web", prod, env="prod")
    second = organization.account("ledger", payments, env="prod")
    third = organization.account("sandbox", env="dev")
    launched = {
        (first, "us-east-1"): organization.instance(first, "us-east-1"),
        (second, "eu-west-1"): organization.instance(second, "eu-west-1"),
    }
    with serve(fleet_settings()) as running:
        async with connect(running.url) as client:
            answer = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeInstances",
                accounts={"organization": True},
                regions=["us-east-1", "eu-west-1"],
                query=INSTANCE_IDS,
            )
            nested = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeInstances",
                accounts={"ou": prod, "exclude": [first]},
                regions=["eu-west-1"],
                query=INSTANCE_IDS,
            )
            tagged = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeInstances",
                accounts={"account_tags": {"env": "dev"}},
                regions=["us-east-1"],
                dry_run=True,
            )
    accounts = sorted([DEFAULT_ACCOUNT, first, second, third])
    assert answer["targets"] == 8 and answer["counts"] == {"ok": 8}
    assert [(r["account"], r["region"]) for r in answer["results"]] == [
        (account, region) for account in accounts for region in ("eu-west-1", "us-east-1")
    ]
    for (account, region), result in by_target(answer).items():
        assert result["data"] == ([launched[(account, region)]] if (account, region) in launched else [])
    assert by_target(answer)[(first, "us-east-1")]["account_name"] == "web"
    assert [r["account"] for r in nested["results"]] == [second]  # nested OU included, exclude applied
    assert nested["results"][0]["data"] == [launched[(second, "eu-west-1")]]
    assert tagged["dry_run"] and tagged["aws_calls"] == 1
    assert [(r["account"], r["status"]) for r in tagged["results"]] == [(third, "planned")]
    fleet_records = [r for r in audit_records(audit_file) if r["tool"] == "fleet_query"]
    assert len(fleet_records) == 3  # one record per query, however many targets
    assert fleet_records[0]["fleet"]["counts"] == {"ok": 8} and fleet_records[0]["fleet"]["aws_calls"] == 8
    assert fleet_records[0]["operation"] == "ec2:DescribeInstances" and "calls" not in fleet_records[0]


async def test_region_globs_cover_enabled_regions_only_and_a_named_opt_in_region_is_reported(
    organization, fleet_settings
):
    with serve(fleet_settings()) as running:
        async with connect(running.url) as client:
            answer = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts=["prod", "staging"],
                regions=["eu-*", "ap-east-1"],
                dry_run=True,
            )
            global_service = await ok(
                client, "fleet_query", service="iam", operation="ListRoles", accounts="all", regions="all", dry_run=True
            )
    planned = {r["region"] for r in answer["results"] if r["status"] == "planned"}
    assert planned and all(region.startswith("eu-") for region in planned)
    assert {"eu-central-2", "eu-south-2"}.isdisjoint(planned)  # opt-in regions moto reports as not opted in
    refused = [r for r in answer["results"] if r["status"] == "error"]
    assert {(r["account"], r["kind"]) for r in refused} == {
        (PROD_ACCOUNT, "region_not_enabled"),
        (STAGING_ACCOUNT, "region_not_enabled"),
    }
    assert [(r["account"], r["region"]) for r in global_service["results"]] == [
        (PROD_ACCOUNT, "us-east-1"),
        (STAGING_ACCOUNT, "us-east-1"),
    ]


async def test_a_refused_role_and_a_policy_denial_fail_their_targets_only(
    organization, fleet_settings, tmp_path, audit_file
):
    allowed = organization.account("allowed")
    refused = organization.account("refused")
    denied = organization.account("denied")
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"accounts:\n  '{denied}':\n    rules:\n      deny: ['^ec2:Describe']\n")
    settings = fleet_settings(
        AWS_MCP_ALLOWED_ROLE_ARNS=f"arn:aws:iam::{allowed}:role/*,arn:aws:iam::{denied}:role/*",
        AWS_MCP_POLICY_FILE=str(policy),
    )
    with serve(settings) as running:
        async with connect(running.url) as client:
            answer = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts=[allowed, refused, denied],
                regions=["us-east-1"],
            )
            write = await fails(
                client,
                "fleet_query",
                service="ec2",
                operation="TerminateInstances",
                accounts=[allowed],
                regions=["us-east-1"],
                payload={"InstanceIds": ["i-1"]},
            )
    results = by_target(answer)
    assert results[(allowed, "us-east-1")]["status"] == "ok"
    assert results[(refused, "us-east-1")]["kind"] == "policy_denied"
    assert "not allowed" in results[(refused, "us-east-1")]["message"]
    assert results[(denied, "us-east-1")]["kind"] == "policy_denied"
    assert f"accounts.{denied}.rules.deny" in results[(denied, "us-east-1")]["message"]
    assert answer["counts"] == {"ok": 1, "policy_denied": 2}
    assert write["code"] == "not_a_read"
    record = next(r for r in audit_records(audit_file) if r["tool"] == "fleet_query")
    ((rule, count),) = record["fleet"]["denied"].items()
    assert rule.startswith(f"accounts.{denied}.rules.deny[0]") and count == 1


async def test_throttling_on_one_target_backs_off_then_fails_that_target_alone(
    organization, fleet_settings, moto_endpoint
):
    member = organization.account("busy")
    with misbehaving_aws(moto_endpoint) as (proxy, aws):
        aws.keys[ACCESS_KEY] = DEFAULT_ACCOUNT
        aws.throttle.add((member, "eu-west-1"))
        with serve(fleet_settings(AWS_ENDPOINT_URL=proxy)) as running:
            async with connect(running.url) as client:
                answer = await ok(
                    client,
                    "fleet_query",
                    service="ec2",
                    operation="DescribeVpcs",
                    accounts={"organization": True},
                    regions=["us-east-1", "eu-west-1"],
                )
        throttled_requests = aws.requests[(member, "eu-west-1", "ec2")]
    results = by_target(answer)
    assert results[(member, "eu-west-1")]["kind"] == "throttled"
    assert results[(member, "eu-west-1")]["code"] == "RequestLimitExceeded"
    assert answer["counts"] == {"ok": 3, "throttled": 1}
    assert throttled_requests >= 4  # the first try and three backed-off retries


async def test_progress_is_reported_and_cancellation_stops_new_calls(organization, fleet_settings, moto_endpoint):
    members = [organization.account(f"member{n}") for n in range(5)]
    with misbehaving_aws(moto_endpoint) as (proxy, aws):
        aws.delay = 0.25
        settings = fleet_settings(AWS_ENDPOINT_URL=proxy)
        with serve(settings) as running:
            async with connect(running.url) as client:
                progress: list[tuple[float, float | None]] = []

                async def record(done: float, total: float | None, message: str | None) -> None:
                    progress.append((done, total))

                result = await client.call_tool(
                    "fleet_query",
                    {
                        "service": "ec2",
                        "operation": "DescribeVpcs",
                        "accounts": members,
                        "regions": ["us-east-1", "us-west-2"],
                        "max_concurrency": 2,
                    },
                    progress_callback=record,
                )
                assert not result.is_error and result.structured_content["counts"] == {"ok": 10}
                assert progress and progress[-1] == (10, 10)
                assert all(total == 10 for _, total in progress)
                assert [done for done, _ in progress] == sorted(done for done, _ in progress)

                before = aws.calls("ec2")
                with anyio.move_on_after(0.8):
                    await client.call_tool(
                        "fleet_query",
                        {
                            "service": "ec2",
                            "operation": "DescribeSubnets",
                            "accounts": members,
                            "regions": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"],
                            "max_concurrency": 2,
                        },
                    )
                cancelled_at = time.monotonic()
                await anyio.sleep(1.5)
                late = [stamp for stamp in aws.stamps if stamp > cancelled_at + 1.0]
                made = aws.calls("ec2") - before
    assert made < 20  # far from the 20 targets
    assert late == []  # nothing new started a second after the cancellation


async def test_paginated_reads_page_to_the_cap_and_large_answers_are_stored_for_paging(
    organization, fleet_settings, aws
):
    ec2 = aws().client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    for _ in range(4):
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)
    members = [organization.account(f"m{n}") for n in range(6)]
    settings = fleet_settings(AWS_MCP_FLEET_MAX_ITEMS_PER_TARGET="3", AWS_MCP_MAX_OUTPUT_BYTES="4000")
    with serve(settings) as running:
        async with connect(running.url) as client:
            capped = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeInstances",
                accounts=[DEFAULT_ACCOUNT],
                regions=["us-east-1"],
                query=INSTANCE_IDS,
            )
            large = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeRegions",
                query="Regions[].RegionName",
                accounts=[DEFAULT_ACCOUNT, *members],
                regions=["us-east-1", "us-west-2"],
            )
            pages = [await ok(client, "fleet_results", handle=large["handle"], offset=large["shown"])]
            while pages[-1]["next_offset"] is not None:
                pages.append(await ok(client, "fleet_results", handle=large["handle"], offset=pages[-1]["next_offset"]))
    (only,) = capped["results"]
    assert only["kind"] == "output_truncated" and len(only["data"]) == 3
    assert large["targets"] == 14 and 0 < large["shown"] < 14 and large["handle"] and "fleet_results" in large["note"]
    paged = large["results"] + [result for page in pages for result in page["results"]]
    assert [(r["account"], r["region"]) for r in paged] == sorted(
        (account, region) for account in [DEFAULT_ACCOUNT, *members] for region in ("us-east-1", "us-west-2")
    )
    assert all(result["status"] == "ok" for result in paged)


async def test_selectors_that_cannot_work_are_clear_errors(fleet_settings, make_settings):
    with serve(make_settings()) as running:
        async with connect(running.url) as client:
            no_role = await fails(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts={"organization": True},
                regions=["us-east-1"],
            )
            unknown = await fails(
                client, "fleet_query", service="ec2", operation="DescribeVpcs", accounts=["nope"], regions=["us-east-1"]
            )
            bad_region = await fails(
                client, "fleet_query", service="ec2", operation="DescribeVpcs", accounts=["prod"], regions=["mars-*"]
            )
            unreachable = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts=["999999999999"],
                regions=["us-east-1"],
            )
            missing = await fails(client, "fleet_results", handle="0123456789abcdef")
    assert no_role["code"] == "invalid_input" and "AWS_MCP_ORG_ROLE_NAME" in no_role["message"]
    assert unknown["code"] == "unknown_account"
    assert bad_region["code"] == "invalid_input" and "mars-*" in bad_region["message"]
    assert unreachable["results"][0]["kind"] == "credential_error"
    assert "AWS_MCP_ORG_ROLE_NAME" in unreachable["results"][0]["message"]
    assert missing["code"] == "not_found"
