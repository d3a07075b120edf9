"""Identity and credentials tools (StsManager), driven over streamable HTTP by the MCP SDK's client against moto."""

import pytest

from sandbox import PROD_ACCOUNT, STAGING_ACCOUNT, assume
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import ok, use_keys

KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}

pytestmark = pytest.mark.anyio


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
        "arn": f"arn:aws:sts::{PROD_ACCOUNT}:assumed-role/ops-admin/aws-ops-mcp",
        "error_code": None,
        "error_message": None,
    }


async def test_list_accounts_shows_configured_aliases(client):
    accounts = await ok(client, "list_accounts")
    by_name = {a["name"]: a for a in accounts["accounts"]}
    assert by_name["staging"]["region"] == "eu-west-1"
    assert by_name["prod"]["role_arn"].startswith(f"arn:aws:iam::{PROD_ACCOUNT}:role/")


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


async def test_each_alias_runs_with_its_own_assumed_role(client):
    """The assumed-role cache is keyed by the role: one alias never borrows another's credentials."""
    for alias, account in (("prod", PROD_ACCOUNT), ("staging", STAGING_ACCOUNT), ("prod", PROD_ACCOUNT)):
        assert (await ok(client, "get_account_info", account=alias))["account"] == account


async def test_validate_credentials_reports_invalid_ones_without_failing(client):
    check = await ok(client, "validate_credentials", profile="no-such-profile")
    assert check["valid"] is False and check["error_code"] == "profile_not_found" and check["account"] is None


async def test_get_credentials_masks_a_session_token_it_is_asked_to_show(served, moto_endpoint):
    keys = assume(moto_endpoint, f"arn:aws:iam::{PROD_ACCOUNT}:role/x", KEYS)
    async with connect(served.url, "sse") as client:
        await use_keys(client, keys)
        shown = await ok(client, "get_credentials", include_session_token=True)
    token = keys["aws_session_token"]
    assert shown["has_session_token"] is True
    assert shown["session_token"] == f"{token[:4]}...{token[-4:]}"
    assert token not in str(shown) and keys["aws_secret_access_key"] not in str(shown)


async def test_an_alias_external_id_is_sent_with_assume_role(make_settings):
    sent = []
    with serve(make_settings(ACCOUNT_PROD_EXTERNAL_ID="ext-7f3a")) as running:
        running.server.app.clients.on(
            "provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(params.get("ExternalId"))
        )
        async with connect(running.url) as client:
            await ok(client, "get_account_info", account="prod")
            await ok(client, "get_account_info", account="staging")
    assert sent == ["ext-7f3a", None]
