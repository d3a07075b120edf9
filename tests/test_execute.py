"""search_operations, get_operation_schema and execute, driven by the MCP client against moto."""

import base64
import io
import json
import zipfile

import pytest

from sandbox import PROD_ACCOUNT
from tests.conftest import connect, serve
from tests.helpers import audit_records, error_of, fails, ok

pytestmark = pytest.mark.anyio

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


async def invoke(client, service: str, operation: str, payload: dict | None = None, **arguments) -> dict:
    outcome = await ok(
        client, "execute", action="invoke", service=service, operation=operation, payload=payload or {}, **arguments
    )
    return outcome["response"]


async def invoke_fails(client, service: str, operation: str, payload: dict | None = None, **arguments) -> dict:
    return await fails(
        client, "execute", action="invoke", service=service, operation=operation, payload=payload or {}, **arguments
    )


async def validate(client, service: str, operation: str, payload: dict, **arguments) -> dict:
    outcome = await ok(
        client, "execute", action="validate", service=service, operation=operation, payload=payload, **arguments
    )
    return outcome["validation"]


# --- search and schema -------------------------------------------------------------------------------


async def test_search_finds_operations_from_plain_words_with_their_class(client):
    matches = (await ok(client, "search_operations", query="list running ec2 instances"))["matches"]
    assert (matches[0]["service"], matches[0]["operation"]) == ("ec2", "DescribeInstances")
    assert matches[0]["op_class"] == "read" and matches[0]["description"]
    whoami = (await ok(client, "search_operations", query="who am i", limit=3))["matches"]
    assert ("sts", "GetCallerIdentity") in [(m["service"], m["operation"]) for m in whoami]
    hinted = (await ok(client, "search_operations", query="delete a queue", service_hint="sqs", limit=1))["matches"]
    assert hinted == [hinted[0]] and (hinted[0]["service"], hinted[0]["op_class"]) == ("sqs", "destructive")


async def test_schema_accepts_cli_spelling_and_says_class_and_paging(client):
    schema = await ok(client, "get_operation_schema", service="EC2", operation="describe-instances")
    assert (schema["service"], schema["operation"], schema["op_class"]) == ("ec2", "DescribeInstances", "read")
    assert schema["paginates"] is True
    assert schema["input_schema"]["properties"]["Filters"]["type"] == "array"
    put_item = await ok(client, "get_operation_schema", service="dynamodb", operation="PutItem")
    assert put_item["op_class"] == "write" and "AttributeValue" in put_item["input_schema"]["$defs"]
    assert "TableName" in put_item["input_schema"]["required"]


async def test_unknown_operation_is_a_clear_error_with_suggestions(client):
    error = await fails(client, "get_operation_schema", service="s3", operation="list-object")
    assert error["code"] == "unknown_operation" and "ListObjects" in error["message"]
    error = await invoke_fails(client, "ec3", "DescribeInstances")
    assert error["code"] == "unknown_operation" and "ec2" in error["message"]


# --- validate -----------------------------------------------------------------------------------------


async def test_validate_names_missing_and_mistyped_fields_without_echoing_values(client):
    missing = await validate(client, "s3", "PutObject", {"Key": "k"})
    assert missing["valid"] is False and any('"Bucket"' in error for error in missing["errors"])
    mistyped = await validate(client, "s3", "ListObjectsV2", {"Bucket": "b", "MaxKeys": "ten-secret-ish"})
    assert any("MaxKeys" in error for error in mistyped["errors"])
    assert "ten-secret-ish" not in json.dumps(mistyped)
    unknown = await validate(client, "sqs", "CreateQueue", {"QueueName": "q", "Colour": "red"})
    assert any("Colour" in error for error in unknown["errors"])


async def test_validate_serializes_and_reports_class_policy_and_tokens_without_calling_aws(client, audit_file):
    report = await validate(client, "ec2", "RunInstances", {"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1})
    assert report["valid"] is True and report["errors"] == []
    assert report["http_request"] == "POST /"
    assert report["filled_idempotency_tokens"] == ["ClientToken"]
    assert (report["op_class"], report["policy"], report["needs_confirmation"]) == ("write", "allow", False)
    deleting = await validate(client, "s3", "DeleteBucket", {"Bucket": "b"}, account="prod")
    assert deleting["op_class"] == "destructive" and deleting["needs_confirmation"] is True
    assert deleting["http_request"] == "DELETE /b"
    await validate(client, "s3", "CreateBucket", {"Bucket": "never-created"})
    assert (await invoke(client, "s3", "ListBuckets"))["result"]["Buckets"] == []
    assert [record["operation"] for record in audit_records(audit_file)][:-1] == [None] * 3


async def test_validate_reports_a_policy_denial(make_settings):
    with serve(make_settings(AWS_MCP_READ_ONLY="true")) as running:
        async with connect(running.url) as client:
            report = await validate(client, "sqs", "CreateQueue", {"QueueName": "q"})
            assert (report["valid"], report["policy"]) == (False, "deny")
            assert "AWS_MCP_READ_ONLY" in report["policy_rule"]
            error = await invoke_fails(client, "sqs", "CreateQueue", {"QueueName": "q"})
            assert error["code"] == "policy_denied"


# --- invoke across services ---------------------------------------------------------------------------


async def test_invoke_s3_round_trip_with_base64_bodies(client):
    await invoke(client, "s3", "CreateBucket", {"Bucket": "data"})
    body = base64.b64encode(b"hello from execute").decode()
    written = await invoke(client, "s3", "PutObject", {"Bucket": "data", "Key": "a.txt", "Body": body})
    assert written["op_class"] == "write" and written["result"]["ETag"]
    read = await invoke(client, "s3", "get-object", {"Bucket": "data", "Key": "a.txt"})
    assert read["result"]["Body"] == "hello from execute" and read["result"]["ContentLength"] == 18
    error = await invoke_fails(client, "s3", "PutObject", {"Bucket": "data", "Key": "b", "Body": "not base64!"})
    assert error["code"] == "invalid_input" and "Body" in error["message"]


async def test_invoke_sqs_send_and_receive(client):
    queue = (await invoke(client, "sqs", "CreateQueue", {"QueueName": "jobs"}))["result"]["QueueUrl"]
    await invoke(client, "sqs", "SendMessage", {"QueueUrl": queue, "MessageBody": "job-1"})
    received = await invoke(client, "sqs", "ReceiveMessage", {"QueueUrl": queue, "WaitTimeSeconds": 0})
    assert [m["Body"] for m in received["result"]["Messages"]] == ["job-1"]


async def test_invoke_dynamodb_with_nested_attribute_values(client):
    await invoke(
        client,
        "dynamodb",
        "CreateTable",
        {
            "TableName": "things",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    item = {
        "id": {"S": "1"},
        "tags": {"L": [{"S": "a"}, {"M": {"deep": {"N": "2"}}}]},
        "raw": {"B": base64.b64encode(b"\x00\x01").decode()},
    }
    await invoke(client, "dynamodb", "PutItem", {"TableName": "things", "Item": item})
    got = await invoke(client, "dynamodb", "GetItem", {"TableName": "things", "Key": {"id": {"S": "1"}}})
    assert got["result"]["Item"]["tags"] == item["tags"]
    assert got["result"]["Item"]["raw"]["B"] == {"base64": "AAE="}


async def test_invoke_ec2_fills_idempotency_token_and_filters_with_jmespath(client):
    images = await invoke(
        client, "ec2", "DescribeImages", {"Owners": ["amazon"]}, options={"query": "Images[0].ImageId"}
    )
    launched = await invoke(
        client,
        "ec2",
        "RunInstances",
        {"ImageId": images["result"], "MinCount": 2, "MaxCount": 2, "InstanceType": "t3.micro"},
    )
    assert set(launched["idempotency_tokens"]) == {"ClientToken"}
    running = await invoke(
        client,
        "ec2",
        "DescribeInstances",
        {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}]},
        options={"query": "Reservations[].Instances[].InstanceType"},
    )
    assert running["result"] == ["t3.micro", "t3.micro"]


async def test_invoke_iam_in_another_account_and_sns(client):
    created = await invoke(
        client,
        "iam",
        "CreateRole",
        {"RoleName": "app", "AssumeRolePolicyDocument": json.dumps(TRUST_POLICY)},
        account="prod",
    )
    assert created["result"]["Role"]["Arn"] == f"arn:aws:iam::{PROD_ACCOUNT}:role/app"
    assert created["target"]["account"] == "prod"
    names = await invoke(client, "iam", "ListRoles", account="prod", options={"query": "Roles[].RoleName"})
    assert "app" in names["result"]
    assert "app" not in (await invoke(client, "iam", "ListRoles", options={"query": "Roles[].RoleName"}))["result"]
    topic = (await invoke(client, "sns", "CreateTopic", {"Name": "alerts"}))["result"]["TopicArn"]
    published = await invoke(client, "sns", "Publish", {"TopicArn": topic, "Message": "disk full"})
    assert published["result"]["MessageId"]
    assert (await invoke(client, "sns", "ListTopics", options={"query": "Topics[].TopicArn"}))["result"] == [topic]


async def test_destructive_invoke_needs_confirmation_through_the_one_token_parameter(client):
    await invoke(client, "sqs", "CreateQueue", {"QueueName": "old"})
    url = (await invoke(client, "sqs", "GetQueueUrl", {"QueueName": "old"}))["result"]["QueueUrl"]
    asked = await invoke_fails(client, "sqs", "DeleteQueue", {"QueueUrl": url})
    assert asked["code"] == "confirmation_required" and "sqs DeleteQueue" in asked["action"]
    assert (await invoke(client, "sqs", "ListQueues"))["result"]["QueueUrls"] == [url]
    misplaced = await client.call_tool(
        "execute",
        {
            "action": "invoke",
            "service": "sqs",
            "operation": "DeleteQueue",
            "payload": {"QueueUrl": url},
            "options": {"confirmation_token": asked["confirmation_token"]},
        },
    )
    assert misplaced.is_error and "confirmation_token" in misplaced.content[0].text
    assert (await invoke(client, "sqs", "ListQueues"))["result"]["QueueUrls"] == [url]
    await invoke(client, "sqs", "DeleteQueue", {"QueueUrl": url}, confirmation_token=asked["confirmation_token"])
    assert "QueueUrls" not in (await invoke(client, "sqs", "ListQueues"))["result"]


# --- pagination and output cap ------------------------------------------------------------------------


async def _bucket_with_objects(client, count: int) -> None:
    await invoke(client, "s3", "CreateBucket", {"Bucket": "many"})
    for index in range(count):
        await invoke(client, "s3", "PutObject", {"Bucket": "many", "Key": f"k{index:03}", "Body": ""})


async def test_pagination_pages_with_max_items_and_next_token(client):
    await _bucket_with_objects(client, 25)
    keys, token, pages = [], None, 0
    while True:
        options = {"max_items": 10, "query": "Contents[].Key"} | ({"next_token": token} if token else {})
        page = await invoke(client, "s3", "ListObjectsV2", {"Bucket": "many"}, options=options)
        keys += page["result"]
        token, pages = page["next_token"], pages + 1
        if not token:
            break
    assert pages == 3 and keys == [f"k{i:03}" for i in range(25)]
    manual = await invoke(client, "s3", "ListObjectsV2", {"Bucket": "many", "MaxKeys": 5})
    assert len(manual["result"]["Contents"]) == 5 and manual["result"]["IsTruncated"] is True
    error = await invoke_fails(client, "s3", "PutObject", {"Bucket": "many", "Key": "x"}, options={"max_items": 3})
    assert "does not paginate" in error["message"]


async def test_large_results_are_cut_with_a_marker_and_a_way_to_narrow(make_settings):
    with serve(make_settings(AWS_MCP_MAX_OUTPUT_BYTES="3000")) as running:
        async with connect(running.url) as client:
            await _bucket_with_objects(client, 40)
            listed = await invoke(client, "s3", "ListObjectsV2", {"Bucket": "many"})
            truncation = listed["truncation"]
            assert truncation["original_bytes"] > 3000 >= truncation["returned_bytes"]
            [omitted] = truncation["omitted"]
            assert omitted["path"] == "Contents" and omitted["total"] == 40
            assert len(listed["result"]["Contents"]) == omitted["kept"] < 40
            assert "options.query" in truncation["hint"]
            narrowed = await invoke(
                client, "s3", "ListObjectsV2", {"Bucket": "many"}, options={"query": "Contents[].Key"}
            )
            assert narrowed["truncation"] is None and len(narrowed["result"]) == 40


# --- local files ------------------------------------------------------------------------------------------


@pytest.fixture
def files_root(tmp_path):
    root = tmp_path / "files"
    (root / "site" / "css").mkdir(parents=True)
    (root / "site" / "index.html").write_text("<h1>hi</h1>")
    (root / "site" / "css" / "app.css").write_text("h1{}")
    (root / "trust.json").write_text(json.dumps(TRUST_POLICY))
    (root / "fn").mkdir()
    (root / "fn" / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    (root / "fn" / "bootstrap").write_text("#!/bin/sh\n")
    (root / "fn" / "bootstrap").chmod(0o755)
    return root


async def test_path_values_read_files_zip_lambda_code_and_upload_folders(make_settings, files_root, audit_file):
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root))) as running:
        async with connect(running.url) as client:
            role = await invoke(
                client, "iam", "CreateRole", {"RoleName": "fn", "AssumeRolePolicyDocument": {"$path": "trust.json"}}
            )
            assert "lambda.amazonaws.com" in json.dumps(role["result"]["Role"]["AssumeRolePolicyDocument"])
            assert role["local_files"] == ["trust.json"]
            function = await invoke(
                client,
                "lambda",
                "CreateFunction",
                {
                    "FunctionName": "fn",
                    "Runtime": "python3.12",
                    "Role": role["result"]["Role"]["Arn"],
                    "Handler": "handler.handler",
                    "Code": {"ZipFile": {"$path": "fn"}},
                },
            )
            zipped = running.server.app.runtime.files.zip_folder("fn")
            assert function["result"]["CodeSize"] == len(zipped)
            with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
                assert sorted(archive.namelist()) == ["bootstrap", "handler.py"]
                assert archive.getinfo("bootstrap").external_attr >> 16 & 0o777 == 0o755
            await invoke(client, "s3", "CreateBucket", {"Bucket": "web"})
            uploaded = await invoke(
                client, "s3", "PutObject", {"Bucket": "web", "Key": "v1", "Body": {"$path": "site"}}
            )
            assert [u["key"] for u in uploaded["result"]["uploaded"]] == ["v1/index.html", "v1/css/app.css"]
            head = await invoke(client, "s3", "HeadObject", {"Bucket": "web", "Key": "v1/index.html"})
            assert head["result"]["ContentType"] == "text/html"
    records = audit_records(audit_file)
    folder_record = next(r for r in records if r["tool"] == "execute" and r.get("calls"))
    assert [c["params"]["Key"] for c in folder_record["calls"]] == ["v1/index.html", "v1/css/app.css"]


async def test_path_escapes_and_oversized_files_are_refused_without_reading(
    make_settings, files_root, tmp_path, audit_file
):
    canary = "canary-6a1f-must-not-leak"
    outside = tmp_path / "outside.txt"
    outside.write_text(canary)
    (files_root / "leak").symlink_to(outside)
    (files_root / "big.bin").write_bytes(b"x" * 2048)
    attempts = {
        "../outside.txt": "'..'",
        str(outside): "outside the files root",
        "leak": "outside the files root",
        "~/outside.txt": "~",
        "big.bin": "larger than",
        "missing.txt": "does not exist",
    }
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root), AWS_MCP_MAX_FILE_BYTES="1024")) as running:
        async with connect(running.url) as client:
            await invoke(client, "s3", "CreateBucket", {"Bucket": "bkt"})
            texts = []
            for path, reason in attempts.items():
                result = await client.call_tool(
                    "execute",
                    {
                        "action": "invoke",
                        "service": "s3",
                        "operation": "PutObject",
                        "payload": {"Bucket": "bkt", "Key": "k", "Body": {"$path": path}},
                    },
                )
                assert result.is_error and error_of(result)["code"] == "local_file_refused"
                assert reason in error_of(result)["message"], path
                texts.append(result.content[0].text)
            assert "Contents" not in (await invoke(client, "s3", "ListObjectsV2", {"Bucket": "bkt"}))["result"]
    assert canary not in "".join(texts) + audit_file.read_text()


async def test_without_a_files_root_no_local_file_is_read(client):
    payload = {"Bucket": "b", "Key": "k", "Body": {"$path": "x"}}
    report = await validate(client, "s3", "PutObject", payload)
    assert report["valid"] is False and "not enabled" in report["errors"][0]
    error = await invoke_fails(client, "s3", "PutObject", payload)
    assert error["code"] == "local_file_refused" and "AWS_MCP_FILES_ROOT" in error["hint"]


@pytest.mark.timeout(20)
async def test_a_fifo_in_the_files_root_is_refused_without_blocking_a_worker(make_settings, files_root, site_pipe):
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root))) as running:
        async with connect(running.url) as client:
            await invoke(client, "s3", "CreateBucket", {"Bucket": "bkt"})
            for path in ("site/pipe", "site"):
                error = await invoke_fails(
                    client, "s3", "PutObject", {"Bucket": "bkt", "Key": "k", "Body": {"$path": path}}
                )
                assert error["code"] == "local_file_refused", error
                assert "'site/pipe' is a FIFO" in error["message"]
            code = {"FunctionName": "fn", "ZipFile": {"$path": "site"}}
            report = await validate(client, "lambda", "UpdateFunctionCode", code)
            assert report["valid"] is False and "'site/pipe' is a FIFO" in report["errors"][0]
            assert "Contents" not in (await invoke(client, "s3", "ListObjectsV2", {"Bucket": "bkt"}))["result"]


async def test_absolute_paths_inside_the_files_root_are_accepted(make_settings, files_root):
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root))) as running:
        async with connect(running.url) as client:
            trust = {"$path": str(files_root / "trust.json")}
            role = await invoke(client, "iam", "CreateRole", {"RoleName": "fn", "AssumeRolePolicyDocument": trust})
            assert "lambda.amazonaws.com" in json.dumps(role["result"]["Role"]["AssumeRolePolicyDocument"])
            await invoke(client, "s3", "CreateBucket", {"Bucket": "web"})
            folder = {"Bucket": "web", "Key": "v1", "Body": {"$path": f"{files_root}/site/"}}
            uploaded = await invoke(client, "s3", "PutObject", folder)
            assert [u["key"] for u in uploaded["result"]["uploaded"]] == ["v1/index.html", "v1/css/app.css"]


async def test_instructions_tell_the_model_the_files_root_and_its_limits(make_settings, files_root, client):
    assert "Local files are off" in client.instructions
    with serve(make_settings(AWS_MCP_FILES_ROOT=str(files_root), AWS_MCP_MAX_FILE_BYTES="1024")) as running:
        async with connect(running.url) as files_client:
            instructions = files_client.instructions
    assert f"Local files: {files_root.resolve()}" in instructions
    assert "1,024 bytes" in instructions and "Local files are off" not in instructions
