"""Logs: one event per line through structlog, JSON for log pipelines or console for a person at a terminal.

`configure_logging` routes every logger of the process (ours, uvicorn's, the libraries') through one stderr
handler with structlog's `ProcessorFormatter`: JSON lines when stderr is not a terminal, console when it is,
unless `AWS_MCP_LOG_FORMAT` says which. ANSI colour codes a library writes into its messages (werkzeug's
request lines from moto in the sandbox) are removed before rendering, so neither format carries them.
Libraries that log request and response bodies at DEBUG (secrets included) are held at WARNING.

`get_logger(name)` gives a structlog logger over stdlib logging for structured events:
`get_logger("aws_ops_mcp.http").info("http_request", status=200)` becomes one line with those fields.
"""

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.stdlib import BoundLogger, ProcessorFormatter
from structlog.typing import EventDict, Processor

CHATTY_LIBRARIES = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "mcp",
    "sse_starlette",
    "httpcore",
    "httpcore2",
    "httpx",
    "httpx2",
    "werkzeug",
    "alembic",
)
"""At DEBUG these log request and response bodies, secret values included: never below WARNING."""
FORMATS = ("json", "console")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

SHARED: list[Processor] = [
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


def without_colour(_: Any, __: str, event: EventDict) -> EventDict:
    """Remove ANSI escape sequences from every string value (werkzeug colours its request lines)."""
    for key, value in event.items():
        if isinstance(value, str) and "\x1b" in value:
            event[key] = ANSI_ESCAPE.sub("", value)
    return event


def leading_fields(_: Any, __: str, event: EventDict) -> EventDict:
    """`time`, `level`, `logger` and `event` first: a line reads left to right."""
    first = {key: event.pop(key) for key in ("time", "level", "logger", "event") if key in event}
    return {**first, **event}


def formatter(log_format: str, colours: bool = False) -> ProcessorFormatter:
    renderer: list[Processor]
    if log_format == "json":
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=colours)]
    return ProcessorFormatter(
        foreign_pre_chain=SHARED,
        processors=[ProcessorFormatter.remove_processors_meta, without_colour, leading_fields, *renderer],
    )


def configure_logging(level: str = "INFO", log_format: str | None = None, stream: TextIO | None = None) -> str:
    """Send every log record to `stream` (stderr) in `log_format` (default: console on a terminal, else JSON).
    Replaces the handler an earlier call installed; returns the format chosen."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    chosen = log_format if log_format in FORMATS else ("console" if terminal else "json")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(chosen, colours=terminal))
    handler.aws_ops_mcp = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "aws_ops_mcp", False)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)  # a bad value is the settings' to report
    quiet_chatty_libraries()
    return chosen


def quiet_chatty_libraries() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str) -> BoundLogger:
    """A structured logger writing through stdlib logging (and so through `configure_logging`'s handler)."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.stdlib.filter_by_level, *SHARED, ProcessorFormatter.wrap_for_formatter],
        wrapper_class=BoundLogger,
    )
