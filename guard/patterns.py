"""The policy's regexes: run by RE2, in time linear in the name they are matched with whatever the pattern,
and checked at load against every name they could match, so that a typo stops startup instead of
matching nothing.

`rules.allow` and `rules.deny` are searched in "service:Operation"; `destructive_patterns` in the
operation name and in "service:Operation"; both in botocore's spelling (`s3:DeleteBucket`). A pattern is
refused when RE2 cannot run it (backreferences, look-around), when one of its branches starts with a
literal service botocore does not know (`^S3:`, `^s3api:`), or when it matches no operation at all
(`^ec2:terminate-instances$`). The refusal suggests botocore's spelling when it can.
"""

import re
from contextlib import suppress
from functools import cache

import re2

from catalog.models import operation_names, service_names
from catalog.names import CatalogError, resolve_operation, resolve_service
from catalog.search import CORE_SERVICES

Regex = re2._Regexp

_LITERAL = r"[^.^$*+?()\[\]{}|\\:]+"
_LITERAL_SERVICE = re.compile(rf"(?:\^|\\A)({_LITERAL}):")
"""A branch that starts with a service spelled out: `^s3:`, `^Secrets Manager:Get`."""
_LITERAL_CALL = re.compile(rf"(\^|\\A|)({_LITERAL}):([A-Za-z0-9_-]*)(.*)", re.S)
"""A branch that starts with a service spelled out, anchored or not, then the literal start of an operation."""
SPELLING = '"service:Operation" in botocore\'s spelling, e.g. ^s3:DeleteBucket$'


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is raised with its file and line; RE2 need not print it too
    return options


_OPTIONS = _options()


@cache
def compile_regex(pattern: str) -> Regex:
    """`pattern` compiled by RE2, or ValueError saying why RE2 cannot run it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        raise ValueError(f"regex {pattern!r}: {_reason(pattern, error)}") from None


def _reason(pattern: str, error: re2.error) -> str:
    detail = error.args[0] if error.args else error
    message = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    if re.search(r"\(\?<?[=!]", message):
        return "look-around ((?=, (?!, (?<=, (?<!) is not supported: policy regexes run on RE2, in linear time"
    if re.search(r"escape sequence: \\[1-9]", message) or "(?P=" in pattern:
        return "backreferences are not supported: policy regexes run on RE2, in linear time"
    return f"RE2 cannot run it: {message}"


def check_rule(pattern: str) -> str:
    """`pattern` if it is a rule that can match some "service:Operation"; else ValueError."""
    _check(pattern, bare_operations=False)
    return pattern


def check_destructive_pattern(pattern: str) -> str:
    """`pattern` if it can match some operation name or "service:Operation"; else ValueError."""
    _check(pattern, bare_operations=True)
    return pattern


def _check(pattern: str, bare_operations: bool) -> None:
    regex = compile_regex(pattern)
    if unknown := _unknown_services(pattern):
        raise ValueError(
            f"regex {pattern!r}: {unknown[0]!r} is not an AWS service name (botocore's: s3, ec2, secretsmanager...)"
            + _did_you_mean(pattern, bare_operations)
        )
    if not _matches_an_operation(regex, pattern, bare_operations):
        where = "an operation name or " if bare_operations else ""
        raise ValueError(
            f"regex {pattern!r} matches no AWS operation ({where}{SPELLING})" + _did_you_mean(pattern, bare_operations)
        )


def top_level_branches(pattern: str) -> list[str]:
    """The alternatives of `pattern` outside any group: `^s3:Get|^sqs:` is `^s3:Get` and `^sqs:`."""
    branches, start, depth, in_class, escaped = [], 0, 0, False, False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
    return [*branches, pattern[start:]]


def literal_service(branch: str) -> str | None:
    """The service a branch spells out at its anchored start (`^s3:` is s3), or None."""
    match = _LITERAL_SERVICE.match(branch)
    return match.group(1) if match else None


def _unknown_services(pattern: str) -> list[str]:
    """The services that branches of `pattern` spell out and botocore does not know."""
    known = frozenset(service_names())
    named = (literal_service(branch) for branch in top_level_branches(pattern))
    return [service for service in named if service is not None and service not in known]


def _matches_an_operation(regex: Regex, pattern: str, bare_operations: bool) -> bool:
    return any(
        regex.search(f"{service}:{operation}") or (bare_operations and regex.search(operation))
        for service in _search_order(pattern)
        for operation in operation_names(service)
    )


def _search_order(pattern: str) -> list[str]:
    """The services whose operations `pattern` can match, likeliest first: when every branch names its
    service, only those; else services named in the pattern, then the common ones, then the rest."""
    named = [literal_service(branch) for branch in top_level_branches(pattern)]
    if all(named):
        return list(dict.fromkeys(service for service in named if service))
    return sorted(service_names(), key=lambda service: (service not in pattern, service not in CORE_SERVICES))


def _did_you_mean(pattern: str, bare_operations: bool) -> str:
    """A suggestion, "; did you mean '...'?", when respelling the services and operations of `pattern` the
    botocore way gives a pattern that matches something; else nothing."""
    respelled = "|".join(_respell(branch) for branch in top_level_branches(pattern))
    if respelled == pattern or _unknown_services(respelled):
        return ""
    if not _matches_an_operation(compile_regex(respelled), respelled, bare_operations):
        return ""
    return f"; did you mean {respelled!r}?"


def _respell(branch: str) -> str:
    """`^S3:DeleteBucket$` as `^s3:DeleteBucket$`, `^ec2:terminate-instances` as `^ec2:TerminateInstances`."""
    match = _LITERAL_CALL.fullmatch(branch)
    if match is None:
        return branch
    anchor, service, operation, rest = match.groups()
    try:
        service = resolve_service(service)
    except CatalogError:
        return branch
    if operation:
        with suppress(CatalogError):
            service, operation = resolve_operation(service, operation)
    return f"{anchor}{service}:{operation}{rest}"
