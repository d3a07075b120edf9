"""execute_aws_read_command and execute_aws_write_command: AWS CLI syntax, in-process, through the guard."""

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox import PROD_ACCOUNT
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import audit_records, error_of, fails, lambda_function, ok

pytestmark = pytest.mark.anyio


async def read(client, command: str, **arguments) -> dict:
    return await ok(client, "execute_aws_read_command", command=command, **arguments)


async def write(client, command: str, **arguments) -> dict:
    return await ok(client, "execute_aws_write_command", command=command, **arguments)


@pytest.fixture
def files_root(tmp_path):
    root = tmp_path / "files"
    (root / "site" / "img").mkdir(parents=True)
    (root / "site" / "index.html").write_text("<h1>hello</h1>")
    (root / "site" / "draft.tmp").write_text("scratch")
    (root / "site" / "img" / "logo.svg").write_text("<svg/>")
    (root / "notes.txt").write_text("release notes")
    return root


@pytest.fixture
async def files_client(make_settings, files_root):
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root))) as running:
        async with connect(running.url) as client:
            yield client


async def test_read_commands_run_api_operations_with_query_and_paging(client):
    await write(client, "s3api create-bucket --bucket logs")
    for index in range(5):
        await write(client, f"aws s3api put-object --bucket logs --key day-{index}")
    listed = await read(client, "s3api list-objects-v2 --bucket logs --query 'Contents[].Key'")
    assert (listed["service"], listed["operation"], listed["op_class"]) == ("s3", "ListObjectsV2", "read")
    assert listed["result"] == [f"day-{i}" for i in range(5)]
    page = await read(client, "s3api list-objects-v2 --bucket logs --max-items 2 --query Contents[].Key")
    assert page["result"] == ["day-0", "day-1"] and page["next_token"]
    following = await read(
        client, f"s3api list-objects-v2 --bucket logs --max-items 2 --starting-token {page['next_token']}"
    )
    assert [o["Key"] for o in following["result"]["Contents"]] == ["day-2", "day-3"]


async def test_ec2_filters_in_shorthand_syntax(client):
    images = await read(client, "ec2 describe-images --owners amazon --query 'Images[0].ImageId'")
    await write(client, f"ec2 run-instances --image-id {images['result']} --count 1 --instance-type t3.nano")
    running = await read(
        client,
        "ec2 describe-instances --filters Name=instance-state-name,Values=running "
        "--query 'Reservations[].Instances[].InstanceType'",
    )
    assert running["result"] == ["t3.nano"]


async def test_profile_and_region_in_the_command_are_the_target(client):
    queue = await write(client, "--region eu-west-1 sqs create-queue --queue-name jobs")
    assert queue["target"]["region"] == "eu-west-1"
    assert (await read(client, "sqs list-queues --region eu-west-1"))["result"]["QueueUrls"] == [
        queue["result"]["QueueUrl"]
    ]
    assert "QueueUrls" not in (await read(client, "sqs list-queues", region="us-east-1"))["result"]
    assert (await read(client, "sqs list-queues --region eu-west-1", account="staging"))["target"][
        "account"
    ] == "staging"
    conflict = await fails(
        client, "execute_aws_read_command", command="sqs list-queues --region eu-west-1", region="us-east-1"
    )
    assert conflict["code"] == "command_refused" and "region" in conflict["message"]
    identity = await read(client, "sts get-caller-identity", account="prod")
    assert identity["result"]["Account"] == PROD_ACCOUNT


async def test_high_level_s3_commands_work(files_client, files_root):
    client = files_client
    made = await write(client, "s3 mb s3://site-bucket --region eu-west-1")
    assert made["result"] == {"created": "s3://site-bucket", "region": "eu-west-1"}
    assert [b["name"] for b in (await read(client, "s3 ls"))["result"]["buckets"]] == ["site-bucket"]
    uploaded = await write(client, "s3 cp site s3://site-bucket/www/ --recursive --exclude '*.tmp'")
    assert uploaded["result"]["count"] == 2
    single = await write(client, "s3 cp notes.txt s3://site-bucket/")
    assert single["result"]["copied"] == [{"action": "upload", "from": "notes.txt", "to": "s3://site-bucket/notes.txt"}]
    top = (await read(client, "s3 ls s3://site-bucket/"))["result"]
    assert top["prefixes"] == ["www/"] and [o["key"] for o in top["objects"]] == ["notes.txt"]
    everything = (await read(client, "s3 ls s3://site-bucket --recursive --summarize"))["result"]
    assert [o["key"] for o in everything["objects"]] == ["notes.txt", "www/img/logo.svg", "www/index.html"]
    assert everything["total_objects"] == 3
    head = await read(client, "s3api head-object --bucket site-bucket --key www/index.html")
    assert head["result"]["ContentType"] == "text/html"
    await write(client, "s3 cp s3://site-bucket/www/ downloaded/ --recursive")
    assert (files_root / "downloaded" / "img" / "logo.svg").read_text() == "<svg/>"
    await write(client, "s3 cp s3://site-bucket/notes.txt s3://site-bucket/archive/notes.txt")
    assert (await read(client, "s3api get-object --bucket site-bucket --key archive/notes.txt out.txt"))["result"][
        "Body"
    ] == "release notes"
    planned = await write(client, "s3 rm s3://site-bucket/www --recursive --dryrun")
    assert planned["result"]["count"] == 2 and planned["result"]["dryrun"] is True

    asked = await fails(client, "execute_aws_write_command", command="s3 rm s3://site-bucket/www/ --recursive")
    assert asked["code"] == "confirmation_required" and "delete 2 objects" in asked["action"]
    removed = await write(
        client, "s3 rm s3://site-bucket/www/ --recursive", confirmation_token=asked["confirmation_token"]
    )
    assert removed["result"]["deleted"] == 2
    for key in ("notes.txt", "archive/notes.txt"):
        asked = await fails(client, "execute_aws_write_command", command=f"s3 rm s3://site-bucket/{key}")
        await write(client, f"s3 rm s3://site-bucket/{key}", confirmation_token=asked["confirmation_token"])
    asked = await fails(client, "execute_aws_write_command", command="s3 rb s3://site-bucket")
    await write(client, "s3 rb s3://site-bucket", confirmation_token=asked["confirmation_token"])
    assert (await read(client, "s3 ls"))["result"]["buckets"] == []


async def test_rb_force_on_a_full_bucket_is_refused_and_mv_sync_point_elsewhere(client):
    await write(client, "s3api create-bucket --bucket full")
    await write(client, "s3api put-object --bucket full --key k")
    forced = await fails(client, "execute_aws_write_command", command="s3 rb s3://full --force")
    assert forced["code"] == "command_refused" and "s3 rm s3://full --recursive" in forced["hint"]
    for command in ("s3 mv s3://full/k s3://full/j", "s3 sync s3://full s3://other"):
        assert (await fails(client, "execute_aws_write_command", command=command))["code"] == "command_refused"


@pytest.mark.timeout(30)
async def test_special_files_are_refused_without_blocking_and_can_be_excluded(files_client, site_pipe):
    await write(files_client, "s3 mb s3://bkt")
    await write(files_client, "s3 cp notes.txt s3://bkt/notes.txt")
    for command in (
        "s3 cp site/pipe s3://bkt/k",
        "s3 cp site s3://bkt/www/ --recursive",
        "s3 cp s3://bkt/notes.txt site/pipe",
    ):
        error = await fails(files_client, "execute_aws_write_command", command=command)
        assert error["code"] == "local_file_refused" and "'site/pipe' is a FIFO" in error["message"], command
    uploaded = await write(files_client, "s3 cp site s3://bkt/www/ --recursive --exclude pipe")
    assert uploaded["result"]["count"] == 3


async def test_hard_links_in_the_files_root_are_neither_read_nor_written(files_client, files_root):
    outside = files_root.parent / "outside.txt"
    outside.write_text(CANARY)
    os.link(outside, files_root / "twin.txt")
    await write(files_client, "s3 mb s3://bkt")
    await write(files_client, "s3 cp notes.txt s3://bkt/notes.txt")
    for command in ("s3 cp twin.txt s3://bkt/k", "s3 cp s3://bkt/notes.txt twin.txt"):
        result = await files_client.call_tool("execute_aws_write_command", {"command": command})
        error = error_of(result)
        assert error["code"] == "local_file_refused" and "2 hard links" in error["message"], command
        assert CANARY not in result.content[0].text
    assert outside.read_text() == CANARY
    assert "Contents" not in (await read(files_client, "s3api list-objects-v2 --bucket bkt --prefix k"))["result"]


# --- more objects than a page or the output cap -------------------------------------------------------------

MANY = 1_200
MANY_KEYS = [f"logs/2024/05/17/application-server-{index:04d}.log" for index in range(MANY)]
MANY_BYTES = sum(index % 10 for index in range(MANY))


def seed_many(aws) -> Any:
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="big")
    for index, key in enumerate(MANY_KEYS):
        s3.put_object(Bucket="big", Key=key, Body=b"x" * (index % 10))
    s3.put_object(Bucket="big", Key="other/keep.txt", Body=b"keep")
    return s3


def keys_under(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="big", Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.mark.timeout(120)
async def test_ls_summarize_counts_every_object_and_says_where_the_listing_stops(client, aws):
    seed_many(aws)
    listed = (await read(client, "s3 ls s3://big/logs/ --recursive --summarize"))["result"]
    assert (listed["total_objects"], listed["total_size"]) == (MANY, MANY_BYTES)
    shown = [item["key"] for item in listed["objects"]]
    assert shown == MANY_KEYS[: len(shown)] and 0 < len(shown) < MANY
    assert listed["listed"] == len(shown)
    continuation = listed["more"].split("`")[1]
    assert continuation == f"s3api list-objects-v2 --bucket big --prefix logs/ --start-after {shown[-1]}"
    following = await read(client, continuation + " --max-items 3 --query Contents[].Key")
    assert following["result"] == MANY_KEYS[len(shown) : len(shown) + 3]


@pytest.mark.timeout(300)
async def test_cp_recursive_copies_every_object_past_the_output_cap_and_never_its_own_copies(client, aws):
    s3 = seed_many(aws)
    copied = (await write(client, "s3 cp s3://big/logs/ s3://big/logs/copy/ --recursive"))["result"]
    assert copied["count"] == MANY and copied["listed"] == len(copied["copied"]) < MANY
    assert keys_under(s3, "logs/copy/") == [key.replace("logs/", "logs/copy/", 1) for key in MANY_KEYS]
    assert len(keys_under(s3, "logs/")) == 2 * MANY


@pytest.mark.timeout(120)
async def test_rm_recursive_deletes_1000_and_says_exactly_how_many_are_left(client, aws):
    s3 = seed_many(aws)
    planned = (await write(client, "s3 rm s3://big/logs/ --recursive --dryrun"))["result"]
    assert (planned["count"], planned["matched"]) == (1_000, MANY)
    asked = await fails(client, "execute_aws_write_command", command="s3 rm s3://big/logs/ --recursive")
    assert f"delete 1000 of {MANY} objects" in asked["action"]
    first = await write(client, "s3 rm s3://big/logs/ --recursive", confirmation_token=asked["confirmation_token"])
    assert (first["result"]["deleted"], first["result"]["matched"], first["result"]["left"]) == (1_000, MANY, 200)
    assert "200 matching objects were not deleted" in first["result"]["more"]
    assert keys_under(s3, "logs/") == MANY_KEYS[1_000:]
    asked = await fails(client, "execute_aws_write_command", command="s3 rm s3://big/logs/ --recursive")
    second = await write(client, "s3 rm s3://big/logs/ --recursive", confirmation_token=asked["confirmation_token"])
    assert (second["result"]["deleted"], second["result"]["matched"], second["result"]["left"]) == (200, 200, 0)
    assert "more" not in second["result"]
    assert keys_under(s3, "") == ["other/keep.txt"]


# --- hostile input --------------------------------------------------------------------------------------

CANARY = "canary-91c3-local-secret"

HOSTILE_COMMANDS = [
    ("s3 ls; cat /etc/passwd", "command separators"),
    ("s3 ls | sh", "pipes"),
    ("s3 ls && curl http://198.51.100.7", "Shell syntax"),
    ("s3 ls || true", "Shell syntax"),
    ("s3 ls $(cat secret.txt)", "command substitution"),
    ("s3 ls `id`", "command substitution"),
    ("s3 ls > out.txt", "redirection"),
    ("s3 ls < secret.txt", "redirection"),
    ("s3 ls\nrm -rf /", "newline"),
    ("s3 ls --endpoint-url http://198.51.100.7", "--endpoint-url is not allowed"),
    ("s3 ls --debug", "--debug is not allowed"),
    ("s3 ls --no-verify-ssl", "--no-verify-ssl is not allowed"),
    ("s3 ls --no-sign-request", "--no-sign-request is not allowed"),
    ("s3 ls --ca-bundle secret.txt", "--ca-bundle is not allowed"),
    ("s3 ls --endpoint http://198.51.100.7", "--endpoint-url"),
    ("configure list", "configure"),
    ("configure set aws_secret_access_key x", "configure"),
    ("secretsmanager create-secret --name x --secret-string file://secret.txt", "file://"),
    ("s3api put-object --bucket b --key k --body fileb://secret.txt", "file://"),
    ("s3 cp ../secret-outside.txt s3://bucket/", "outside the files root"),
    ("s3 cp /etc/passwd s3://bucket/", "outside the files root"),
    ("s3 cp s3://bucket/k -", "stdin/stdout"),
]


@pytest.mark.parametrize(("command", "reason"), HOSTILE_COMMANDS, ids=[c for c, _ in HOSTILE_COMMANDS])
async def test_hostile_commands_are_refused_before_anything_runs(files_client, files_root, audit_file, command, reason):
    (files_root / "secret.txt").write_text(CANARY)
    (files_root.parent / "secret-outside.txt").write_text(CANARY)
    for tool in ("execute_aws_read_command", "execute_aws_write_command"):
        result = await files_client.call_tool(tool, {"command": command})
        assert result.is_error
        error = error_of(result)
        assert error["code"] == "command_refused" and reason in error["message"], error
        assert CANARY not in result.content[0].text
    records = audit_records(audit_file)
    assert [r["operation"] for r in records] == [None, None]
    assert CANARY not in audit_file.read_text()


DISGUISED_WRITES = [
    "ec2 terminate-instances --instance-ids i-0123456789abcdef0 --dry-run",
    "  --region   us-east-1    ec2   terminate-instances   --instance-ids i-0123456789abcdef0",
    "--output json --no-paginate s3api delete-bucket --bucket victim",
    "aws --query Foo sqs create-queue --queue-name q",
    "s3 rb s3://victim",
    "s3 cp notes.txt s3://victim/",
    "s3 rm s3://victim/k",
    "sts assume-role --role-arn arn:aws:iam::111111111111:role/ops-admin --role-session-name x",
    "sts get-session-token",
    "iam create-access-key --user-name admin",
    "secretsmanager get-secret-value --secret-id db",
    "ssm get-parameter --name /db/password --with-decryption",
    "dynamodb execute-statement --statement 'DELETE FROM t'",
]


@pytest.mark.parametrize("command", DISGUISED_WRITES)
async def test_read_tool_refuses_anything_not_classed_read(files_client, audit_file, command):
    error = await fails(files_client, "execute_aws_read_command", command=command)
    assert error["code"] == "not_a_read", error
    assert "execute_aws_write_command" in error["hint"]
    assert [r["operation"] for r in audit_records(audit_file)] == [None]


async def test_credential_minting_through_the_write_tool_masks_the_secrets(client, audit_file):
    minted = await write(client, "sts get-session-token")
    credentials = minted["result"]["Credentials"]
    assert credentials["SecretAccessKey"] == "***" and credentials["SessionToken"] == "***"
    assert credentials["AccessKeyId"] and credentials["Expiration"]
    assert "wJalrXUtnFEMI/K7MDENG" not in json.dumps(minted) + audit_file.read_text()  # moto's fixed secret
    assert [r["operation"] for r in audit_records(audit_file)] == ["sts:GetSessionToken"]


async def test_reads_mask_the_secrets_users_put_in_environments_and_a_sensitive_read_reveals_its_own(
    client, moto_endpoint, audit_file
):
    lambda_function(
        boto3.Session(ACCESS_KEY, SECRET_KEY),
        moto_endpoint,
        "masked-env",
        {"DB_PASSWORD": "hunter2-env", "DATABASE_URL": "postgres://app:hunter2-url@db/app", "LOG_LEVEL": "debug"},
    )
    await write(
        client, "secretsmanager create-secret --name masked-env --secret-string postgres://app:hunter2-s@db/app"
    )
    shown = await read(client, "lambda get-function-configuration --function-name masked-env")
    listed = await ok(client, "execute", action="invoke", service="lambda", operation="ListFunctions", payload={})
    revealed = await write(client, "secretsmanager get-secret-value --secret-id masked-env")
    expected = {"DB_PASSWORD": "***", "DATABASE_URL": "postgres://app:***@db/app", "LOG_LEVEL": "debug"}
    assert shown["result"]["Environment"]["Variables"] == expected
    (function,) = [f for f in listed["response"]["result"]["Functions"] if f["FunctionName"] == "masked-env"]
    assert function["Environment"]["Variables"] == expected
    assert revealed["op_class"] == "sensitive"
    assert revealed["result"]["SecretString"] == "postgres://app:hunter2-s@db/app"  # what the caller asked for
    assert "hunter2" not in audit_file.read_text()


async def test_commands_need_a_files_root_for_local_paths(client):
    error = await fails(client, "execute_aws_write_command", command="s3 cp notes.txt s3://bucket/")
    assert error["code"] == "command_refused" and "not enabled" in error["message"]


async def test_profile_in_the_command_selects_the_credentials(client):
    config, credentials = Path(os.environ["AWS_CONFIG_FILE"]), Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/ops"
    config.write_text(f"[profile ops]\nregion = eu-central-1\nrole_arn = {role}\nsource_profile = base\n")
    credentials.write_text("[base]\naws_access_key_id = AKIABASEPROFILE00001\naws_secret_access_key = base-secret\n")
    try:
        identity = await read(client, "sts get-caller-identity --profile ops")
        conflict = await fails(
            client, "execute_aws_read_command", command="sts get-caller-identity --profile ops", profile="dev"
        )
    finally:
        config.unlink()
        credentials.unlink()
    assert identity["result"]["Account"] == PROD_ACCOUNT
    assert identity["target"] == {"account": None, "profile": "ops", "role_arn": None, "region": "eu-central-1"}
    assert conflict["code"] == "command_refused" and "--profile ops" in conflict["message"]
