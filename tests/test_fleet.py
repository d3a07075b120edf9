"""fleet_query over streamable HTTP against moto: an AWS Organization with member accounts reached through
AssumeRole, selectors, region globs, per-target errors, throttling, progress, cancellation, paging, one audit
record per query."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import boto3
import jmespath.parser
import pytest

from fleet.fanout import THROTTLE_RETRIES
from inventory.results import FleetResults
from sandbox import DEFAULT_ACCOUNT, PROD_ACCOUNT, STAGING_ACCOUNT, assume
from tests.aws_proxy import misbehaving_aws
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import audit_records, error_of, fails, lambda_function, ok
from tests.issuers import bearer, hs256, hs256_settings
from tests.test_logs import environment as log_environment
from tests.test_logs import server_process

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
    organization, fleet_settings, audit_file, database_url
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
    with serve(fleet_settings(AWS_MCP_DATABASE_URL=database_url)) as running:
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
    # AWS_MCP_MAX_ATTEMPTS=1 (fleet_settings): one botocore attempt per fleet try, so exactly the first try and the
    # backed-off retries reach AWS. With AWS_MCP_MAX_ATTEMPTS=n each fleet try is n botocore attempts.
    assert throttled_requests == 1 + THROTTLE_RETRIES


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
    organization, fleet_settings, aws, database_url
):
    ec2 = aws().client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    for _ in range(4):
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)
    members = [organization.account(f"m{n}") for n in range(6)]
    settings = fleet_settings(
        AWS_MCP_FLEET_MAX_ITEMS_PER_TARGET="3", AWS_MCP_MAX_OUTPUT_BYTES="4000", AWS_MCP_DATABASE_URL=database_url
    )
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


def on_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_queries_and_stored_results_are_made_in_worker_threads_never_on_the_event_loop(
    organization, fleet_settings, monkeypatch
):
    """A thousand targets' JMESPath and their stored JSON are CPU work the event loop must not wait on."""
    members = [organization.account(f"w{n}") for n in range(3)]
    threads: list[tuple[str, bool]] = []
    search, save = jmespath.parser.ParsedResult.search, FleetResults.save

    def recorded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*arguments: Any, **keywords: Any) -> Any:
            threads.append((name, on_an_event_loop()))
            return method(*arguments, **keywords)

        return wrapper

    monkeypatch.setattr(jmespath.parser.ParsedResult, "search", recorded("search", search))
    monkeypatch.setattr(FleetResults, "save", recorded("save", save))
    with serve(fleet_settings(AWS_MCP_MAX_OUTPUT_BYTES="2000")) as running:
        async with connect(running.url) as client:
            answer = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeRegions",
                query="Regions[].RegionName",
                accounts=[DEFAULT_ACCOUNT, *members],
                regions=["us-east-1", "eu-west-1"],
            )
    assert answer["counts"] == {"ok": 8} and answer["handle"]
    assert sorted(set(threads)) == [("save", False), ("search", False)]
    assert [name for name, _ in threads].count("search") == 8


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


async def test_a_stored_result_is_its_callers_alone(make_settings, database_url):
    settings = make_settings(
        **hs256_settings(AWS_MCP_MAX_OUTPUT_BYTES="4000", AWS_MCP_DATABASE_URL=database_url, AWS_MCP_MAX_ATTEMPTS="1")
    )
    with serve(settings) as running:
        async with connect(running.url, headers=bearer(hs256("alice", "operator"))) as alice:
            large = await ok(
                alice,
                "fleet_query",
                service="ec2",
                operation="DescribeRegions",
                query="Regions[].RegionName",
                accounts=[DEFAULT_ACCOUNT],
                regions=["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1", "sa-east-1"],
            )
            handle = large["handle"]
            assert handle and large["shown"] < large["targets"]
            mine = await ok(alice, "fleet_results", handle=handle, offset=large["shown"])
        async with connect(running.url, headers=bearer(hs256("bob", "admin"))) as bob:
            theirs = await fails(bob, "fleet_results", handle=handle, offset=large["shown"])
            from_start = await fails(bob, "fleet_results", handle=handle)
            never_issued = "A" * len(handle)
            unknown = await fails(bob, "fleet_results", handle=never_issued)
    assert mine["results"] and mine["total"] == large["targets"]
    assert theirs["code"] == from_start["code"] == unknown["code"] == "not_found"
    # the same answer as for a handle that never existed: nothing tells bob that alice's exists
    assert theirs["message"].replace(handle, "H") == unknown["message"].replace(never_issued, "H")
    assert theirs["hint"] == unknown["hint"]
    assert "alice" not in theirs["message"] and "DescribeRegions" not in theirs["message"]


MALFORMED_SELECTORS = [
    ({"organisation": True}, "organisation: unknown key"),
    ({"organization": "yes"}, "organization: Input should be a valid boolean"),
    ({"organization": 1}, "organization: Input should be a valid boolean"),
    ({"ou": 5}, "ou: Input should be a valid string"),
    ({"ou": ""}, "ou '' is not an OU id"),
    ({"ou": "ou-../../etc"}, "is not an OU id"),
    ({"account_tags": ["env"]}, "account_tags: Input should be a valid dictionary"),
    ({"account_tags": {}}, "account_tags is empty"),
    ({"account_tags": {"env": 1}}, "account_tags.env: Input should be a valid string"),
    ({"organization": True, "exclude": "prod"}, "exclude: Input should be a valid list"),
    ({"organization": True, "exclude": [1]}, "exclude.0: Input should be a valid string"),
    ({"organization": True, "ou": "ou-abcd-12345678"}, "organization: true selects every account"),
    ({"organization": True, "account_tags": {"env": "prod"}}, "organization: true selects every account"),
    ({}, "name organization: true, an ou, or account_tags"),
    ({"organization": False}, "name organization: true, an ou, or account_tags"),
    ({"exclude": ["prod"]}, "name organization: true, an ou, or account_tags"),
]


async def test_a_malformed_organization_selector_is_a_tool_error_naming_what_is_wrong(fleet_settings):
    with serve(fleet_settings()) as running:
        async with connect(running.url) as client:
            errors = [
                await fails(
                    client, "fleet_query", service="ec2", operation="DescribeVpcs", accounts=selector, regions="all"
                )
                for selector, _ in MALFORMED_SELECTORS
            ]
    for (selector, expected), error in zip(MALFORMED_SELECTORS, errors, strict=True):
        assert error["code"] == "invalid_input", selector
        assert error["message"].startswith("accounts: ") and expected in error["message"], (selector, error)
        for dump in ("Value error", "pydantic", "input_value", "validation error", "accounts: accounts"):
            assert dump not in error["message"], (selector, error)


async def test_hostile_inputs_are_clear_errors_within_a_second(fleet_settings):
    def fleet_query(**overrides: Any) -> dict[str, Any]:
        arguments = {"service": "ec2", "operation": "DescribeVpcs", "accounts": ["prod"], "regions": ["us-east-1"]}
        return {**arguments, **overrides}

    cases = [
        (fleet_query(regions=["eu-.*"]), "invalid_input", "region 'eu-.*' matches no region"),
        (fleet_query(regions=["^us-east-1$"]), "invalid_input", "matches no region"),
        (fleet_query(regions=["(a+)+$"]), "invalid_input", "matches no region"),
        (fleet_query(regions=["*" * 100_000]), "invalid_input", "longer than 64 characters"),
        (fleet_query(regions=["a*" * 20_000]), "invalid_input", "longer than 64 characters"),
        (fleet_query(regions=["eu-*"] * 10_000), "invalid_input", "10000 regions or globs: at most 100"),
        (fleet_query(accounts=[f"{n:012d}" for n in range(10_000)]), "invalid_input", "10000 accounts: at most 1000"),
        (fleet_query(accounts=[""]), "invalid_input", "accounts: an empty name"),
        (fleet_query(service="../../etc", operation="passwd"), "unknown_operation", "Unknown AWS service '../../etc'"),
        (fleet_query(service="ec2/../s3", operation="ListBuckets"), "unknown_operation", "Unknown AWS service"),
        (fleet_query(operation="../../../etc/passwd"), "unknown_operation", "Unknown operation '../../../etc/passwd'"),
        (fleet_query(query="Vpcs["), "invalid_input", "query is not valid JMESPath"),
        (fleet_query(query="(" * 5_000), "invalid_input", "query is not valid JMESPath: it nests too deeply"),
    ]
    with serve(fleet_settings()) as running:
        async with connect(running.url) as client:
            for arguments, code, expected in cases:
                started = time.monotonic()
                error = await fails(client, "fleet_query", **arguments)
                took = time.monotonic() - started
                assert (error["code"], took < 1.0) == (code, True), (expected, error, took)
                assert expected in error["message"], (expected, error)
                assert "options.query" not in error["message"] and len(error["message"]) < 1_000
            broken = await ok(client, "fleet_query", **fleet_query(query="abs(Vpcs)"))
    (result,) = broken["results"]
    assert (result["status"], result["kind"], result["code"]) == ("error", "error", "invalid_query")
    assert "abs()" in result["message"] and result["data"] is None


async def test_a_dry_run_over_more_targets_than_fit_is_stored_for_paging(fleet_settings):
    accounts = [f"{n:012d}" for n in range(1, 41)]
    with serve(fleet_settings(AWS_MCP_MAX_OUTPUT_BYTES="4000")) as running:
        async with connect(running.url) as client:
            planned = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts=accounts,
                regions=["us-east-1"],
                dry_run=True,
            )
            rest = await ok(client, "fleet_results", handle=planned["handle"], offset=planned["shown"])
    assert planned["targets"] == planned["aws_calls"] == 40 and 0 < planned["shown"] < 40
    assert rest["total"] == 40 and all(r["status"] == "planned" for r in planned["results"] + rest["results"])


async def test_one_audit_record_per_fleet_query_with_its_totals_and_no_target_lines(
    organization, fleet_settings, audit_file
):
    members = [organization.account(f"audited{n}") for n in range(2)]
    with serve(fleet_settings(AWS_MCP_ALLOWED_ROLE_ARNS=f"arn:aws:iam::{members[0]}:role/*")) as running:
        async with connect(running.url) as client:
            answer = await ok(
                client,
                "fleet_query",
                service="ec2",
                operation="DescribeVpcs",
                accounts=members,
                regions=["us-east-1", "eu-west-1"],
            )
    (record,) = audit_records(audit_file)
    fleet = record["fleet"]
    assert record["tool"] == "fleet_query" and record["outcome"] == "ok"
    assert record["operation"] == "ec2:DescribeVpcs" and record["class"] == "read" and record["duration_ms"] > 0
    assert fleet["targets"] == answer["targets"] == 4 and fleet["accounts"] == 2
    assert fleet["regions"] == ["eu-west-1", "us-east-1"]
    assert fleet["counts"] == answer["counts"] == {"ok": 2, "policy_denied": 2}
    assert fleet["aws_calls"] == answer["aws_calls"] == 2
    assert "calls" not in record and record["target"] is None
    assert not any(member in audit_file.read_text() for member in members)  # counts, never a line per target


SECRET_VALUE = "fleet-secret-value-that-must-stay-in-aws-4d1e"


async def test_no_secret_value_reaches_the_answer_the_audit_or_the_log(
    organization, moto_endpoint, operation_index_dir, tmp_path
):
    member = organization.account("vault")
    for account in (DEFAULT_ACCOUNT, member):
        session = organization.session(account)
        secrets = session.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
        secrets.create_secret(Name="db", SecretString=f"{SECRET_VALUE}-{account}")
        ssm = session.client("ssm", region_name="us-east-1", endpoint_url=moto_endpoint)
        ssm.put_parameter(Name="/db/password", Value=f"{SECRET_VALUE}-{account}", Type="SecureString")
        variables = {"DB_PASSWORD": f"{SECRET_VALUE}-{account}", "LOG_LEVEL": "info"}
        lambda_function(session, moto_endpoint, "app", variables)
    environment = log_environment(
        moto_endpoint,
        operation_index_dir,
        AWS_MCP_ORG_ROLE_NAME=ORG_ROLE,
        AWS_MCP_LOG_FORMAT="json",
        AWS_MCP_LOG_LEVEL="DEBUG",
        AWS_MCP_STATE_DIR=str(tmp_path / "state"),
    )
    sensitive_reads = [
        ("secretsmanager", "GetSecretValue", {"SecretId": "db"}),
        ("secretsmanager", "get-secret-value", {"SecretId": "db"}),
        ("secretsmanager", "BatchGetSecretValue", {"SecretIdList": ["db"]}),
        ("ssm", "GetParameter", {"Name": "/db/password", "WithDecryption": True}),
        ("ssm", "GetParameters", {"Names": ["/db/password"], "WithDecryption": True}),
        ("ssm", "GetParametersByPath", {"Path": "/db", "WithDecryption": True}),
    ]
    output = tmp_path / "server-output.log"
    answers: list[str] = []
    with server_process(environment, output, stdout_too=True) as url:
        async with connect(url) as client:
            for service, operation, payload in sensitive_reads:
                for dry_run in (False, True):
                    result = await client.call_tool(
                        "fleet_query",
                        {
                            "service": service,
                            "operation": operation,
                            "payload": payload,
                            "accounts": {"organization": True},
                            "regions": ["us-east-1"],
                            "dry_run": dry_run,
                        },
                    )
                    answers.append(result.content[0].text)
                    refused = error_of(result)
                    assert refused["code"] == "not_a_read" and "classed sensitive" in refused["message"], refused
            listed = await ok(
                client,
                "fleet_query",
                service="secretsmanager",
                operation="ListSecrets",
                accounts={"organization": True},
                regions=["us-east-1"],
            )
            functions = await ok(
                client,
                "fleet_query",
                service="lambda",
                operation="ListFunctions",
                accounts={"organization": True},
                regions=["us-east-1"],
                query="Functions[].Environment.Variables",
            )
            answers += [json.dumps(listed), json.dumps(functions)]
    assert [r["data"] for r in functions["results"]] == [[{"DB_PASSWORD": "***", "LOG_LEVEL": "info"}]] * 2
    assert listed["counts"] == {"ok": 2}
    assert {secret["Name"] for r in listed["results"] for secret in r["data"]["SecretList"]} == {"db"}
    written = output.read_bytes()
    for secret in (SECRET_VALUE, SECRET_KEY):
        assert not any(secret in answer for answer in answers)
        assert secret.encode() not in written, f"{secret[:12]}... reached the server's output"
    lines = [json.loads(line) for line in written.decode().splitlines() if line.startswith("{")]
    audits = [line for line in lines if line.get("event") == "audit"]
    assert [line["tool"] for line in audits] == ["fleet_query"] * (2 * len(sensitive_reads) + 2)
    assert audits[-1]["fleet"]["targets"] == 2 and audits[-1]["fleet"]["aws_calls"] == 2
    stored = b"".join(path.read_bytes() for path in (tmp_path / "state").rglob("*") if path.is_file())
    assert SECRET_VALUE.encode() not in stored
    assert not any(member in json.dumps(line) for line in lines if line.get("event") != "audit")
