"""Route53 tools, driven over streamable HTTP by the MCP SDK's client against moto."""

import pytest

from tests.helpers import fails, ok

pytestmark = pytest.mark.anyio


async def test_dns_records_can_be_listed_and_changed_by_domain_name(client, aws):
    route53 = aws().client("route53")
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
