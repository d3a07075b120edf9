"""Variables named like this server's (`AWS_MCP_*`, `MCP_*`, `ACCOUNT_*`) that it does not read: typos, each
named with the known variable it resembles most, and whether it stands for an unset setting that restricts the
server (start-up then stops: see startup.check_variables)."""

import difflib
import re
from collections.abc import Callable, Mapping

from config import ACCOUNT_FIELDS, ACCOUNT_VARIABLE, UnknownVariable, account_fields, settings_variables

SERVER_PREFIXES = ("AWS_MCP_", "MCP_", "ACCOUNT_")
"""A variable with one of these prefixes (in any case) is this server's: one it does not read is a typo."""
OTHER_VARIABLES: frozenset[str] = frozenset()
"""Variables with those prefixes that code reads outside `Settings` (a test keeps this list complete)."""
RESTRICTING = {
    "MCP_AUTH_TOKEN": "the HTTP endpoints would answer requests without a token",
    "AWS_MCP_READ_ONLY": "writes would be allowed",
    "AWS_MCP_POLICY_FILE": "the shipped policy.yaml would apply instead",
    "AWS_MCP_ALLOWED_ROLE_ARNS": "any role could be assumed",
}
"""Settings whose absence loosens the server, and what the server would do without them."""
SIMILAR = 0.6
"""The difflib ratio from which a known variable is suggested for an unknown one."""


def known_variables() -> frozenset[str]:
    """Every `AWS_MCP_*`, `MCP_*` (and other) variable this server reads; `ACCOUNT_*` ones follow ACCOUNT_VARIABLE."""
    return frozenset(settings_variables()) | OTHER_VARIABLES


def unknown_variables(values: Mapping[str, str], source: Callable[[str], str]) -> tuple[UnknownVariable, ...]:
    """The variables of `values` named like this server's that it does not read, each with the known variable
    it resembles most and, for a look-alike of an unset restricting setting, what would loosen."""
    known = known_variables()
    found = []
    for name, value in sorted(values.items()):
        if name.upper().startswith(SERVER_PREFIXES) and name not in known and not ACCOUNT_VARIABLE.match(name):
            suggestion = closest_variable(name, known)
            loosens = _loosens(suggestion, values) if value.strip() else None
            found.append(UnknownVariable(name, source(name), suggestion, loosens))
    return tuple(found)


def closest_variable(name: str, known: frozenset[str]) -> str | None:
    """The known variable `name` resembles most, compared without the prefixes every variable shares."""
    upper = name.upper()
    if upper.startswith("ACCOUNT_"):
        return _closest_account_variable(name)
    scored = max((difflib.SequenceMatcher(None, _stem(upper), _stem(k)).ratio(), k) for k in sorted(known))
    return scored[1] if scored[0] >= SIMILAR else None


def _stem(name: str) -> str:
    return re.sub(r"^(AWS_MCP_|MCP_|AWS_)", "", name)


def _closest_account_variable(name: str) -> str | None:
    """`ACCOUNT_<NAME>_<FIELD>` with a misspelled field: the field (one or two words at the end) closest to a
    known one, after the alias name the rest spells."""
    parts = name.split("_")[1:]
    best = (0.0, "")
    for words in (1, 2):
        if len(parts) > words:
            alias, field = "_".join(parts[:-words]), "_".join(parts[-words:]).upper()
            for known in ACCOUNT_FIELDS:
                best = max(best, (difflib.SequenceMatcher(None, field, known).ratio(), f"ACCOUNT_{alias}_{known}"))
    return best[1] if best[0] >= SIMILAR else None


def _loosens(suggestion: str | None, values: Mapping[str, str]) -> str | None:
    """What the server would do that a look-alike of `suggestion` was meant to prevent, when `suggestion` is unset."""
    if suggestion is None or values.get(suggestion, "").strip():
        return None
    if suggestion in RESTRICTING:
        return RESTRICTING[suggestion]
    match = ACCOUNT_VARIABLE.match(suggestion)
    if match and match.group(2) == "ROLE_ARN":
        alias = match.group(1).lower()
        fields = account_fields(values).get(alias, {})
        if "profile" in fields and "role_arn" not in fields:
            return f"account alias {alias!r} would act with its profile's own credentials, assuming no role"
    return None
