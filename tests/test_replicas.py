"""Several servers behind one load balancer: each served by uvicorn on its own port, as separate replicas would be,
sharing only what replicas share (the state database, AWS_MCP_CONFIRMATION_SECRET, AWS_MCP_REQUEST_STATE_KEYS).
A confirmation asked by one is answered on another, and spent everywhere at once."""

import os
import sqlite3
import subprocess
import sys

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitResult

from config import ConfigError, load_settings
from tests.conftest import connect, serve
from tests.helpers import error_of, fails, ok
from tests.repo import ROOT

pytestmark = pytest.mark.anyio

SECRET = "confirmation-secret-every-replica-shares"
OLD_KEY = "request-state-key-one-0123456789abcdef"
NEW_KEY = "request-state-key-two-0123456789abcdef"
FORCE = {"force_delete_without_recovery": True}
APPROVAL = {"confirm_destructive": ElicitResult(action="accept", content={"confirm": True})}


async def approve(context, params):
    return ElicitResult(action="accept", content={"confirm": True})


async def test_a_token_spent_on_one_server_is_refused_on_another_sharing_the_database(make_settings, database_url):
    settings = make_settings(AWS_MCP_DATABASE_URL=database_url, AWS_MCP_CONFIRMATION_SECRET=SECRET)
    with serve(settings) as first, serve(settings) as second:
        async with connect(first.url) as on_first, connect(second.url) as on_second:
            await ok(on_first, "create_secret", name="doomed", secret_string="v")
            asked = await fails(on_first, "delete_secret", secret_id="doomed", **FORCE)
            token = asked["confirmation_token"]
            deleted = await ok(on_second, "delete_secret", secret_id="doomed", confirmation_token=token, **FORCE)
            assert deleted["recoverable"] is False
            for client in (on_first, on_second):
                replayed = await fails(client, "delete_secret", secret_id="doomed", confirmation_token=token, **FORCE)
                assert replayed["code"] == "confirmation_invalid" and "already used" in replayed["message"]


async def test_without_a_shared_database_each_server_remembers_only_its_own_spent_tokens(make_settings, tmp_path, aws):
    """The control for the test above: the token is valid everywhere (shared secret); only the store refuses it."""
    first_settings = make_settings(AWS_MCP_STATE_DIR=str(tmp_path / "a"), AWS_MCP_CONFIRMATION_SECRET=SECRET)
    second_settings = make_settings(AWS_MCP_STATE_DIR=str(tmp_path / "b"), AWS_MCP_CONFIRMATION_SECRET=SECRET)
    aws().client("secretsmanager").create_secret(Name="kept", SecretString="v")
    with serve(first_settings) as first, serve(second_settings) as second:
        async with connect(first.url) as on_first, connect(second.url) as on_second:
            token = (await fails(on_first, "delete_secret", secret_id="kept"))["confirmation_token"]
            await ok(on_first, "delete_secret", secret_id="kept", confirmation_token=token)
            replayed = await fails(on_second, "delete_secret", secret_id="kept", confirmation_token=token)
            assert replayed["code"] == "InvalidRequestException"  # accepted, then AWS: already scheduled for deletion


async def test_a_2026_elicitation_asked_by_one_server_is_answered_on_another_with_shared_keys(
    make_settings, database_url
):
    """The 2026-07-28 way: the first server answers input_required with sealed request state; the client's retry,
    carrying the user's answer and that state, lands on the second server, which unseals it with the shared key."""
    shared = {"AWS_MCP_DATABASE_URL": database_url, "AWS_MCP_CONFIRMATION_SECRET": SECRET}
    with (
        serve(make_settings(**shared, AWS_MCP_REQUEST_STATE_KEYS=OLD_KEY)) as first,
        serve(make_settings(**shared, AWS_MCP_REQUEST_STATE_KEYS=f"{NEW_KEY}, {OLD_KEY}")) as rotated,
    ):
        async with (
            connect(first.url, elicitation_callback=approve) as on_first,
            connect(rotated.url, elicitation_callback=approve) as on_rotated,
        ):
            await ok(on_first, "create_secret", name="doomed", secret_string="v")
            delete = {"secret_id": "doomed", **FORCE}
            asked = await on_first.session.call_tool("delete_secret", delete, allow_input_required=True)
            assert asked.request_state and "confirm_destructive" in asked.input_requests
            answered = await on_rotated.call_tool(
                "delete_secret", delete, input_responses=APPROVAL, request_state=asked.request_state
            )
            assert not answered.is_error, answered.content
            assert (await fails(on_first, "describe_secret", secret_id="doomed"))["code"] == "ResourceNotFoundException"
            replayed = await on_first.call_tool(
                "delete_secret", delete, input_responses=APPROVAL, request_state=asked.request_state
            )
            assert replayed.is_error and "already used" in error_of(replayed)["message"]


async def test_a_2026_elicitation_cannot_be_answered_on_a_server_with_other_keys(make_settings, database_url):
    shared = {"AWS_MCP_DATABASE_URL": database_url, "AWS_MCP_CONFIRMATION_SECRET": SECRET}
    with (
        serve(make_settings(**shared, AWS_MCP_REQUEST_STATE_KEYS=OLD_KEY)) as first,
        serve(make_settings(**shared, AWS_MCP_REQUEST_STATE_KEYS=NEW_KEY)) as stranger,
        serve(make_settings(**shared)) as unkeyed,
    ):
        async with connect(first.url, elicitation_callback=approve) as on_first:
            await ok(on_first, "create_secret", name="kept", secret_string="v")
            delete = {"secret_id": "kept", **FORCE}
            asked = await on_first.session.call_tool("delete_secret", delete, allow_input_required=True)
        for other in (stranger, unkeyed):
            async with connect(other.url, elicitation_callback=approve) as client:
                with pytest.raises(MCPError, match="requestState"):
                    await client.call_tool(
                        "delete_secret", delete, input_responses=APPROVAL, request_state=asked.request_state
                    )
                assert (await ok(client, "describe_secret", secret_id="kept"))["name"] == "kept"


async def test_a_database_that_stops_answering_refuses_the_destructive_call(make_settings, postgres):
    url = postgres.fresh_database("going_away")
    with serve(make_settings(AWS_MCP_DATABASE_URL=url)) as running:
        async with connect(running.url) as client:
            await ok(client, "create_secret", name="kept", secret_string="v")
            token = (await fails(client, "delete_secret", secret_id="kept"))["confirmation_token"]
            postgres.drop("going_away")
            refused = await fails(client, "delete_secret", secret_id="kept", confirmation_token=token)
            assert refused["code"] == "state_unavailable"
            assert (await ok(client, "describe_secret", secret_id="kept"))["name"] == "kept"


async def test_a_redemption_waiting_on_a_locked_database_holds_up_no_other_call(make_settings, tmp_path):
    """Another process holds SQLite's write lock: the redemption waits for it in a worker thread while the event
    loop goes on serving other calls, then completes once the lock is released."""
    database = tmp_path / "shared-state.db"
    with serve(make_settings(AWS_MCP_DATABASE_URL=f"sqlite:///{database}")) as running:
        async with connect(running.url) as client:
            await ok(client, "create_secret", name="doomed", secret_string="v")
            token = (await fails(client, "delete_secret", secret_id="doomed", **FORCE))["confirmation_token"]
            other_replica = sqlite3.connect(database, isolation_level=None)
            other_replica.execute("BEGIN IMMEDIATE")
            try:
                async with anyio.create_task_group() as group:
                    deleted: list[dict] = []

                    async def delete() -> None:
                        arguments = {"secret_id": "doomed", "confirmation_token": token, **FORCE}
                        deleted.append(await ok(client, "delete_secret", **arguments))

                    group.start_soon(delete)
                    await anyio.sleep(0.5)
                    with anyio.fail_after(5):
                        for _ in range(3):
                            assert (await ok(client, "describe_secret", secret_id="doomed"))["name"] == "doomed"
                    assert not deleted, "the redemption went ahead while another held the write lock"
                    other_replica.execute("COMMIT")
            finally:
                other_replica.close()
            assert deleted[0]["recoverable"] is False


def start_server(**environment: str) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("ACCOUNT_", "MCP_"))}
    return subprocess.run(
        [sys.executable, "server.py", "--transport", "stdio"],
        cwd=ROOT,
        env={**inherited, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        ("AWS_MCP_DATABASE_URL", "postgres//nowhere", None),
        ("AWS_MCP_DATABASE_URL", "oracle://scott:tiger-pw@127.0.0.1/state", "tiger-pw"),
        ("AWS_MCP_DATABASE_URL", "postgresql+psycopg://ops:hunter2-pw@127.0.0.1:1/state", "hunter2-pw"),
        ("AWS_MCP_REQUEST_STATE_KEYS", "a-key-long-enough-for-aes-256-gcm-sealing,short-key-x", "short-key-x"),
    ],
)
def test_an_unusable_shared_state_setting_stops_startup_naming_the_variable(variable, value, secret):
    result = start_server(**{variable: value})
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    if secret:
        assert secret not in result.stderr


def test_request_state_keys_are_a_ring_of_long_keys_never_echoed():
    settings = load_settings({"AWS_MCP_REQUEST_STATE_KEYS": f" {NEW_KEY} ,{OLD_KEY},"}, env_file=None)
    assert settings.request_state_keys == (NEW_KEY, OLD_KEY)
    for ring, problem in [(f"{NEW_KEY},too-short-key", "key 2 is 13 bytes"), (f"{OLD_KEY},{OLD_KEY}", "twice")]:
        with pytest.raises(ConfigError, match="AWS_MCP_REQUEST_STATE_KEYS") as refused:
            load_settings({"AWS_MCP_REQUEST_STATE_KEYS": ring}, env_file=None)
        assert problem in str(refused.value) and OLD_KEY not in str(refused.value)
    url = "postgresql+psycopg://ops:hunter2-pw@db/state"
    assert "hunter2" not in repr(load_settings({"AWS_MCP_DATABASE_URL": url}, env_file=None))
    assert NEW_KEY not in repr(settings)
