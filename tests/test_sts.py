"""Identity and credentials tools (StsManager), driven over streamable HTTP by the MCP SDK's client against moto."""

import pytest

from sandbox import PROD_ACCOUNT
from tests.helpers import ok

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
        "arn": check["arn"],
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
