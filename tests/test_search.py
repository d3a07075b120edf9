import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

import catalog.search as search_module
from catalog.search import OperationHit, OperationIndex, first_sentence, stem
from config import load_settings
from tests.conftest import connect, serve
from tests.helpers import ok
from tests.repo import ROOT

ACCURACY_TABLE = [
    ("list my s3 buckets", "s3", "ListBuckets"),
    ("who am i", "sts", "GetCallerIdentity"),
    ("running ec2 instances", "ec2", "DescribeInstances"),
    ("read a secret value", "secretsmanager", "GetSecretValue"),
    ("send a message to a queue", "sqs", "SendMessage"),
    ("dns records in a hosted zone", "route53", "ListResourceRecordSets"),
    ("invoke a lambda function", "lambda", "Invoke"),
    ("set the desired capacity of an autoscaling group", "autoscaling", "SetDesiredCapacity"),
    ("upload a file to a bucket", "s3", "PutObject"),
    ("download an object from s3", "s3", "GetObject"),
    ("delete an s3 bucket", "s3", "DeleteBucket"),
    ("list objects in a bucket", "s3", "ListObjectsV2"),
    ("stop an ec2 instance", "ec2", "StopInstances"),
    ("terminate a virtual machine", "ec2", "TerminateInstances"),
    ("launch a new server", "ec2", "RunInstances"),
    ("reboot instances", "ec2", "RebootInstances"),
    ("create a security group", "ec2", "CreateSecurityGroup"),
    ("list vpcs", "ec2", "DescribeVpcs"),
    ("show subnets", "ec2", "DescribeSubnets"),
    ("list lambda functions", "lambda", "ListFunctions"),
    ("get an ssm parameter", "ssm", "GetParameter"),
    ("store a value in parameter store", "ssm", "PutParameter"),
    ("create a new secret", "secretsmanager", "CreateSecret"),
    ("list dynamodb tables", "dynamodb", "ListTables"),
    ("query a dynamodb table", "dynamodb", "Query"),
    ("put an item into a table", "dynamodb", "PutItem"),
    ("list iam users", "iam", "ListUsers"),
    ("create an iam role", "iam", "CreateRole"),
    ("attach a managed policy to a role", "iam", "AttachRolePolicy"),
    ("list cloudformation stacks", "cloudformation", "ListStacks"),
    ("delete a cloudformation stack", "cloudformation", "DeleteStack"),
    ("search log events", "logs", "FilterLogEvents"),
    ("list log groups", "logs", "DescribeLogGroups"),
    ("create a cloudwatch alarm on a metric", "cloudwatch", "PutMetricAlarm"),
    ("get metric statistics", "cloudwatch", "GetMetricStatistics"),
    ("list sns topics", "sns", "ListTopics"),
    ("publish a notification to a topic", "sns", "Publish"),
    ("create an sqs queue", "sqs", "CreateQueue"),
    ("list ecs clusters", "ecs", "ListClusters"),
    ("list eks clusters", "eks", "ListClusters"),
    ("docker login token for the container registry", "ecr", "GetAuthorizationToken"),
    ("encrypt data with a kms key", "kms", "Encrypt"),
    ("list kms keys", "kms", "ListKeys"),
    ("request a tls certificate", "acm", "RequestCertificate"),
    ("list load balancers", "elbv2", "DescribeLoadBalancers"),
    ("show my rds database instances", "rds", "DescribeDBInstances"),
    ("snapshot a database", "rds", "CreateDBSnapshot"),
    ("assume a role", "sts", "AssumeRole"),
    ("list hosted zones", "route53", "ListHostedZones"),
    ("look up recent api activity in cloudtrail", "cloudtrail", "LookupEvents"),
    ("start a step function execution", "stepfunctions", "StartExecution"),
    ("run an athena sql query", "athena", "StartQueryExecution"),
    ("list images in an ecr repository", "ecr", "ListImages"),
    ("receive messages from a queue", "sqs", "ReceiveMessage"),
    ("how much did we spend this month", "ce", "GetCostAndUsage"),
    ("list cloudfront distributions", "cloudfront", "ListDistributions"),
    ("invalidate cached files in cloudfront", "cloudfront", "CreateInvalidation"),
    ("run a shell command on an instance", "ssm", "SendCommand"),
    ("update lambda function code", "lambda", "UpdateFunctionCode"),
    ("decrypt a ciphertext", "kms", "Decrypt"),
    ("scale an autoscaling group", "autoscaling", "UpdateAutoScalingGroup"),
    ("delete a lambda function", "lambda", "DeleteFunction"),
    ("list secrets", "secretsmanager", "ListSecrets"),
    ("rotate a secret", "secretsmanager", "RotateSecret"),
    ("delete a message from a queue", "sqs", "DeleteMessage"),
    ("purge all messages in a queue", "sqs", "PurgeQueue"),
    ("subscribe an email to a topic", "sns", "Subscribe"),
    ("create an ec2 key pair", "ec2", "CreateKeyPair"),
    ("allocate an elastic ip", "ec2", "AllocateAddress"),
    ("describe ebs volumes", "ec2", "DescribeVolumes"),
    ("create an ebs snapshot", "ec2", "CreateSnapshot"),
    ("list amis", "ec2", "DescribeImages"),
    ("open a port in a security group", "ec2", "AuthorizeSecurityGroupIngress"),
    ("get bucket policy", "s3", "GetBucketPolicy"),
    ("enable versioning on a bucket", "s3", "PutBucketVersioning"),
    ("copy an object", "s3", "CopyObject"),
    ("list ecs services", "ecs", "ListServices"),
    ("scale an ecs service", "ecs", "UpdateService"),
    ("describe eks node groups", "eks", "DescribeNodegroup"),
    ("create a kms key", "kms", "CreateKey"),
    ("list iam roles", "iam", "ListRoles"),
    ("create an access key for a user", "iam", "CreateAccessKey"),
    ("get log events from a log stream", "logs", "GetLogEvents"),
    ("list cloudwatch alarms", "cloudwatch", "DescribeAlarms"),
    ("describe target health", "elbv2", "DescribeTargetHealth"),
    ("list rds snapshots", "rds", "DescribeDBSnapshots"),
    ("stop an rds database", "rds", "StopDBInstance"),
    ("get the template of a stack", "cloudformation", "GetTemplate"),
    ("list ecr repositories", "ecr", "DescribeRepositories"),
    ("list dynamodb backups", "dynamodb", "ListBackups"),
    ("get an item from a dynamodb table", "dynamodb", "GetItem"),
    ("list step function state machines", "stepfunctions", "ListStateMachines"),
    ("list accounts in my organization", "organizations", "ListAccounts"),
    ("list certificates", "acm", "ListCertificates"),
    ("create a dns record", "route53", "ChangeResourceRecordSets"),
    ("start an ec2 instance", "ec2", "StartInstances"),
]
"""Natural-language queries and the operation a person asking them wants."""


@pytest.fixture(scope="module")
def cache_dir(operation_index_dir: Path) -> Path:
    return operation_index_dir


@pytest.fixture(scope="module")
def index(cache_dir: Path) -> OperationIndex:
    start = time.perf_counter()
    built = OperationIndex.load(cache_dir)
    print(f"\nindex built in {time.perf_counter() - start:.2f}s")
    return built


def _rank(hits: list[OperationHit], service: str, operation: str) -> int | None:
    found = [(hit.service, hit.operation) for hit in hits]
    return found.index((service, operation)) if (service, operation) in found else None


def _scores(index: OperationIndex, table: list[tuple[str, str, str]], name: str) -> tuple[float, float]:
    """Top-1 and top-3 accuracy over a table of (query, service, operation); prints what missed."""
    ranks = {query: _rank(index.search(query, limit=3), service, op) for query, service, op in table}
    top1 = sum(rank == 0 for rank in ranks.values()) / len(ranks)
    top3 = sum(rank is not None for rank in ranks.values()) / len(ranks)
    misses = [query for query, rank in ranks.items() if rank is None]
    print(f"\n{name}, {len(ranks)} queries: top-1 {top1:.2f}, top-3 {top3:.2f}; outside top 3: {misses}")
    return top1, top3


def test_accuracy_table_meets_top1_and_top3_targets(index: OperationIndex) -> None:
    top1, top3 = _scores(index, ACCURACY_TABLE, "tuning table")
    assert len(ACCURACY_TABLE) >= 40
    assert top3 >= 0.9
    assert top1 >= 0.7


HELD_OUT = [
    ("detach an ebs volume from an instance", "ec2", "DetachVolume"),
    ("reboot a database instance", "rds", "RebootDBInstance"),
    ("show the ingress rules of a security group", "ec2", "DescribeSecurityGroups"),
    ("which cloudformation stacks exist", "cloudformation", "ListStacks"),
    ("get the parameters of a cloudformation stack", "cloudformation", "DescribeStacks"),
    ("tail the log events of a log stream", "logs", "GetLogEvents"),
    ("turn on deletion protection for a db instance", "rds", "ModifyDBInstance"),
    ("put a custom metric", "cloudwatch", "PutMetricData"),
    ("rotate a secret now", "secretsmanager", "RotateSecret"),
    ("list the tasks of an ecs cluster", "ecs", "ListTasks"),
    ("describe an eks cluster", "eks", "DescribeCluster"),
    ("list the versions of an s3 object", "s3", "ListObjectVersions"),
    ("attach a policy to a role", "iam", "AttachRolePolicy"),
    ("list the subnets of a vpc", "ec2", "DescribeSubnets"),
    ("encrypt data with kms", "kms", "Encrypt"),
    ("publish to an sns topic", "sns", "Publish"),
    ("purge a queue", "sqs", "PurgeQueue"),
    ("scan a dynamodb table", "dynamodb", "Scan"),
    ("delete an item from a dynamodb table", "dynamodb", "DeleteItem"),
    ("start a step functions execution", "stepfunctions", "StartExecution"),
    ("update the code of a lambda function", "lambda", "UpdateFunctionCode"),
    ("statistics of the cpu metric of an instance", "cloudwatch", "GetMetricStatistics"),
    ("list elastic load balancers", "elbv2", "DescribeLoadBalancers"),
    ("health of the targets behind a load balancer", "elbv2", "DescribeTargetHealth"),
    ("invalidate the cloudfront cache", "cloudfront", "CreateInvalidation"),
    ("read an ssm parameter", "ssm", "GetParameter"),
    ("run a shell command on instances with ssm", "ssm", "SendCommand"),
    ("list the images in an ecr repository", "ecr", "ListImages"),
    ("cost and usage for last month", "ce", "GetCostAndUsage"),
    ("accounts in my organization", "organizations", "ListAccounts"),
]
"""Queries written after the search was tuned and never used to tune it: what the table above measures on
queries the ranking has not seen. Tune on ACCURACY_TABLE only; move a query there if it drives a change."""


def test_held_out_queries_are_found_without_having_been_tuned_for(index: OperationIndex) -> None:
    top1, top3 = _scores(index, HELD_OUT, "held out")
    assert not {query for query, _, _ in HELD_OUT} & {query for query, _, _ in ACCURACY_TABLE}
    assert top3 >= 0.8
    assert top1 >= 0.6


def test_cache_file_is_written_once_and_reused(index: OperationIndex, cache_dir: Path) -> None:
    path = OperationIndex.cache_path(cache_dir)
    assert path.is_file()
    builds, mtime = OperationIndex.builds, path.stat().st_mtime_ns
    reloaded = OperationIndex.load(cache_dir)
    assert OperationIndex.builds == builds
    assert path.stat().st_mtime_ns == mtime
    assert reloaded.search("who am i", limit=1) == index.search("who am i", limit=1)


def _cached_data(cache_dir: Path) -> dict:
    return json.loads(OperationIndex.cache_path(cache_dir).read_text())


def _fake_builder(data: dict, calls: list[int]) -> Callable[[], dict]:
    """Stands in for the seconds-long real build; the data comes from the module's real cache file."""

    def build() -> dict:
        calls.append(1)
        return data

    return build


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "[]",
        lambda text: text.replace('"fingerprint":"', '"fingerprint":"old', 1),
        lambda text: text.replace('"botocore":"', '"botocore":"0.', 1),
        lambda text: json.dumps({**json.loads(text), "docs": []}),
    ],
    ids=["truncated", "not-an-object", "other-code", "other-botocore", "damaged-body"],
)
def test_corrupt_or_stale_cache_file_is_rebuilt(
    index: OperationIndex,
    cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[str], str],
) -> None:
    good = _cached_data(cache_dir)
    calls: list[int] = []
    monkeypatch.setattr(search_module, "build_index_data", _fake_builder(good, calls))
    path = OperationIndex.cache_path(tmp_path)
    path.write_text(damage(OperationIndex.cache_path(cache_dir).read_text()))
    rebuilt = OperationIndex.load(tmp_path)
    assert calls == [1]
    assert json.loads(path.read_text())["fingerprint"] == good["fingerprint"]
    assert rebuilt.search("who am i", limit=1)[0].operation == "GetCallerIdentity"


def test_cache_file_is_replaced_without_leaving_temporary_files(
    index: OperationIndex, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "build_index_data", _fake_builder(_cached_data(cache_dir), []))
    OperationIndex.load(tmp_path)
    assert os.listdir(tmp_path) == [OperationIndex.cache_path(tmp_path).name]


def test_cache_file_name_carries_the_botocore_version(tmp_path: Path) -> None:
    name = OperationIndex.cache_path(tmp_path).name
    assert name == f"operation-index-{search_module.models.botocore_version()}.json"


def test_an_unwritable_cache_folder_still_gives_an_index_and_says_why_it_is_not_cached(
    index: OperationIndex, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The image's read-only cache folder with a stale index: built in memory, a warning, no failure."""
    monkeypatch.setattr(search_module, "build_index_data", _fake_builder(_cached_data(cache_dir), []))
    monkeypatch.setattr(search_module, "_write_atomically", _raise_read_only)
    with caplog.at_level("WARNING"):
        loaded = OperationIndex.load(tmp_path / "read-only")
    assert loaded.search("who am i", limit=1)[0].operation == "GetCallerIdentity"
    assert "not cached" in caplog.text and "Read-only file system" in caplog.text


def _raise_read_only(path: Path, text: str) -> None:
    raise OSError(30, "Read-only file system")


def test_later_queries_take_milliseconds(index: OperationIndex) -> None:
    durations = []
    for query, _, _ in ACCURACY_TABLE:
        start = time.perf_counter()
        index.search(query)
        durations.append(time.perf_counter() - start)
    durations.sort()
    median, worst = durations[len(durations) // 2], durations[-1]
    print(f"\nper query: median {median * 1000:.1f}ms, max {worst * 1000:.1f}ms")
    assert median < 0.02


def test_service_hint_boosts_the_named_service(index: OperationIndex) -> None:
    assert index.search("list buckets", limit=1)[0].service == "s3"
    hinted = index.search("list buckets", service_hint="s3control", limit=3)
    assert [hit.service for hit in hinted] == ["s3control"] * 3


@pytest.mark.parametrize("hint", ["ec2", "EC2", "Amazon EC2", "amazon elastic compute cloud"])
def test_service_hint_accepts_friendly_names(index: OperationIndex, hint: str) -> None:
    assert {hit.service for hit in index.search("delete", service_hint=hint, limit=5)} == {"ec2"}


@pytest.mark.parametrize(
    "name, service",
    [
        ("Secrets Manager", "secretsmanager"),
        ("Lambda", "lambda"),
        ("Route 53", "route53"),
        ("CloudWatch Logs", "logs"),
        ("DynamoDB", "dynamodb"),
        ("elbv2", "elbv2"),
    ],
)
def test_friendly_service_names_resolve_to_botocore_names(index: OperationIndex, name: str, service: str) -> None:
    assert index.resolve_service(name) == service


def test_unknown_service_hint_is_ignored(index: OperationIndex) -> None:
    assert index.search("list buckets", service_hint="no such service") == index.search("list buckets")


def test_limit_is_honoured(index: OperationIndex) -> None:
    assert len(index.search("list", limit=3)) == 3
    assert len(index.search("list")) == 10
    assert index.search("list", limit=0) == []


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "the of a", "xyzzy qwerty"])
def test_blank_stopword_or_unknown_queries_return_nothing(index: OperationIndex, query: str) -> None:
    assert index.search(query) == []


def test_hits_carry_plain_text_description_and_class(index: OperationIndex) -> None:
    hit = index.search("read a secret value", limit=1)[0]
    assert (hit.service, hit.operation, hit.op_class) == ("secretsmanager", "GetSecretValue", "sensitive")
    assert hit.description.startswith("Retrieves the contents of the encrypted fields")
    assert "<" not in hit.description
    assert hit.score > 0


def test_hits_are_ordered_by_score(index: OperationIndex) -> None:
    scores = [hit.score for hit in index.search("describe instances")]
    assert scores == sorted(scores, reverse=True)


def test_first_sentence_skips_notes_and_html() -> None:
    doc = (
        "<note> <p>This operation is not supported for directory buckets.</p> </note> "
        "<p>Returns a list of all buckets owned by the <code>authenticated</code> sender. More text.</p>"
    )
    assert first_sentence(doc) == "Returns a list of all buckets owned by the authenticated sender."


def test_stem_maps_word_families_together() -> None:
    assert stem("buckets") == stem("bucket")
    assert stem("policies") == stem("policy")
    assert stem("invalidation") == stem("invalidate")
    assert stem("stopped") == stem("stop")
    assert stem("amis") == stem("ami")
    assert stem("s3") == "s3"


def _wait_for(condition: Callable[[], object], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.anyio
async def test_a_server_started_without_a_cached_index_builds_it_before_any_search(
    index: OperationIndex, cache_dir: Path, make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(search_module, "build_index_data", _fake_builder(_cached_data(cache_dir), calls))
    empty = tmp_path / "cache"
    with serve(make_settings(AWS_MCP_CACHE_DIR=str(empty)), build_index=True) as running:
        _wait_for(OperationIndex.cache_path(empty).is_file)
        async with connect(running.url) as client:
            found = await ok(client, "search_operations", query="who am i", limit=1)
    assert found["matches"][0]["operation"] == "GetCallerIdentity"
    assert calls == [1]


@pytest.mark.anyio
async def test_a_search_during_the_start_up_build_waits_for_it_while_other_tools_answer(
    index: OperationIndex, cache_dir: Path, make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, calls, building, release = _cached_data(cache_dir), [], threading.Event(), threading.Event()

    def slow_build() -> dict:
        calls.append(1)
        building.set()
        release.wait(60)
        return data

    monkeypatch.setattr(search_module, "build_index_data", slow_build)
    found: dict = {}

    async def search(client) -> None:
        found.update(await ok(client, "search_operations", query="who am i", limit=1))

    try:
        with serve(make_settings(AWS_MCP_CACHE_DIR=str(tmp_path)), build_index=True) as running:
            assert building.wait(30)
            async with connect(running.url) as client:
                assert (await ok(client, "list_accounts"))["accounts"]  # the event loop is not blocked by the build
                async with anyio.create_task_group() as group:
                    group.start_soon(search, client)
                    await anyio.sleep(0.5)
                    assert not found
                    release.set()
    finally:
        release.set()
    assert found["matches"][0]["operation"] == "GetCallerIdentity"
    assert calls == [1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("variable", [None, "XDG_CACHE_HOME", "AWS_MCP_CACHE_DIR"])
def test_installing_the_environment_prebuilds_the_index_where_the_server_looks_and_survives_a_failure(
    variable: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make`'s venv targets against a stand-in python that logs its arguments and fails the index build."""
    venv, calls = tmp_path / "venv", tmp_path / "calls"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\ncase "$*" in *catalog.search*) exit 1;; esac\n')
    python.chmod(0o755)
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    if variable:
        environment[variable] = str(tmp_path / variable.lower())
    made = subprocess.run(
        ["make", f"VENV={venv}", f"{venv}/.runtime", f"{venv}/.dev"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert (venv / ".runtime").is_file() and (venv / ".dev").is_file()
    assert "index not prebuilt" in made.stderr
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    expected = load_settings(environment, env_file=None).index_cache_dir
    builds = [line for line in calls.read_text().splitlines() if "catalog.search" in line]
    assert builds == [f"-m catalog.search {expected}"] * 2
