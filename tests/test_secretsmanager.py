"""Secrets Manager tools, driven over streamable HTTP by the MCP SDK's client against moto."""

import pytest

from tests.helpers import fails, ok

pytestmark = pytest.mark.anyio


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
