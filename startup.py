"""What start-up checks and says: the variables nothing reads, the transport's own refusals, and the one line
that says how the server runs. (Logging is set up by observability/logs.py.)"""

import logging

from config import ConfigError, Settings
from guard.policy import Policy

log = logging.getLogger("aws_ops_mcp")


def check_variables(settings: Settings, transport: str) -> None:
    """Warn about each variable named like a setting that is none; stop at a look-alike of a restricting setting
    (AWS_MCP_READONLY, MCP_AUTH_TOKN) whose real name is unset, as the policy file's typos do: the server would
    run looser than its operator meant. Over stdio no token is asked for, so a token look-alike loosens nothing."""
    refused = [
        unknown
        for unknown in settings.unknown_variables
        if unknown.loosens and (transport == "http" or unknown.suggestion != "MCP_AUTH_TOKEN")
    ]
    for unknown in settings.unknown_variables:
        if unknown not in refused:
            log.warning(unknown.warning())
    if refused:
        raise ConfigError(" ".join(unknown.refusal() for unknown in refused))


def check_transport(settings: Settings, transport: str, host: str) -> None:
    if settings.audit_log == "-" and transport == "stdio":
        raise ConfigError("AWS_MCP_AUDIT_LOG=- writes to stdout, which the stdio transport uses for the protocol")
    if transport == "http":
        from http_app import check_exposure

        check_exposure(settings, host)


def startup_line(settings: Settings, policy: Policy, serving: str, auth: str) -> str:
    """How this server runs, in one line a person can read; no secret and no ARN."""
    read_only_accounts = sorted(name for name, scope in policy.document.accounts.items() if scope.read_only)
    if settings.read_only or policy.document.read_only:
        read_only = "yes"
    else:
        read_only = f"{', '.join(read_only_accounts)} only" if read_only_accounts else "no"
    parts = [
        f"serving {serving}",
        f"auth: {auth}",
        f"read-only: {read_only}",
        f"policy: {policy.source}{' (shipped)' if settings.policy_file is None else ''}",
        f"files root: {settings.files_root or 'none (no local files)'}",
        f"accounts: {', '.join(sorted(settings.accounts)) or 'none'}",
        f"destructive: {'AUTO-APPROVED' if settings.auto_approve_destructive else 'confirmed'}",
    ]
    if settings.endpoint_url:
        parts.append(f"AWS endpoint: {settings.endpoint_url}")
    return "; ".join(parts)
