"""Small helpers the tests share."""

import contextlib
import json
import os
from pathlib import Path
from typing import Any


async def ok(client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed and return its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text if result.content else result}"
    return result.structured_content


async def use_keys(client, keys: dict[str, str], **more: Any) -> dict[str, Any]:
    """set_environment with keys as sandbox.assume returns them (botocore's names)."""
    return await ok(
        client,
        "set_environment",
        access_key_id=keys["aws_access_key_id"],
        secret_access_key=keys["aws_secret_access_key"],
        session_token=keys["aws_session_token"],
        **more,
    )


async def fails(client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail with a tool error and return the error as the text content tells it."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    return error_of(result)


def error_of(result) -> dict[str, Any]:
    """The error in a tool result's text: `code: message` on the first line, then `name: value` lines.
    Errors carry no structured content: it would break the tool's output schema."""
    assert result.structured_content is None
    text = result.content[0].text
    assert "Traceback" not in text
    first, *rest = text.splitlines()
    code, _, message = first.partition(": ")
    error: dict[str, Any] = {"code": code, "message": message, "hint": ""}
    for line in rest:
        name, _, value = line.partition(": ")
        error[name] = int(value) if value.isdigit() else value
    return error


def audit_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


MCP_DEFAULT_HINTS = {
    "read_only_hint": False,
    "destructive_hint": True,
    "idempotent_hint": False,
    "open_world_hint": True,
}
"""What a client assumes for a hint the server leaves out (the MCP specification's defaults)."""


def hint(tool, name: str) -> bool:
    """A tool's hint as a client reads it: the listed value, or the specification's default."""
    value = getattr(tool.annotations, name, None) if tool.annotations is not None else None
    return MCP_DEFAULT_HINTS[name] if value is None else value


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, frozenset], float]:
    """GET a Prometheus text exposition: every sample by (name, labels)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def release(fifo: Path) -> None:
    """Open the other end of a named pipe, so a thread blocked opening it (a regression) gets going again and
    the suite ends instead of hanging on it."""
    for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, flags))


def lambda_function(session: Any, endpoint: str, name: str, variables: dict[str, str]) -> None:
    """A Lambda function with `variables` in its environment, made in moto with the SDK (`session`'s account)."""
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    iam = session.client("iam", region_name="us-east-1", endpoint_url=endpoint)
    trust = {"Version": "2012-10-17", "Statement": []}
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    session.client("lambda", region_name="us-east-1", endpoint_url=endpoint).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": variables},
    )
