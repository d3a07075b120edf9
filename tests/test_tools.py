"""Every curated tool, driven over streamable HTTP by the MCP SDK's client against moto."""

import base64
import json
import urllib.request

import pytest

from sandbox import PROD_ACCOUNT
from tests.helpers import fails, ok

pytestmark = pytest.mark.anyio


async def test_tools_list_declares_output_schemas_and_annotations(client):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert len(tools) >= 22
    for tool in tools.values():
        assert tool.output_schema is not None, tool.name
        assert tool.description and len(tool.description) < 400, tool.name
        assert tool.annotations is not None
        assert "title" not in json.dumps([tool.input_schema, tool.output_schema]), tool.name
    assert tools["list_secrets"].annotations.read_only_hint is True
    assert tools["delete_secret"].annotations.destructive_hint is True
    assert "confirmation_token" in tools["delete_secret"].input_schema["properties"]
    for name in ("list_secrets", "delete_object", "change_records", "get_account_info"):
        assert {"account", "profile", "role_arn", "region"} <= set(tools[name].input_schema["properties"])


async def test_get_account_info_in_default_account_and_through_an_alias(client):
    assert (await ok(client, "get_account_info"))["account"] == "123456789012"
    prod = await ok(client, "get_account_info", account="PROD")
    assert prod["account"] == PROD_ACCOUNT
    assert prod["arn"].endswith(":assumed-role/ops-admin/aws-ops-mcp")


async def test_validate_credentials_reports_valid_identity(client):
    check = await ok(client, "validate_credentials", account="prod")
    assert check == {
        "valid": True,
        "account": PROD_ACCOUNT,
        "arn": check["arn"],
        "error_code": None,
        "error_message": None,
    }


async def test_list_accounts_shows_configured_aliases(client):
    accounts = await ok(client, "list_accounts")
    by_name = {a["name"]: a for a in accounts["accounts"]}
    assert by_name["staging"]["region"] == "eu-west-1"
    assert by_name["prod"]["role_arn"].startswith(f"arn:aws:iam::{PROD_ACCOUNT}:role/")


async def test_secret_lifecycle(client):
    created = await ok(
        client, "create_secret", name="app/db", secret_string="hunter2-v1", description="db", tags={"team": "sre"}
    )
    assert created["name"] == "app/db"
    listed = await ok(client, "list_secrets", name_prefix="app/")
    assert [s["name"] for s in listed["secrets"]] == ["app/db"]
    assert listed["secrets"][0]["tags"] == {"team": "sre"}
    described = await ok(client, "describe_secret", secret_id="app/db")
    assert described["description"] == "db" and "hunter2" not in str(described)
    await ok(client, "update_secret", secret_id="app/db", secret_string="hunter2-v2")
    assert (await ok(client, "get_secret_value", secret_id="app/db"))["secret_string"] == "hunter2-v2"
    previous = await ok(client, "get_secret_value", secret_id="app/db", version_stage="AWSPREVIOUS")
    assert previous["secret_string"] == "hunter2-v1"


async def test_list_secrets_paginates_and_says_when_there_is_more(client):
    for index in range(5):
        await ok(client, "create_secret", name=f"page/{index}", secret_string="x")
    first = await ok(client, "list_secrets", max_results=2)
    assert len(first["secrets"]) == 2 and first["next_token"]
    names = [s["name"] for s in first["secrets"]]
    token = first["next_token"]
    while token:
        page = await ok(client, "list_secrets", max_results=2, next_token=token)
        names += [s["name"] for s in page["secrets"]]
        token = page["next_token"]
    assert sorted(names) == [f"page/{i}" for i in range(5)]


async def test_unknown_secret_is_a_clear_tool_error(client):
    error = await fails(client, "describe_secret", secret_id="does/not/exist")
    assert error["code"] == "ResourceNotFoundException"
    assert error["hint"]


async def test_dns_records_can_be_listed_and_changed_by_domain_name(client, served):
    route53 = served.server.app.clients.client(served.server.app.clients.resolve(_default()), "route53")
    route53.create_hosted_zone(Name="example.org", CallerReference="t1")
    zones = await ok(client, "list_hosted_zones")
    assert [z["name"] for z in zones["zones"]] == ["example.org."]
    change = await ok(
        client,
        "change_records",
        zone="example.org",
        changes=[{"action": "CREATE", "name": "www.example.org", "type": "A", "ttl": 60, "values": ["192.0.2.1"]}],
    )
    assert change["status"] in ("PENDING", "INSYNC")
    assert (await ok(client, "get_change", change_id=change["change_id"]))["change_id"] == change["change_id"]
    records = await ok(client, "list_records", zone=zones["zones"][0]["id"], name="www.example.org", type="A")
    assert records["records"][0] == {
        "name": "www.example.org.",
        "type": "A",
        "ttl": 60,
        "values": ["192.0.2.1"],
        "alias_target": None,
        "set_identifier": None,
    }


async def test_unknown_zone_name_is_a_tool_error(client):
    error = await fails(client, "list_records", zone="nowhere.example")
    assert error["code"] == "not_found"


async def test_objects_round_trip_as_text_or_base64_and_are_cut_at_max_bytes(client, served):
    s3 = served.server.app.clients.client(served.server.app.clients.resolve(_default()), "s3")
    s3.create_bucket(Bucket="logs")
    assert [b["name"] for b in (await ok(client, "list_buckets"))["buckets"]] == ["logs"]
    await ok(client, "put_object", bucket="logs", key="a/hello.txt", body="hello world", content_type="text/plain")
    s3.put_object(Bucket="logs", Key="a/blob.bin", Body=bytes(range(256)))
    s3.put_object(Bucket="logs", Key="empty", Body=b"")
    text = await ok(client, "get_object", bucket="logs", key="a/hello.txt")
    assert (text["body"], text["encoding"], text["truncated"]) == ("hello world", "text", False)
    cut = await ok(client, "get_object", bucket="logs", key="a/hello.txt", max_bytes=5)
    assert (cut["body"], cut["size"], cut["truncated"]) == ("hello", 11, True)
    binary = await ok(client, "get_object", bucket="logs", key="a/blob.bin")
    assert binary["encoding"] == "base64" and base64.b64decode(binary["body"]) == bytes(range(256))
    assert (await ok(client, "get_object", bucket="logs", key="empty"))["body"] == ""
    listed = await ok(client, "list_objects", bucket="logs", prefix="a/", delimiter="/")
    assert sorted(o["key"] for o in listed["objects"]) == ["a/blob.bin", "a/hello.txt"]
    paged = await ok(client, "list_objects", bucket="logs", max_keys=1)
    assert len(paged["objects"]) == 1 and paged["next_continuation_token"]
    rest = await ok(client, "list_objects", bucket="logs", continuation_token=paged["next_continuation_token"])
    assert len(rest["objects"]) == 2


async def test_missing_bucket_is_a_clear_tool_error(client):
    error = await fails(client, "list_objects", bucket="no-such-bucket")
    assert error["code"] == "NoSuchBucket"


async def test_presigned_url_downloads_the_object(client, served):
    s3 = served.server.app.clients.client(served.server.app.clients.resolve(_default()), "s3")
    s3.create_bucket(Bucket="share")
    s3.put_object(Bucket="share", Key="report.txt", Body=b"quarterly")
    signed = await ok(client, "presign_url", bucket="share", key="report.txt", expires_in=60)
    assert "X-Amz-Signature" in signed["url"] or "Signature" in signed["url"]
    with urllib.request.urlopen(signed["url"]) as response:
        assert response.read() == b"quarterly"


async def test_get_credentials_masks_everything(client):
    info = await ok(client, "get_credentials", include_session_token=True)
    assert info["source"] == "env"
    assert info["access_key_id"] == "AKIA...EY01"
    assert info["secret_access_key"] == "***"


async def test_list_profiles_reads_config_files_without_secrets(client):
    import os
    from pathlib import Path

    Path(os.environ["AWS_CONFIG_FILE"]).write_text(
        "[profile ops]\nregion = eu-central-1\nrole_arn = arn:aws:iam::111111111111:role/x\nsource_profile = base\n"
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n"
    )
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[base]\naws_access_key_id = AKIABASEPROFILE00001\naws_secret_access_key = base-profile-secret-xyz\n"
    )
    try:
        profiles = await ok(client, "list_profiles")
    finally:
        Path(os.environ["AWS_CONFIG_FILE"]).unlink()
        Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).unlink()
    kinds = {p["name"]: p["kind"] for p in profiles["profiles"]}
    assert kinds == {"base": "static", "ops": "role", "sso-dev": "sso"}
    assert "base-profile-secret-xyz" not in str(profiles) and "AKIABASEPROFILE" not in str(profiles)


def _default():
    from core.calls import Target

    return Target()
