"""One declaration per tool: what a client sees is derived from `@tool(title, calls=...)`."""

import inspect
import json

import pytest

from catalog.classify import OpClass
from catalog.models import operation_names
from server import PROVIDERS
from tests.helpers import hint
from tooling import ANY_OPERATION, ANY_READ, TARGET_PARAMETERS, ToolSpec, tool, tool_specs

pytestmark = pytest.mark.anyio
SPECS = [spec for provider in PROVIDERS for spec in tool_specs(provider)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_declared_call_is_a_real_operation(spec: ToolSpec):
    for service, operation in spec.operations:
        assert operation in operation_names(service), f"{spec.name} declares {service}:{operation}"


def test_tool_names_are_unique_snake_case_verbs():
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    assert all(name.islower() and name.isidentifier() for name in names)


async def test_published_signatures_add_the_target_parameters_once_and_a_token_where_a_call_can_destroy(client):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for spec in SPECS:
        properties = tools[spec.name].input_schema["properties"]
        assert (set(TARGET_PARAMETERS) <= set(properties)) is spec.targeted, spec.name
        assert ("confirmation_token" in properties) is (OpClass.DESTRUCTIVE in spec.classes), spec.name
        assert "target" not in properties and "self" not in properties and "ctx" not in properties
        own = [name for name in inspect.signature(spec.fn).parameters if name not in ("self", "target")]
        assert list(properties)[: len(own)] == own, spec.name


async def test_descriptions_carry_no_docstring_indentation(client):
    for listed in (await client.list_tools()).tools:
        assert "\n" not in listed.description and "  " not in listed.description, listed.name


def test_hints_follow_the_classes_of_the_declared_calls():
    class Probe:
        service = "s3"

        @tool("Reads", calls=("ListBuckets", "GetObject"))
        async def reads(self): ...

        @tool("Grants an upload", calls=("GetObject", "PutObject"))
        async def grants(self): ...

        @tool("Sometimes deletes", calls=("route53:ChangeResourceRecordSets",))
        async def changes(self): ...

        @tool("Anything", calls=ANY_OPERATION)
        async def anything(self): ...

        @tool("Any read", calls=ANY_READ)
        async def any_read(self): ...

        @tool("Local state", changes_state=True)
        async def local(self): ...

    hints = {
        spec.name: (spec.annotations().read_only_hint, spec.annotations().destructive_hint, spec.confirmable)
        for spec in tool_specs(Probe)
    }
    assert hints == {
        "reads": (True, False, False),
        "grants": (False, False, False),
        "changes": (False, True, True),
        "anything": (False, True, True),
        "any_read": (True, False, False),
        "local": (False, False, False),
    }
    assert next(tool_specs(Probe)).operations == (("s3", "ListBuckets"), ("s3", "GetObject"))


async def test_tools_list_declares_output_schemas_and_annotations(client):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert len(tools) >= 22
    for listed in tools.values():
        assert listed.output_schema is not None, listed.name
        assert listed.description and len(listed.description) < 400, listed.name
        assert listed.annotations is not None
        assert "title" not in json.dumps([listed.input_schema, listed.output_schema]), listed.name
    assert hint(tools["list_secrets"], "read_only_hint") is True
    assert hint(tools["delete_secret"], "destructive_hint") is True
    assert hint(tools["create_secret"], "destructive_hint") is False
    assert "confirmation_token" in tools["delete_secret"].input_schema["properties"]
    for name in ("list_secrets", "delete_object", "change_records", "get_account_info"):
        assert {"account", "profile", "role_arn", "region"} <= set(tools[name].input_schema["properties"])


async def test_tools_list_stays_within_its_context_budget(client):
    """Every conversation pays for tools/list: with every tool published it stays under 32 KB of JSON."""
    tools = (await client.list_tools()).tools
    size = len(
        json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], separators=(",", ":"))
    )
    assert size <= 32_000, size
    for listed in tools:
        assert '"description":"' not in json.dumps(listed.output_schema, separators=(",", ":")), listed.name
        assert '"default":null' not in json.dumps(listed.input_schema, separators=(",", ":")), listed.name
