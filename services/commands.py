"""AWS CLI command lines run in-process: parsed by `catalog.cli`, run by `GenericApi` or `S3Transfers`.

Never a subprocess, never a shell. `--profile` and `--region` in the command become the target,
and must agree with the tool's own parameters when both are given. The read-only entry point
refuses, before anything runs, every command whose operation is not classed read (with the
policy's own destructive patterns applied, and whatever `--dry-run` or global options say).
"""

from dataclasses import replace
from types import ModuleType
from typing import Any

from catalog.models import operation_model
from guard.classify import OpClass
from services.base import AwsCall, Target
from services.errors import InvalidInput
from services.generic import DEFAULT_MAX_ITEMS, ApiResult, GenericApi, Pagination, compile_query
from services.payload import PATH_KEY
from services.s3_transfers import S3Transfers


class CommandRefused(InvalidInput):
    code = "command_refused"
    hint = "send one AWS CLI command, e.g. `ec2 describe-instances --filters Name=instance-state-name,Values=running`"


class NotARead(InvalidInput):
    code = "not_a_read"
    hint = "use execute_aws_write_command, which runs writes through the guard (and asks before destroying)"


class AwsCommands:
    def __init__(self, api: GenericApi) -> None:
        self.api = api
        self.transfers = S3Transfers(api)

    async def run(self, command: str, target: Target, *, read_only: bool) -> ApiResult:
        parsed = await self.api.executor.in_thread(self._parse, command)
        target = _merged_target(target, parsed.profile, parsed.region)
        resolved = self.api.resolve(target)
        call = parsed.call
        if isinstance(call, _cli().S3Transfer):
            if read_only and call.action != "ls":
                raise NotARead(f"`s3 {call.action}` changes objects, buckets or local files; it is not a read")
            result = await self.transfers.run(resolved, call.action, call.args)
            return _queried(result, parsed.output_query)
        params = dict(call.params)
        config = params.pop("PaginationConfig", None) or {}
        if read_only:
            op_class = self.api.guard.classify(AwsCall(resolved, call.service, call.operation, params))
            if op_class is not OpClass.READ:
                raise NotARead(f"{call.service} {call.operation} is classed {op_class.value}, not read")
        model = operation_model(call.service, call.operation)
        params = self._relative_paths(params)
        pagination = None
        if parsed.paginate:
            pagination = Pagination(
                config.get("MaxItems") or DEFAULT_MAX_ITEMS, config.get("StartingToken"), config.get("PageSize")
            )
        query = compile_query(parsed.output_query)
        return await self.api.run(resolved, model, params, pagination, query, base64_blobs=False)

    def _parse(self, command: str) -> Any:
        cli = _cli()
        if not isinstance(command, str) or not command.strip():
            raise CommandRefused("empty command")
        try:
            return cli.parse_aws_command(command, self.api.files.root)
        except cli.CommandRefused as refused:
            raise CommandRefused(str(refused)) from None

    def _relative_paths(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parser hands streaming uploads back as absolute paths it checked; files want them root-relative."""
        return {
            key: {PATH_KEY: self.api.files.relative(value[PATH_KEY])}
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
