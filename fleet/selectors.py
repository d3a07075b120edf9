"""What a fleet tool may be asked to reach: accounts and regions, as the caller writes them."""

import fnmatch
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from config import known_regions

ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
MAX_LISTED_ACCOUNTS = 1000
"""Accounts a list (or an exclude list) may name: more is an organization selector's job."""
MAX_REGION_PATTERNS = 100
MAX_REGION_PATTERN_LENGTH = 64
"""Region names are under 20 characters; a longer pattern is no region's, and would be matched on the event loop."""


class OrganizationSelector(BaseModel):
    """Member accounts of the AWS Organization that AWS_MCP_ORG_SOURCE reaches (active accounts only)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    organization: bool = Field(False, description="true: every active account")
    ou: str | None = Field(None, description="An OU id (ou-...) or root id (r-...): its accounts, nested OUs included")
    account_tags: dict[str, str] | None = Field(None, description="Accounts carrying every one of these tags")
    exclude: list[str] = Field(
        default_factory=list, max_length=MAX_LISTED_ACCOUNTS, description="Account ids or aliases to leave out"
    )

    @model_validator(mode="after")
    def _selects_something(self) -> "OrganizationSelector":
        if self.ou is not None and not OU_ID.match(self.ou):
            raise ValueError(f"ou {self.ou[:80]!r} is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)")
        if self.account_tags == {}:
            raise ValueError('account_tags is empty: name the tags every account must carry ({"env": "prod"})')
        if self.organization and (self.ou or self.account_tags):
            raise ValueError("organization: true selects every account: leave it out to select by ou or account_tags")
        if not (self.organization or self.ou or self.account_tags):
            raise ValueError('name organization: true, an ou, or account_tags (e.g. {"organization": true})')
        return self


AccountsSpec = list[str] | Literal["all"] | dict[str, Any]
"""Aliases or 12-digit ids; "all" (every configured alias); or an organization selector (`organization_selector`
checks it: its schema stays out of tools/list, which every conversation pays for)."""

RegionsSpec = list[str] | Literal["all"]
"""Region names or globs (eu-*); "all": every region the account has enabled where the service exists."""

ACCOUNTS_DESCRIPTION = 'Aliases, ids, "all", or {"organization": true}|{"ou": ..}|{"account_tags": {..}} (+"exclude")'
REGIONS_DESCRIPTION = 'Names or globs (["eu-*"]), or "all" (enabled, offering the service)'


def organization_selector(spec: dict[str, Any]) -> OrganizationSelector:
    try:
        return OrganizationSelector.model_validate(spec)
    except ValidationError as problem:
        raise ValueError(f"accounts: {'; '.join(map(_reason, problem.errors()))}") from None


def _reason(error: ErrorDetails) -> str:
    """One validation problem in the caller's terms: where (none for the selector as a whole) and what."""
    where = ".".join(map(str, error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (known: {', '.join(OrganizationSelector.model_fields)})"
    what = error["msg"].removeprefix("Value error, ")
    return f"{where}: {what}" if where else what


def account_names(spec: list[str]) -> list[str]:
    """A list of aliases or ids, checked: not too long, no empty name; duplicates dropped, order kept."""
    if len(spec) > MAX_LISTED_ACCOUNTS:
        raise ValueError(f"accounts lists {len(spec)} accounts: at most {MAX_LISTED_ACCOUNTS}")
    if any(not name.strip() for name in spec):
        raise ValueError("accounts: an empty name (name an alias or a 12-digit id)")
    return list(dict.fromkeys(spec))


def region_patterns(spec: RegionsSpec) -> tuple[str, ...]:
    """The patterns of a region list, checked: each must name or match a known region."""
    if spec == "all":
        return ("*",)
    if not spec:
        raise ValueError('regions is empty: name regions, globs, or "all"')
    if len(spec) > MAX_REGION_PATTERNS:
        raise ValueError(f"{len(spec)} regions or globs: at most {MAX_REGION_PATTERNS}")
    known = known_regions()
    for pattern in spec:
        if len(pattern) > MAX_REGION_PATTERN_LENGTH:
            raise ValueError(f"region {pattern[:20]!r}... is longer than {MAX_REGION_PATTERN_LENGTH} characters")
        if not fnmatch.filter(known, pattern):
            raise ValueError(f"region {pattern!r} matches no region botocore knows (e.g. us-east-1, eu-*)")
    return tuple(dict.fromkeys(spec))


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")
