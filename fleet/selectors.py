"""What a fleet tool may be asked to reach: accounts and regions, as the caller writes them."""

import fnmatch
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config import known_regions

ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")


class OrganizationSelector(BaseModel):
    """Member accounts of the AWS Organization that AWS_MCP_ORG_SOURCE reaches (active accounts only)."""

    model_config = ConfigDict(extra="forbid")

    organization: bool = Field(False, description="true: every active account")
    ou: str | None = Field(None, description="An OU id (ou-...) or root id (r-...): its accounts, nested OUs included")
    account_tags: dict[str, str] | None = Field(None, description="Accounts carrying every one of these tags")
    exclude: list[str] = Field(default_factory=list, description="Account ids or aliases to leave out")

    @model_validator(mode="after")
    def _selects_something(self) -> "OrganizationSelector":
        if not (self.organization or self.ou or self.account_tags):
            raise ValueError('name organization: true, an ou, or account_tags (e.g. {"organization": true})')
        if self.ou is not None and not OU_ID.match(self.ou):
            raise ValueError(f"ou {self.ou!r} is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)")
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
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'accounts'}: {e['msg']}" for e in problem.errors())
        raise ValueError(f"accounts: {reasons}") from None


def region_patterns(spec: RegionsSpec) -> tuple[str, ...]:
    """The patterns of a region list, checked: each must name or match a known region."""
    if spec == "all":
        return ("*",)
    if not spec:
        raise ValueError('regions is empty: name regions, globs, or "all"')
    known = known_regions()
    for pattern in spec:
        if not fnmatch.filter(known, pattern):
            raise ValueError(f"region {pattern!r} matches no region botocore knows (e.g. us-east-1, eu-*)")
    return tuple(dict.fromkeys(spec))


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")
