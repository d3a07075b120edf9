"""The target matrix of a fleet call: accounts × regions, each cell with the credentials that reach it, or the
reason it cannot be called (the account is unreachable, the region not enabled)."""

from dataclasses import replace

import anyio

from core.calls import ResolvedTarget
from core.clients import AwsClients
from core.errors import CredentialsError, OpsError, from_exception
from core.executor import AwsExecutor
from fleet.fanout import TargetError, error_kind
from fleet.plan import FleetAccount
from fleet.query import Cell
from fleet.regions import EnabledRegions, is_global, needs_account_regions, select


class Matrix:
    def __init__(self, executor: AwsExecutor, clients: AwsClients) -> None:
        self.executor = executor
        self.clients = clients
        self.enabled_regions = EnabledRegions()

    async def cells(self, fleet: list[FleetAccount], patterns: tuple[str, ...], service: str) -> list[Cell]:
        """Every (account, region) target. Per account, at once across accounts: its credentials (warmed: an
        AssumeRole that fails fails the account's targets alone) and, when globs or opt-in regions need it,
        its enabled regions."""
        discover = needs_account_regions(patterns) and not is_global(service)

        async def account_cells(account: FleetAccount) -> list[Cell]:
            if account.target is None:
                regions, _ = select(patterns, service, None)
                error = TargetError("credential_error", "no_role", account.problem or "unreachable")
                return [Cell(account.account_id or account.label, account.label, r, None, error) for r in regions]
            try:
                account_id = await self.executor.run_blocking(self.reach, account.target, abandon=True)
            except OpsError as failure:
                kind = "policy_denied" if error_kind(failure) == "policy_denied" else "credential_error"
                regions, _ = select(patterns, service, None)
                error = TargetError(kind, failure.code, failure.message)
                return [Cell(account.account_id or account.label, account.label, r, None, error) for r in regions]
            enabled = None
            if discover:
                try:
                    enabled = await self.executor.run_blocking(
                        self.enabled_regions.get,
                        account_id,
                        lambda: self._describe_regions(account.target),
                        abandon=True,
                    )
                except OpsError:
                    enabled = None  # DescribeRegions refused: assume the regions every account has
            regions, not_enabled = select(patterns, service, enabled)
            cells = [
                Cell(account_id, account.label, region, replace(account.target, region=region)) for region in regions
            ]
            for region in not_enabled:
                message = f"{region} is not enabled in account {account_id} (an opt-in region)"
                cells.append(
                    Cell(
                        account_id,
                        account.label,
                        region,
                        None,
                        TargetError("region_not_enabled", "region_not_enabled", message),
                    )
                )
            return cells

        per_account: list[list[Cell]] = [[] for _ in fleet]

        async def fill(index: int, account: FleetAccount) -> None:
            per_account[index] = await account_cells(account)

        async with anyio.create_task_group() as group:
            for index, account in enumerate(fleet):
                group.start_soon(fill, index, account)
        cells = [cell for batch in per_account for cell in batch]
        unique = {(cell.account, cell.region): cell for cell in cells}
        return sorted(unique.values(), key=lambda cell: (cell.account, cell.region))

    def reach(self, target: ResolvedTarget) -> str:
        """The account id the target's credentials reach, with the credentials fetched (AssumeRole) now."""
        try:
            self.clients.frozen_credentials(target)
            return self.clients.reached_account(target)
        except OpsError:
            raise
        except Exception as exc:  # noqa: BLE001 - AssumeRole's own failure: the account is unreachable
            error = from_exception(exc)
            raise CredentialsError(f"cannot reach the account: {error.code}: {error.message}") from None

    def _describe_regions(self, target: ResolvedTarget) -> list[str]:
        client = self.clients.client(target, "ec2")
        regions = client.describe_regions()["Regions"]
        return [region["RegionName"] for region in regions if region.get("OptInStatus") != "not-opted-in"]
