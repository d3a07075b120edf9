"""Selectors → the accounts a fleet call reaches, each with the credentials that reach it.

An alias reaches its account as any tool call would (its role or profile). A 12-digit id, and every account an
organization selector names, is reached by assuming AWS_MCP_ORG_ROLE_NAME in it from AWS_MCP_ORG_SOURCE (an alias
or a profile; default: the server's credentials), except the source's own account, reached directly. Allowed-role
patterns and per-account policy apply to every one, as to any call: the guard sees each target on its own.
"""

from dataclasses import dataclass, replace

from config import Settings
from core.calls import ResolvedTarget, Target
from core.clients import AwsClients
from core.errors import InvalidInput
from core.invocation import Invocation
from fleet.organization import MemberAccount, Organization
from fleet.selectors import ACCOUNT_ID, AccountsSpec, OrganizationSelector, account_names, organization_selector


@dataclass(frozen=True)
class FleetAccount:
    """One account of a fleet call: its id (when known before any call), a label, how to reach it."""

    label: str
    """The alias, or the organization's name for the account, or the id."""
    target: ResolvedTarget | None
    account_id: str | None = None
    problem: str | None = None
    """Why the account cannot be reached at all (no role to reach it): a credential_error for its targets."""


class Planner:
    """Turns an accounts selector into `FleetAccount`s. Blocking (the organization listing): worker threads."""

    def __init__(self, settings: Settings, clients: AwsClients, organization: Organization) -> None:
        self.settings = settings
        self.clients = clients
        self.organization = organization

    def source(self, invocation: Invocation) -> ResolvedTarget:
        """Where organization listings and member-account roles start from."""
        name = self.settings.org_source
        if name is None:
            target = Target()
        elif self.settings.account(name) is not None:
            target = Target(account=name)
        else:
            target = Target(profile=name)
        resolved = self._resolve(target, invocation)
        if resolved.role_arn:
            raise InvalidInput(
                f"AWS_MCP_ORG_SOURCE={name!r} assumes a role itself, and member roles cannot be chained from it",
                hint="name a profile (role_arn + source_profile in ~/.aws/config), or leave it unset for the default",
            )
        return resolved

    def accounts(self, spec: AccountsSpec, invocation: Invocation) -> list[FleetAccount]:
        if isinstance(spec, dict):
            try:
                selector = organization_selector(spec)
            except ValueError as problem:
                raise InvalidInput(str(problem), hint='e.g. {"organization": true, "exclude": ["sandbox"]}') from None
            return self._organization(selector, invocation)
        try:
            names = sorted(self.settings.accounts) if spec == "all" else account_names(spec)
        except ValueError as problem:
            raise InvalidInput(str(problem), hint='aliases or 12-digit ids; for many, {"organization": true}') from None
        if not names:
            raise InvalidInput(
                'accounts is empty: "all" found no configured alias' if spec == "all" else "accounts is empty",
                hint="ACCOUNT_<NAME>_ROLE_ARN defines aliases; or list 12-digit ids, or select the organization",
            )
        return [self._named(name, invocation) for name in names]

    def _named(self, name: str, invocation: Invocation) -> FleetAccount:
        if ACCOUNT_ID.match(name):
            return self._by_id(name, name, invocation)
        resolved = self._resolve(Target(account=name), invocation)
        return FleetAccount(resolved.alias or name, resolved, resolved.role_account)

    def _by_id(
        self, account: str, label: str, invocation: Invocation, source: ResolvedTarget | None = None
    ) -> FleetAccount:
        source = source or self.source(invocation)
        role = self.settings.org_role_name
        if role is None:
            if account == self.clients.reached_account(source):
                return FleetAccount(label, source, account)
            return FleetAccount(
                label, None, account, f"no way to reach account {account}: set AWS_MCP_ORG_ROLE_NAME, or name an alias"
            )
        if account == self._source_account(source):
            return FleetAccount(label, source, account)
        return FleetAccount(label, replace(source, role_arn=f"arn:aws:iam::{account}:role/{role}"), account)

    def _organization(self, selector: OrganizationSelector, invocation: Invocation) -> list[FleetAccount]:
        if self.settings.org_role_name is None:
            raise InvalidInput(
                "organization selectors need AWS_MCP_ORG_ROLE_NAME: the role assumed in each member account",
                hint="e.g. AWS_MCP_ORG_ROLE_NAME=OrganizationAccountAccessRole",
            )
        source = self.source(invocation)
        key = source.source

        def organizations():  # type: ignore[no-untyped-def]
            return self.clients.client(replace(source, region="us-east-1"), "organizations")

        members: list[MemberAccount] = self.organization.members(key, organizations)
        if selector.ou:
            members = [member for member in members if selector.ou in member.parents]
        if selector.account_tags:
            wanted = selector.account_tags.items()
            members = [m for m in members if wanted <= self.organization.tags(key, m.id, organizations).items()]
        excluded = set()
        for entry in selector.exclude:
            excluded.add(entry if ACCOUNT_ID.match(entry) else self._alias_account(entry, invocation))
        return [self._by_id(m.id, m.name, invocation, source) for m in members if m.id not in excluded]

    def _alias_account(self, alias: str, invocation: Invocation) -> str:
        return self.clients.reached_account(self._resolve(Target(account=alias), invocation))

    def _source_account(self, source: ResolvedTarget) -> str | None:
        try:
            return self.clients.reached_account(source)
        except Exception:  # noqa: BLE001 - no identity for the source: every member is then reached by its role
            return None

    def _resolve(self, target: Target, invocation: Invocation) -> ResolvedTarget:
        return self.clients.resolve(target, invocation.environment, invocation.principal.session_name)
