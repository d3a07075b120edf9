"""Small helpers the tests share."""

import json
from pathlib import Path
from typing import Any


async def ok(client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed and return its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text if result.content else result}"
    return result.structured_content


async def fails(client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail with a tool error and return the error payload."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    assert "Traceback" not in result.content[0].text
    return result.structured_content["error"]


def audit_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
