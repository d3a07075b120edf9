"""The guard decides on verified facts: who calls (a principal the transport established, a session the SDK
validated) and which account a call really reaches (the role ARN's account or the credentials' identity)."""

import json
from pathlib import Path

import pytest

from sandbox import PROD_ACCOUNT, STAGING_ACCOUNT, assume
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import audit_records, fails, ok, use_keys

pytestmark = pytest.mark.anyio
PROD_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/ops-admin"
KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}


def policy_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def prod_profile(moto_endpoint: str) -> None:
    """A profile `reach-prod` that assumes prod's role from the default keys, as ~/.aws/config would say."""
    import os

    with open(os.environ["AWS_CONFIG_FILE"], "w") as config:
        config.write(f"[profile base]\nregion = us-east-1\n\n[profile reach-prod]\nrole_arn = {PROD_ROLE}\n")
        config.write("source_profile = base\nregion = us-east-1\n")
    with open(os.environ["AWS_SHARED_CREDENTIALS_FILE"], "w") as credentials:
        credentials.write(f"[base]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")


# --- the caller ---------------------------------------------------------------------------------------


async def test_a_stateless_request_naming_someone_elses_session_gets_neither_its_keys_nor_its_name(
    served, moto_endpoint, audit_file
):
    prod_keys = assume(moto_endpoint, f"arn:aws:iam::{PROD_ACCOUNT}:role/x", KEYS)
    async with connect(served.url, "legacy-http") as victim:
        await use_keys(victim, prod_keys)
        session = audit_records(audit_file)[-1]["session"]
        session_id = session.split(":", 1)[1]
        async with connect(served.url, headers={"Mcp-Session-Id": session_id}) as attacker:
            assert (await ok(attacker, "get_account_info"))["account"] == "123456789012"
            refused = await fails(attacker, "set_environment", region="eu-west-1")
            assert refused["code"] == "invalid_input" and "session" in refused["message"]
    attacker_records = audit_records(audit_file)[-2:]
    assert [r["session"] for r in attacker_records] == [None, None]


@pytest.mark.parametrize("transport", ["legacy-http", "sse"])
async def test_two_sessions_of_one_transport_never_share_set_environment(served, transport):
    async with connect(served.url, transport) as first, connect(served.url, transport) as second:
        await ok(first, "set_environment", region="eu-west-1")
        assert await ok(first, "list_accounts")  # the session is alive
        first_arn = (await ok(first, "create_secret", name="where", secret_string="v"))["arn"]
        second_arn = (await ok(second, "create_secret", name="where", secret_string="v"))["arn"]
        assert first_arn.split(":")[3] == "eu-west-1" and second_arn.split(":")[3] == "us-east-1"


async def test_session_state_is_dropped_when_the_session_ends(served):
    environments = served.server.app.runtime.environments
    async with connect(served.url, "sse") as client:
        await ok(client, "set_environment", region="eu-west-1")
        assert len(environments) == 1
    for _ in range(50):
        if len(environments) == 0:
            break
        import anyio

        await anyio.sleep(0.05)
    assert len(environments) == 0


async def test_audit_names_the_authenticated_principal_not_a_header(make_settings, audit_file):
    headers = {"Authorization": "Bearer principal-token-0001"}
    with serve(make_settings(MCP_AUTH_TOKEN="principal-token-0001")) as running:
        async with connect(running.url, headers=headers) as client:
            await ok(client, "list_accounts")
    record = audit_records(audit_file)[-1]
    assert record["principal"].startswith("token:") and record["auth"] == "static-token"
    assert "principal-token-0001" not in audit_file.read_text()


# --- the target ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["prod", PROD_ACCOUNT])
async def test_role_arn_of_a_read_only_account_cannot_write(make_settings, tmp_path, section):
    policy = policy_file(tmp_path, f"accounts:\n  '{section}':\n    read_only: true\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=policy)) as running:
        async with connect(running.url) as client:
            by_alias = await fails(client, "create_secret", account="prod", name="a", secret_string="v")
            by_arn = await fails(client, "create_secret", role_arn=PROD_ROLE, name="a", secret_string="v")
            by_execute = await fails(
                client,
                "execute",
                action="invoke",
                service="secretsmanager",
                operation="CreateSecret",
                payload={"Name": "a", "SecretString": "v"},
                role_arn=PROD_ROLE,
            )
            for refused in (by_alias, by_arn, by_execute):
                assert refused["code"] == "policy_denied" and "read_only" in refused["rule"], refused
            staging = await ok(client, "create_secret", account="staging", name="a", secret_string="v")
            assert staging["arn"].split(":")[4] == STAGING_ACCOUNT


async def test_a_profile_that_reaches_a_read_only_account_cannot_write(make_settings, tmp_path, moto_endpoint):
    prod_profile(moto_endpoint)
    policy = policy_file(tmp_path, "accounts:\n  prod:\n    read_only: true\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=policy)) as running:
        async with connect(running.url) as client:
            assert (await ok(client, "get_account_info", profile="reach-prod"))["account"] == PROD_ACCOUNT
            refused = await fails(client, "create_secret", profile="reach-prod", name="a", secret_string="v")
            assert refused["code"] == "policy_denied"
            command = "secretsmanager create-secret --name a --secret-string v --profile reach-prod"
            assert (await fails(client, "execute_aws_write_command", command=command))["code"] == "policy_denied"


async def test_session_keys_of_a_read_only_account_cannot_write(make_settings, tmp_path, moto_endpoint):
    prod_keys = assume(moto_endpoint, f"arn:aws:iam::{PROD_ACCOUNT}:role/x", KEYS)
    policy = policy_file(tmp_path, f"accounts:\n  '{PROD_ACCOUNT}':\n    read_only: true\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=policy)) as running:
        async with connect(running.url, "sse") as client:
            await use_keys(client, prod_keys)
            assert (await fails(client, "create_secret", name="a", secret_string="v"))["code"] == "policy_denied"


async def test_the_audit_names_the_account_a_call_reaches(served, audit_file):
    async with connect(served.url) as client:
        await ok(client, "list_secrets", role_arn=PROD_ROLE)
        await ok(client, "list_secrets")
    by_role, default = audit_records(audit_file)[-2:]
    assert by_role["target"]["account_id"] == PROD_ACCOUNT
    assert default["target"]["account_id"] == "123456789012"


async def test_a_profile_that_assumes_a_role_outside_the_allowed_patterns_is_refused(make_settings, moto_endpoint):
    prod_profile(moto_endpoint)
    allowed = f"arn:aws:iam::{STAGING_ACCOUNT}:role/*"
    with serve(make_settings(AWS_MCP_ALLOWED_ROLE_ARNS=allowed)) as running:
        async with connect(running.url, "sse") as client:
            for call in (
                fails(client, "get_account_info", profile="reach-prod"),
                fails(client, "execute_aws_read_command", command="sts get-caller-identity --profile reach-prod"),
                fails(client, "get_credentials", profile="reach-prod"),
            ):
                refused = await call
                assert refused["code"] == "role_not_allowed" and PROD_ROLE in refused["message"], refused
            await ok(client, "set_environment", profile="reach-prod")
            assert (await fails(client, "list_buckets"))["code"] == "role_not_allowed"


async def test_a_policy_allowed_role_pattern_also_binds_profiles(make_settings, tmp_path, moto_endpoint):
    prod_profile(moto_endpoint)
    policy = policy_file(tmp_path, f"allowed_role_arns: ['arn:aws:iam::{STAGING_ACCOUNT}:role/*']\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=policy)) as running:
        async with connect(running.url) as client:
            refused = await fails(client, "get_account_info", profile="reach-prod")
            assert refused["code"] in ("role_not_allowed", "policy_denied") and PROD_ROLE in json.dumps(refused)


# --- errors a model can act on ------------------------------------------------------------------------


async def test_errors_carry_everything_in_the_text_and_no_structured_content_that_breaks_the_schema(served):
    async with connect(served.url) as client:
        await ok(client, "create_secret", name="gone", secret_string="v")
        result = await client.call_tool("delete_secret", {"secret_id": "gone"})
        assert result.is_error and result.structured_content is None
        text = result.content[0].text
        assert text.startswith("confirmation_required: ")
        fields = dict(line.split(": ", 1) for line in text.splitlines()[1:])
        assert {"hint", "confirmation_token", "expires_at", "action"} <= set(fields)
        assert "delete secret gone" in fields["action"]
        again = await client.call_tool(
            "delete_secret", {"secret_id": "gone", "confirmation_token": fields["confirmation_token"]}
        )
        assert not again.is_error


async def test_a_confirmation_names_every_deletion_of_a_long_batch(served, aws):
    zone = aws().client("route53").create_hosted_zone(Name="long.example", CallerReference="r")["HostedZone"]["Id"]
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": f"r{i}.long.example",
                "Type": "TXT",
                "TTL": 60,
                "ResourceRecords": [{"Value": '"' + "x" * 40 + '"'}],
            },
        }
        for i in range(20)
    ]
    changes.append(
        {
            "Action": "DELETE",
            "ResourceRecordSet": {
                "Name": "victim.long.example",
                "Type": "A",
                "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.1"}],
            },
        }
    )
    async with connect(served.url) as client:
        asked = await fails(
            client,
            "execute",
            action="invoke",
            service="route53",
            operation="ChangeResourceRecordSets",
            payload={"HostedZoneId": zone.split("/")[-1], "ChangeBatch": {"Changes": changes}},
        )
    assert asked["code"] == "confirmation_required"
    assert "victim.long.example" in asked["action"] and "21" in asked["action"], asked["action"]
