"""Tool arguments the published schema refuses: a tool error in the server's own format (`invalid_input`, the
parameter, what it expects, what was sent as a JSON type only), one audit line, never the value sent: not in the
answer, the audit or the log, however big it is."""

import json

import pytest

from guard.audit import LINE_LIMIT
from tests.conftest import connect
from tests.helpers import audit_records, error_of, fails, ok
from tests.test_logs import environment, server_process

pytestmark = pytest.mark.anyio

SECRET_VALUE = "wrongly-typed-pa55word-0123456789"
NOT_ECHOED = ("input_value", "pydantic", "validation error", "Traceback")


def refused(result) -> dict:
    """The error of a call refused for its arguments, checked for what such an error never shows."""
    assert result.is_error
    text = result.content[0].text
    for marker in NOT_ECHOED:
        assert marker not in text, text
    error = error_of(result)
    assert error["code"] == "invalid_input", text
    assert error["hint"], text
    return error


async def test_a_secret_sent_with_the_wrong_type_is_echoed_nowhere(moto_endpoint, operation_index_dir, tmp_path):
    stderr = tmp_path / "stderr.log"
    env = environment(moto_endpoint, operation_index_dir, AWS_MCP_LOG_FORMAT="json", AWS_MCP_LOG_LEVEL="DEBUG")
    answers = []
    with server_process(env, stderr) as url:
        async with connect(url) as client:
            for secret_string in ({"password": SECRET_VALUE}, [SECRET_VALUE], {"nested": [SECRET_VALUE]}):
                result = await client.call_tool("create_secret", {"name": "db", "secret_string": secret_string})
                error = refused(result)
                assert "secret_string" in error["message"] and "a string" in error["message"]
                answers.append(result.content[0].text)
            result = await client.call_tool("create_secret", {"name": {"pw": SECRET_VALUE}, "secret_string": "x"})
            assert "name" in refused(result)["message"]
            answers.append(result.content[0].text)
    raw = stderr.read_bytes()
    assert SECRET_VALUE.encode() not in raw
    assert not any(SECRET_VALUE in answer for answer in answers)
    lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip().startswith("{")]
    audit = [line for line in lines if line.get("event") == "audit" and line["tool"] == "create_secret"]
    assert [line["outcome"] for line in audit] == ["invalid_input"] * 4
    assert all(line["operation"] is None and line["decision"] is None for line in audit)
    assert audit[0]["params"] == {"name": "db", "secret_string": "***"}


async def test_a_wrongly_typed_argument_names_the_parameter_and_the_expected_type(client, audit_file):
    arguments = {"service": "ec2", "operation": "DescribeInstances", "accounts": 987654321, "regions": "everything"}
    result = await client.call_tool("fleet_query", arguments)
    error = refused(result)
    message = error["message"]
    assert "987654321" not in result.content[0].text and "everything" not in result.content[0].text
    assert "accounts: expected a list of strings, 'all' or an object, got an integer" in message
    assert "regions: expected a list of strings or 'all', got a string" in message
    (record,) = audit_records(audit_file)
    assert record["tool"] == "fleet_query" and record["outcome"] == "invalid_input"
    assert record["operation"] is None and "fleet" not in record


async def test_a_constraint_is_named_without_the_value(client):
    error = refused(await client.call_tool("fleet_results", {"handle": "abcdef1"}))
    assert "handle" in error["message"] and "at least 8 characters" in error["message"]
    assert "abcdef1" not in error["message"]
    error = refused(await client.call_tool("fleet_results", {"handle": "abcdefgh", "offset": -3}))
    assert "offset" in error["message"] and "-3" not in error["message"]


async def test_a_confirmation_token_of_the_wrong_shape_is_refused_before_anything_runs(client, audit_file):
    token = {"token": "forged-confirmation-0123456789"}
    result = await client.call_tool("delete_secret", {"secret_id": "db", "confirmation_token": token})
    error = refused(result)
    assert "confirmation_token: expected a string, got an object" in error["message"]
    assert "forged-confirmation" not in result.content[0].text
    (record,) = audit_records(audit_file)
    assert record["outcome"] == "invalid_input" and record["params"]["confirmation_token"] == "***"


async def test_a_missing_required_argument_is_named_with_what_it_expects(client, audit_file):
    error = refused(await client.call_tool("create_secret", {"name": "db"}))
    assert "secret_string: required, a string" in error["message"]
    assert "name" not in error["message"].partition("secret_string")[0]
    assert [record["outcome"] for record in audit_records(audit_file)] == ["invalid_input"]


async def test_an_unknown_argument_is_refused_naming_the_ones_the_tool_takes(client, audit_file):
    error = refused(await client.call_tool("describe_secret", {"secret_id": "db", "secret": "x", "verbose": True}))
    assert "unknown arguments 'secret', 'verbose'" in error["message"]
    assert "describe_secret takes secret_id, account, profile, role_arn, region" in error["message"]
    (record,) = audit_records(audit_file)
    assert record["outcome"] == "invalid_input" and record["operation"] is None
    assert record["params"]["secret"] == "***"


async def test_huge_arguments_give_a_bounded_error_and_audit_line(client, audit_file):
    huge = "x" * 1_000_000
    calls = [
        ("fleet_results", {"handle": huge}),
        ("create_secret", {"name": "db", "secret_string": [huge]}),
        ("create_secret", {"name": "db", "secret_string": "s", "tags": {huge: 1}}),
        ("describe_secret", {"secret_id": "db", huge: huge}),
        ("create_secret", {"name": "db", "secret_string": "s", "tags": {f"t{n}": n for n in range(10_000)}}),
    ]
    for tool, arguments in calls:
        result = await client.call_tool(tool, arguments)
        refused(result)
        assert len(result.content[0].text) < 1_000, (tool, len(result.content[0].text))
        assert huge[:100] not in result.content[0].text
    lines = audit_file.read_bytes().splitlines()
    assert len(lines) == len(calls)
    assert all(len(line) <= LINE_LIMIT for line in lines)
    assert all(json.loads(line)["outcome"] == "invalid_input" for line in lines)


async def test_json_text_for_a_structured_argument_is_still_read(client):
    """What the SDK did before this server checked arguments itself: a client that sends a list or an object as
    JSON text (Claude Desktop does) is understood."""
    await ok(client, "create_secret", name="db", secret_string="s", tags='{"env": "prod"}')
    described = await ok(client, "describe_secret", secret_id="db")
    assert described["tags"] == {"env": "prod"}
    assert (await fails(client, "describe_secret", secret_id="missing"))["code"] == "ResourceNotFoundException"
