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


def release(fifo: Path) -> None:
    """Open the other end of a named pipe, so a thread blocked opening it (a regression) gets going again and
    the suite ends instead of hanging on it."""
    for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, flags))
