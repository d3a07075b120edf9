"""Per-call credentials: aliases, role assumption and its cache, isolation, per-session environments."""

import functools
import gc
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from dateutil.tz import tzlocal

from catalog import models
from core.calls import Target
from core.clients import AwsClients
from sandbox import PROD_ACCOUNT, assume
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import fails, ok

pytestmark = pytest.mark.anyio


async def test_secret_created_in_prod_is_invisible_in_default_account(client):
    await ok(client, "create_secret", name="prod-only", secret_string="v", account="prod")
    assert [s["name"] for s in (await ok(client, "list_secrets", account="prod"))["secrets"]] == ["prod-only"]
    assert (await ok(client, "list_secrets"))["secrets"] == []
    assert (await ok(client, "list_secrets", account="staging"))["secrets"] == []


async def test_alias_region_applies_unless_the_call_names_one(client):
    await ok(client, "create_secret", name="in-eu", secret_string="v", account="staging")
    assert (await ok(client, "describe_secret", secret_id="in-eu", account="staging"))["arn"].split(":")[3] == (
        "eu-west-1"
    )
    error = await fails(client, "describe_secret", secret_id="in-eu", account="staging", region="us-east-1")
    assert error["code"] == "ResourceNotFoundException"


async def test_role_arn_parameter_assumes_that_role(client):
    info = await ok(client, "get_account_info", role_arn="arn:aws:iam::333333333333:role/deploy")
    assert info["account"] == "333333333333"


async def test_many_calls_to_one_account_make_one_assume_role(client, served):
    for _ in range(30):
        await ok(client, "get_account_info", account="prod")
    clients = served.server.app.clients
    resolved = clients.resolve(Target(account="prod"))
    for _ in range(1000):
        clients.client(resolved, "secretsmanager")
    assert clients.assume_role_calls == 1


def test_assumed_credentials_are_refreshed_before_they_expire(make_settings):
    now = [datetime.now(tzlocal())]
    clients = AwsClients(make_settings(), clock=lambda: now[0])
    resolved = clients.resolve(Target(account="prod"))
    first = clients.frozen_credentials(resolved)
    assert clients.frozen_credentials(resolved) == first
    now[0] += timedelta(minutes=50)  # an hour-long session, 10 minutes from expiry
    refreshed = clients.frozen_credentials(resolved)
    assert clients.assume_role_calls == 2
    assert refreshed.access_key != first.access_key
    assert clients.client(resolved, "sts").get_caller_identity()["Account"] == PROD_ACCOUNT


def test_clients_read_models_through_the_catalogs_loader_without_editing_the_catalogs_copy(make_settings, monkeypatch):
    """One botocore loader per process: a model the catalog has loaded is not read again for a client, and the
    edits botocore makes to a model for its clients (S3 request URIs lose `/{Bucket}`) stay out of the catalog."""
    credentials_file = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    credentials_file.write_text("[base]\naws_access_key_id = AKIABASEPROFILE00001\naws_secret_access_key = s\n")
    clients = AwsClients(make_settings())
    try:
        client_models = clients._session.get_component("data_loader")
        assert client_models.loader is models.data_loader()
        assert clients._profile_session("base").get_component("data_loader") is client_models
    finally:
        credentials_file.unlink()
    models.service_model("s3")
    reads: list[str] = []
    real_load_file = models.data_loader().file_loader.load_file

    def recording_load_file(path: str) -> object:
        reads.append(str(path))
        return real_load_file(path)

    monkeypatch.setattr(models.data_loader().file_loader, "load_file", recording_load_file)
    s3 = clients.client(clients.resolve(Target(region="us-east-1")), "s3")
    s3.create_bucket(Bucket="one-loader")
    s3.delete_bucket(Bucket="one-loader")
    assert not [path for path in reads if f"{os.sep}s3{os.sep}" in path and path.endswith(f"{os.sep}service-2")]
    assert models.operation_model("s3", "DeleteBucket").http["requestUri"] == "/{Bucket}"


async def test_concurrent_calls_do_not_queue_behind_each_other(served):
    served.server.app.clients.on("before-send.sts.GetCallerIdentity", lambda **_: time.sleep(0.25))
    async with connect(served.url) as client:
        await ok(client, "get_account_info")  # warm the client cache before measuring
        # By now the session's heap holds millions of objects (every botocore model the classifier tests load):
        # a full collection takes seconds on a busy machine, and must not fall inside the measured window.
        gc.collect()
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(16):
                group.start_soon(functools.partial(ok, client, "get_account_info"))
        elapsed = time.perf_counter() - started
    assert elapsed < 16 * 0.25 / 3, f"16 calls of 0.25 s took {elapsed:.2f} s: they ran one after another"


async def test_unknown_alias_lists_the_known_ones(client):
    error = await fails(client, "list_buckets", account="qa")
    assert error["code"] == "unknown_account"
    assert "prod" in error["message"] and "staging" in error["message"]


async def test_malformed_role_arn_is_refused_before_any_call(client, served):
    error = await fails(client, "get_account_info", role_arn="arn:aws:iam::12345:role/x")
    assert error["code"] == "invalid_input"
    assert served.server.app.clients.assume_role_calls == 0


@pytest.mark.parametrize("region", ["us-east-1.evil.example", "mars-1", "US-EAST-1", "us-east-1 "])
async def test_an_invalid_region_is_a_tool_error_naming_the_parameter_and_an_example(client, region):
    error = await fails(client, "get_account_info", region=region)
    assert error["code"] == "invalid_input", error
    assert f"region {region!r}" in error["message"] and "us-east-1" in error["hint"]


async def test_every_tool_refuses_an_invalid_region_before_any_call(client, served):
    for tool, arguments in (
        ("list_buckets", {}),
        ("create_secret", {"name": "x", "secret_string": "v", "account": "prod"}),
        ("execute", {"action": "invoke", "service": "sts", "operation": "GetCallerIdentity"}),
    ):
        assert (await fails(client, tool, region="mars-1", **arguments))["code"] == "invalid_input", tool
    assert served.server.app.clients.assume_role_calls == 0


async def test_an_invalid_region_in_a_cli_command_is_a_tool_error(client):
    error = await fails(client, "execute_aws_read_command", command="sts get-caller-identity --region mars-1")
    assert error["code"] == "invalid_input" and "'mars-1'" in error["message"]


async def test_an_invalid_region_in_a_profile_is_named_with_its_profile(client):
    import os

    with open(os.environ["AWS_CONFIG_FILE"], "w") as config:
        config.write("[profile typo]\nregion = eu-west-l\n")
    with open(os.environ["AWS_SHARED_CREDENTIALS_FILE"], "w") as credentials:
        credentials.write(f"[typo]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    error = await fails(client, "get_account_info", profile="typo")
    assert error["code"] == "invalid_input"
    assert "'typo'" in error["message"] and "'eu-west-l'" in error["message"]


async def test_role_outside_allowed_patterns_is_refused_without_calling_sts(make_settings):
    with serve(make_settings(AWS_MCP_ALLOWED_ROLE_ARNS="arn:aws:iam::*:role/ops-*")) as running:
        async with connect(running.url) as client:
            error = await fails(client, "get_account_info", role_arn="arn:aws:iam::111111111111:role/admin")
            assert error["code"] == "role_not_allowed"
            assert running.server.app.clients.assume_role_calls == 0
            assert (await ok(client, "get_account_info", account="staging"))["account"] == "222222222222"


async def test_set_environment_applies_to_the_calling_session_only(served, moto_endpoint):
    prod_keys = assume(
        moto_endpoint,
        f"arn:aws:iam::{PROD_ACCOUNT}:role/x",
        {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY},
    )
    async with connect(served.url, "sse") as first, connect(served.url, "legacy-http") as second:
        result = await ok(
            first,
            "set_environment",
            access_key_id=prod_keys["aws_access_key_id"],
            secret_access_key=prod_keys["aws_secret_access_key"],
            session_token=prod_keys["aws_session_token"],
            region="eu-west-1",
        )
        assert result == {"set": ["access_key_id", "region", "secret_access_key", "session_token"], "scope": "session"}
        assert prod_keys["aws_secret_access_key"] not in str(result)
        assert (await ok(first, "get_account_info"))["account"] == PROD_ACCOUNT
        assert (await ok(second, "get_account_info"))["account"] == "123456789012"
        await ok(first, "create_secret", name="session-secret", secret_string="v")
        arn = (await ok(first, "describe_secret", secret_id="session-secret"))["arn"]
        assert arn.split(":")[3:5] == ["eu-west-1", PROD_ACCOUNT]
        assert (await ok(second, "list_secrets"))["secrets"] == []


async def test_set_environment_without_a_session_says_what_to_do_instead(client):
    error = await fails(client, "set_environment", region="eu-west-1")
    assert error["code"] == "invalid_input" and "session" in error["message"]


async def test_set_environment_rejects_half_credentials(served):
    async with connect(served.url, "sse") as client:
        error = await fails(client, "set_environment", access_key_id="AKIAONLYHALF00000001")
        assert error["code"] == "invalid_input"
