"""AWS CLI command lines run in-process: parsed by `catalog.cli`, run by `GenericApi` or `S3Transfers`.

Never a subprocess, never a shell. `--profile` and `--region` in the command become the target,
and must agree with the tool's own parameters when both are given. The read-only entry point
refuses, before anything runs, every command whose operation is not classed read (with the
policy's own destructive patterns applied, and whatever `--dry-run` or global options say).

An API command is parsed in the same worker-thread hop that makes the call; a high-level s3
command, which stands for several calls, is parsed first and then run call by call.
"""

from dataclasses import replace
from types import ModuleType
from typing import Any

from catalog.classify import OpClass
from catalog.models import operation_model
from core.calls import AwsCall, Target
from core.errors import CommandRefused, NotARead
from core.executor import Detour
from core.files import LocalFiles
from core.payload import PATH_KEY
from generic.api import DEFAULT_MAX_ITEMS, ApiResult, GenericApi, Pagination, Request, compile_query
from generic.s3_transfers import S3Transfers
from guard.guard import Guard


class _HighLevelS3(Detour):
    """The command is a high-level s3 one: it leaves the single-call path with what the parser made."""

    def __init__(self, parsed: Any) -> None:
        super().__init__("s3 transfer")
        self.parsed = parsed


class AwsCommands:
    def __init__(self, api: GenericApi, transfers: S3Transfers, guard: Guard, files: LocalFiles) -> None:
        self.api = api
        self.transfers = transfers
        self.guard = guard
        self.files = files

    async def run(self, command: str, target: Target, *, read_only: bool) -> ApiResult:
        if not isinstance(command, str) or not command.strip():
            raise CommandRefused("empty command")
        try:
            return await self.api.run(lambda: self._request(command, target, read_only))
        except _HighLevelS3 as high_level:
            return await self._transfer(high_level.parsed, target, read_only)

    def _request(self, command: str, target: Target, read_only: bool) -> Request:
        """Blocking: parse the command line into one API request, refusing what the tool may not run."""
        parsed = self._parse(command)
        if isinstance(parsed.call, _cli().S3Transfer):
            raise _HighLevelS3(parsed)
        resolved = self.api.resolve(_merged_target(target, parsed.profile, parsed.region))
        call = parsed.call
        params = dict(call.params)
        config = params.pop("PaginationConfig", None) or {}
        if read_only:
            op_class = self.guard.classify(AwsCall(resolved, call.service, call.operation, params))
            if op_class is not OpClass.READ:
                raise NotARead(f"{call.service} {call.operation} is classed {op_class.value}, not read")
        pagination = None
        if parsed.paginate:
            pagination = Pagination(
                config.get("MaxItems") or DEFAULT_MAX_ITEMS, config.get("StartingToken"), config.get("PageSize")
            )
        return Request(
            resolved,
            operation_model(call.service, call.operation),
            self._relative_paths(params),
            pagination,
            compile_query(parsed.output_query),
            base64_blobs=False,
        )

    async def _transfer(self, parsed: Any, target: Target, read_only: bool) -> ApiResult:
        call = parsed.call
        if read_only and call.action != "ls":
            raise NotARead(f"`s3 {call.action}` changes objects, buckets or local files; it is not a read")
        resolved = await self.api.executor.run_blocking(
            self.api.resolve, _merged_target(target, parsed.profile, parsed.region)
        )
        result = await self.transfers.run(resolved, call.action, call.args)
        return _queried(result, parsed.output_query)

    def _parse(self, command: str) -> Any:
        cli = _cli()
        try:
            return cli.parse_aws_command(command, self.files.root)
        except cli.ParseRefused as refused:
            raise CommandRefused(str(refused)) from None

    def _relative_paths(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parser hands streaming uploads back as absolute paths it checked; files want them root-relative."""
        return {
            key: {PATH_KEY: self.files.relative(value[PATH_KEY])}
            if isinstance(value, dict) and set(value) == {PATH_KEY}
            else value
            for key, value in params.items()
        }


def _cli() -> ModuleType:
    """catalog.cli, imported on the first command: importing awscli takes about 0.2 s."""
    from catalog import cli

    return cli


def _merged_target(target: Target, profile: str | None, region: str | None) -> Target:
    for name, given, typed in (("profile", target.profile, profile), ("region", target.region, region)):
        if given and typed and given != typed:
            raise CommandRefused(
                f"the command says --{name} {typed} but the tool's {name} parameter says {given}",
                hint=f"give the {name} once, in the command or as the parameter",
            )
    return replace(target, profile=target.profile or profile, region=target.region or region)


def _queried(result: ApiResult, query: str | None) -> ApiResult:
    compiled = compile_query(query)
    if compiled is None:
        return result
    return result.model_copy(update={"result": compiled.search(result.result)})
