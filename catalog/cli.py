"""AWS CLI command lines turned into API calls in-process, with the AWS CLI's own parser; never a shell.

`parse_aws_command("ec2 describe-instances --filters Name=instance-state-name,Values=running")`
gives the same service, operation and parameters `aws` would send, because the argument tables,
shorthand syntax, JSON handling and customizations all come from the installed `awscli`. Nothing
is executed: the parser stops where the CLI would call the service.

Before any of that, the raw text is checked, and refused with `ParseRefused` saying why, when:

- it uses shell syntax: `;`, `|`, `&`, `<`, `>` outside quotes; command substitution (`$(...)`,
  backticks) or variable expansion (`$NAME`) outside single quotes; any control character such
  as a newline. Inside quotes those characters are plain text, as they would be in a shell, so
  `--filter-expression "size > :min"` and JMESPath literals in `--query 'a[?b==`1`]'` work;
- it asks the CLI for something other than a request to AWS: another endpoint, TLS or signing
  changes, debug output, help, skeletons, `configure`, `history`, CLI customizations that run
  local logic (`eks update-kubeconfig`, `ecr get-login-password`, waiters);
- it would make the CLI read or write local files (`file://`, `fileb://`, `--priv-launch-key`,
  `--outfile`-style arguments) or fetch URLs (`http(s)://` values, which the CLI downloads);
- a local path lies outside `files_root` once symlinks and `..` are resolved: `s3 cp/mv/sync`
  paths, and streaming upload parameters such as `s3api put-object --body`, which the CLI
  would open itself. Those come back as `{"$path": "<absolute path>"}` for the caller to open.

Refusal messages quote what was typed, never the content of a local file: no local file is read.
`--profile` and `--region` select the target and are returned, not applied; `--query` is
returned for the caller to apply; `--output`, `--color` and the timeouts are accepted and ignored.
Arguments naming local output files (`s3api get-object ... outfile`, `lambda invoke ... outfile`)
are accepted for compatibility and ignored: nothing is written; the response carries the data.

The awscli driver is built once (~0.1 s) and reused, and replaced after a few hundred distinct
commands (see `_Driver.MAX_COMMANDS`). Its parser keeps per-command state, so parsing is
serialized, and the argument tables that awscli edits while parsing are restored. The argparse
parsers built for a command are kept with the driver, so a warm parse builds none. Its botocore
session reads models through the catalog's loader (`catalog.models.data_loader`), which is safe
because this module makes sure awscli runs on the installed botocore, not its vendored copy.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import logging
import os
import re
import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# botocore and s3transfer first: importing awscli installs an import hook that makes any later
# first import of botocore or s3transfer in this process load awscli's vendored copies instead.
import botocore.session
import jmespath
import s3transfer  # noqa: F401
from botocore.hooks import HierarchicalEmitter
from botocore.loaders import Loader

# isort: split
import awscli
from awscli.argparser import ArgTableArgParser, MainArgParser, ServiceArgParser
from awscli.argprocess import unpack_argument, unpack_cli_arg
from awscli.clidriver import CLIDriver, ServiceCommand, ServiceOperation
from awscli.customizations.arguments import QueryOutFileArgument
from awscli.customizations.ec2.decryptpassword import LaunchKeyArgument
from awscli.customizations.iamvirtmfa import FileArgument
from awscli.customizations.s3.utils import find_bucket_key, split_s3_bucket_key
from awscli.paramfile import PARAMFILE_DISABLED
from awscli.plugin import load_plugins

from catalog.models import paginator_config, share_data_loader

if "awscli" in Path(botocore.__file__).parts:
    raise ImportError(
        "botocore was loaded from awscli's vendored copy because awscli was imported first; "
        "import botocore (or catalog.cli) before anything imports awscli."
    )


class ParseRefused(ValueError):
    """The command was not parsed; the message says why, quoting only what was typed."""


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class S3Transfer:
    """A high-level `aws s3` command as data.

    Locations are `{"bucket": ..., "key": ...}` for S3 and `{"path": ...}` (absolute, inside the
    files root, trailing slash kept) for local paths. `args` holds `location` (ls, mb, rb, rm; None
    for `s3 ls` of all buckets) or `source` and `destination` (cp, mv, sync), `recursive` where the
    command has the flag, `filters` as ordered `{"type": "include"|"exclude", "pattern": ...}`, and
    every other option given under awscli's name for it: the option name with `_` for `-`
    (`content_type`, `acl`), negative flags as the positive name set to False
    (`--no-follow-symlinks` gives `follow_symlinks: False`).
    """

    action: Literal["ls", "cp", "mv", "mb", "rb", "rm", "sync"]
    args: dict[str, Any]


@dataclass(frozen=True)
class ParsedCommand:
    """The call, the target (`--profile`, `--region`) and `--query` for the caller to apply.

    `paginate` is True when the CLI would page through every result: a paginated operation
    called without `--no-paginate` or a manual paging parameter (`--next-token`, `--max-results`).
    `PaginationConfig` in the params then carries `--max-items`, `--page-size`, `--starting-token`.
    """

    call: ApiCall | S3Transfer
    profile: str | None
    region: str | None
    output_query: str | None
    paginate: bool = False


def parse_aws_command(command: str, files_root: Path | None) -> ParsedCommand:
    """Parse one AWS CLI command line (with or without the leading `aws`) into the call it makes.

    `files_root` is the only directory `s3 cp/mv/sync` may use locally; relative paths are taken
    from it. With None, commands naming local paths are refused.
    """
    _refuse_shell_syntax(command)
    tokens = _tokenize(command)
    _refuse_forbidden_tokens(tokens)
    return _driver().parse(tokens, files_root)


_SHELL_OPERATORS = {
    ";": "command separators (;)",
    "|": "pipes and || (|)",
    "&": "background jobs and && (&)",
    "<": "redirection (<)",
    ">": "redirection (>)",
}
_NAME_START = re.compile(r"[A-Za-z_{]")


def _refuse_shell_syntax(command: str) -> None:
    """Refuse what a shell would interpret, using POSIX quoting rules to tell text from syntax."""
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in command):
        raise ParseRefused("Shell syntax is not supported: the command contains a newline or control character.")
    quote: str | None = None
    index = 0
    while index < len(command):
        char = command[index]
        if quote == "'":
            if char == "'":
                quote = None
        elif char == "\\":
            index += 2
            continue
        elif char == "`" or command.startswith("$(", index):
            raise ParseRefused(
                "Shell syntax is not supported: command substitution ($(...) or backticks) is only "
                "allowed as plain text inside single quotes."
            )
        elif char == "$" and _NAME_START.match(command, index + 1):
            raise ParseRefused(
                "Shell syntax is not supported: variables are not expanded; write the value itself, "
                "or put text containing $ in single quotes."
            )
        elif quote == '"':
            if char == '"':
                quote = None
        elif char in "'\"":
            quote = char
        elif char in _SHELL_OPERATORS:
            raise ParseRefused(
                f"Shell syntax is not supported: {_SHELL_OPERATORS[char]} outside quotes. "
                "Send one AWS CLI command at a time; quote values that contain these characters."
            )
        index += 1


def _tokenize(command: str) -> list[str]:
    try:
        tokens = shlex.split(command, posix=True)
    except ValueError as error:
        raise ParseRefused(f"Could not split the command into words: {error}.") from None
    if tokens and tokens[0] == "aws":
        tokens = tokens[1:]
    if not tokens:
        raise ParseRefused("Empty command: expected something like `ec2 describe-instances`.")
    return tokens


_FORBIDDEN_OPTIONS = {
    "--endpoint-url": "it sends the request somewhere other than AWS",
    "--debug": "it logs request details, including signed headers",
    "--no-verify-ssl": "it turns off TLS certificate checks",
    "--no-sign-request": "it sends unsigned requests",
    "--ca-bundle": "it reads a local certificate bundle and changes which TLS certificates are trusted",
    "--v2-debug": "it prints migration diagnostics instead of running quietly",
    "--version": "it prints the CLI version instead of running a command",
    "--generate-cli-skeleton": "it prints a template instead of running a command",
    "--priv-launch-key": "it reads a local private key file",
}
_LOCAL_FILE_PREFIX = re.compile(r"fileb?://", re.IGNORECASE)


def _refuse_forbidden_tokens(tokens: list[str]) -> None:
    for token in tokens:
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            if name in _FORBIDDEN_OPTIONS:
                raise ParseRefused(f"{name} is not allowed: {_FORBIDDEN_OPTIONS[name]}.")
        if _LOCAL_FILE_PREFIX.search(token):
            raise ParseRefused(
                "file:// and fileb:// values are not accepted: the AWS CLI would read a local file while "
                'parsing. Pass the content inline, or use the API form with {"$path": "<file>"} for binary values.'
            )


def _abbreviation_hint(option: str) -> str:
    name = option.split("=", 1)[0]
    if len(name) < 4 or not name.startswith("--"):
        return ""
    for forbidden in _FORBIDDEN_OPTIONS:
        if forbidden.startswith(name):
            return f" ({name} would abbreviate {forbidden}, which is not allowed.)"
    return ""


_REFUSED_COMMANDS = {
    "help": "help is not available here; use the operation search and schema tools instead.",
    "configure": "`configure` reads and writes local AWS configuration and credentials, which is not allowed.",
    "history": "`history` reads the CLI's local command history, which is not allowed.",
    "login": "`login` manages local credential caches, which is not allowed.",
    "logout": "`logout` manages local credential caches, which is not allowed.",
}
_S3_ACTIONS = ("ls", "cp", "mv", "mb", "rb", "rm", "sync")
_S3_REFUSED = {
    "presign": "`s3 presign` signs a URL locally with the server's credentials, which is not allowed.",
    "website": "`s3 website` is not supported here; use `s3api put-bucket-website`.",
}
# Arguments that make awscli probe, read or write a local path while parsing or after the call.
_LOCAL_FILE_ARGUMENTS = (QueryOutFileArgument, FileArgument, LaunchKeyArgument)
_VALID_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_IGNORED_GLOBALS = "--output, --color, --cli-read-timeout and --cli-connect-timeout"


class _QuietParserMixin:
    """argparse that raises ParseRefused instead of printing usage and exiting, without abbreviations.

    argparse would accept `--endpoint` for `--endpoint-url`; with abbreviations off, only
    exact option names match.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_abbrev = False

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ParseRefused(_sentence(message))

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise ParseRefused(_sentence(message or "The AWS CLI parser stopped without a command."))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # awscli's CommandAction rebuilds its list of choices from the command table on every read.
        choices = getattr(action, "command_table", None)
        if choices is None:
            choices = action.choices
        if choices is None or value in choices:
            return
        if action.dest == "command" and value in _REFUSED_COMMANDS:
            raise ParseRefused(_REFUSED_COMMANDS[value])
        if action.dest in ("command", "operation") and value == "help":
            raise ParseRefused(_REFUSED_COMMANDS["help"])
        close = difflib.get_close_matches(str(value), [str(choice) for choice in choices], n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        if action.dest == "operation":
            what = f"Unknown operation {value!r} for {getattr(self, '_service_name', 'this service')}"
        elif action.dest == "command":
            what = f"Unknown AWS CLI command {value!r}"
        else:
            what = f"Invalid value {value!r} for {action.dest}"
        raise ParseRefused(f"{what}.{hint}")


class _MainParser(_QuietParserMixin, MainArgParser):
    pass


class _ServiceParser(_QuietParserMixin, ServiceArgParser):
    pass


class _ArgTableParser(_QuietParserMixin, ArgTableArgParser):
    pass


def _sentence(message: str) -> str:
    message = " ".join(message.split())
    message = message[0].upper() + message[1:] if message else "The AWS CLI parser rejected the command"
    return message if message.endswith((".", "?", "!")) else f"{message}."


class _ParseOnlyEmitter(HierarchicalEmitter):
    """The event emitter of a CLI session that parses many commands and never sends a request.

    The AWS CLI runs one command per process, and its customizations rely on that: building
    the argument table of `ec2 modify-instance-attribute` registers a check on every
    `operation-args-parsed.ec2.*`, which breaks the next ec2 command parsed in the same
    session. So handlers registered while an argument table is built only run while that same
    command is parsed. Handlers for events that fire only when a request is sent (`after-call`,
    registered on every parse to write outfiles or decrypt passwords) are dropped.
    """

    _NEVER_EMITTED = ("after-call", "get-cli-input-json-data")

    def __init__(self) -> None:
        super().__init__()
        self._building: str | None = None
        self._parsing: str | None = None
        self.commands_built: set[str] = set()

    @contextlib.contextmanager
    def building(self, command: str) -> Iterator[None]:
        self.commands_built.add(command)
        self._building = command
        try:
            yield
        finally:
            self._building = None

    @contextlib.contextmanager
    def parsing(self, command: str) -> Iterator[None]:
        self._parsing = command
        try:
            yield
        finally:
            self._parsing = None

    def register(self, event_name: str, handler: Any, *args: Any, **kwargs: Any) -> None:
        if not event_name.startswith(self._NEVER_EMITTED):
            super().register(event_name, self._scoped(handler), *args, **kwargs)

    def register_first(self, event_name: str, handler: Any, *args: Any, **kwargs: Any) -> None:
        if not event_name.startswith(self._NEVER_EMITTED):
            super().register_first(event_name, self._scoped(handler), *args, **kwargs)

    def register_last(self, event_name: str, handler: Any, *args: Any, **kwargs: Any) -> None:
        if not event_name.startswith(self._NEVER_EMITTED):
            super().register_last(event_name, self._scoped(handler), *args, **kwargs)

    def _scoped(self, handler: Any) -> Any:
        owner = self._building
        if owner is None:
            return handler

        def only_while_parsing_owner(**kwargs: Any) -> Any:
            return handler(**kwargs) if self._parsing == owner else None

        return only_while_parsing_owner


def _refuse_downloads(event_name: str, param: Any, value: Any, **_: Any) -> None:
    """`load-cli-arg` guard: the CLI downloads http(s):// values for most parameters; refuse those.

    awscli's own loader (which reads file:// and downloads URLs) is registered on the
    `session-initialized` event, which this module never emits, so nothing is ever fetched;
    refusing keeps the result faithful to what the CLI would have sent.
    """
    qualified_name = event_name.split(".", 1)[1]
    if qualified_name in PARAMFILE_DISABLED or getattr(param, "no_paramfile", False):
        return
    candidate = value[0] if isinstance(value, list) and len(value) == 1 else value
    if isinstance(candidate, str) and candidate.startswith(("http://", "https://", "file://", "fileb://")):
        option = getattr(param, "cli_name", "a parameter")
        raise ParseRefused(
            f"{option} starts with {candidate.split('://', 1)[0]}://, so the AWS CLI would fetch that "
            "location and send its content; fetching is not allowed. Pass the content itself."
        )


class _Driver:
    """One awscli driver, built without user plugins, aliases or configuration files."""

    # Handlers scoped to a command are still visited on every event (~7 µs per command per
    # parse), so a driver is retired once it has built this many argument tables.
    MAX_COMMANDS = 256

    def __init__(self) -> None:
        self._events = _ParseOnlyEmitter()
        session = share_data_loader(botocore.session.Session(awscli.EnvironmentVariables, event_hooks=self._events))
        _add_awscli_data(session.get_component("data_loader"))
        for variable in ("config_file", "credentials_file"):
            session.set_config_variable(variable, os.devnull)
        load_plugins({}, event_hooks=session.get_component("event_emitter"))
        session.register("load-cli-arg", _refuse_downloads)
        session.get_component("event_emitter").register_first("process-cli-arg", self._streaming_blob_path)
        self._session = session
        self._files_root: Path | None = None
        driver = CLIDriver(session=session)
        self._commands = driver._get_command_table()
        self._main_parser = _MainParser(
            self._commands, f"aws-cli/{awscli.__version__}", None, driver._get_argument_table(), prog="aws"
        )
        self._service_parsers: dict[str, _ServiceParser] = {}
        self._arg_table_parsers: dict[tuple[Any, ...], _ArgTableParser] = {}
        self._lock = threading.Lock()
        # awscli logs unpacked parameter values (secrets included) at DEBUG.
        logging.getLogger("awscli").setLevel(logging.WARNING)

    @property
    def worn_out(self) -> bool:
        return len(self._events.commands_built) >= self.MAX_COMMANDS

    def parse(self, tokens: list[str], files_root: Path | None) -> ParsedCommand:
        sink = io.StringIO()
        with self._lock, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            self._files_root = files_root
            try:
                return self._parse(tokens, files_root)
            except ParseRefused:
                raise
            except (Exception, SystemExit) as error:  # noqa: BLE001 - awscli raises many unrelated types
                raise ParseRefused(_sentence(f"The AWS CLI rejected the command: {error}")) from None

    def _parse(self, tokens: list[str], files_root: Path | None) -> ParsedCommand:
        parsed_globals, remaining = self._main_parser.parse_known_args(tokens)
        _check_globals(parsed_globals)
        command = self._commands[parsed_globals.command]
        if parsed_globals.command == "s3":
            call: ApiCall | S3Transfer = self._s3_transfer(command, remaining, parsed_globals, files_root)
            paginate = False
        elif isinstance(command, ServiceCommand):
            call = self._api_call(command, remaining, parsed_globals)
            paginate = bool(parsed_globals.paginate) and call.operation in paginator_config(call.service)
        else:
            raise ParseRefused(_REFUSED_COMMANDS.get(parsed_globals.command, "This command is not supported."))
        return ParsedCommand(
            call=call,
            profile=parsed_globals.profile,
            region=parsed_globals.region,
            output_query=parsed_globals.query,
            paginate=paginate,
        )

    def _api_call(self, command: ServiceCommand, args: list[str], parsed_globals: argparse.Namespace) -> ApiCall:
        operations = command._get_command_table()
        parsed, remaining = self._service_parser(command.name, operations).parse_known_args(args)
        operation = operations[parsed.operation]
        if not isinstance(operation, ServiceOperation):
            raise ParseRefused(
                f"`{command.name} {parsed.operation}` is an AWS CLI customization that runs local logic, "
                "not a single API operation; it is not supported. Use the API operations it is built on."
            )
        params = self._operation_params(operation, remaining, parsed_globals)
        model = operation._operation_model
        return ApiCall(model.service_model.service_name, model.name, _plain(params))

    def _operation_params(
        self, operation: ServiceOperation, args: list[str], parsed_globals: argparse.Namespace
    ) -> dict[str, Any]:
        """What ServiceOperation.__call__ does up to the point where it would invoke the client."""
        event_suffix = ".".join(operation.lineage_names)
        with self._events.building(event_suffix):
            arg_table = operation.arg_table
        with self._events.parsing(event_suffix), _restored(arg_table):
            self._session.emit(
                f"before-building-argument-table-parser.{event_suffix}",
                argument_table=arg_table,
                args=args,
                session=self._session,
                parsed_globals=parsed_globals,
            )
            parsed_args, remaining = self._arg_table_parser(arg_table, positional_help=True).parse_known_args(args)
            if parsed_args.help == "help":
                raise ParseRefused(_REFUSED_COMMANDS["help"])
            if parsed_args.help:
                remaining.insert(0, parsed_args.help)
            _refuse_unknown(remaining)
            _refuse_local_file_arguments(arg_table, parsed_args)
            self._session.emit(
                f"operation-args-parsed.{event_suffix}", parsed_args=parsed_args, parsed_globals=parsed_globals
            )
            params = operation._build_call_parameters(parsed_args, arg_table, parsed_globals)
            override = self._session.emit_first_non_none_response(
                f"calling-command.{event_suffix}",
                call_parameters=params,
                parsed_args=parsed_args,
                parsed_globals=parsed_globals,
            )
        if isinstance(override, Exception):
            raise ParseRefused(_sentence(str(override)))
        if override is not None:
            raise ParseRefused("An AWS CLI customization handles this command locally; it is not supported.")
        return params

    def _service_parser(self, name: str, subcommands: dict[str, Any]) -> _ServiceParser:
        """The parser choosing `name`'s operation; built once, as its subcommand table never changes."""
        parser = self._service_parsers.get(name)
        if parser is None:
            parser = self._service_parsers[name] = _ServiceParser(operations_table=subcommands, service_name=name)
        return parser

    def _arg_table_parser(self, arg_table: dict[str, Any], positional_help: bool) -> _ArgTableParser:
        """A parser for the argument table as it stands now, built once per distinct state.

        Customizations may swap arguments in or mark them optional before the parser is built
        (`--cli-input-json`), so the table's (name, argument, required) entries are the key.
        argparse parsers keep no state between parses; the driver lock serializes their use.
        """
        key = (positional_help, *((name, argument, argument.required) for name, argument in arg_table.items()))
        parser = self._arg_table_parsers.get(key)
        if parser is None:
            parser = _ArgTableParser(arg_table)
            if positional_help:
                parser.add_argument("help", nargs="?")
            self._arg_table_parsers[key] = parser
        return parser

    def _streaming_blob_path(self, value: Any, param: Any = None, **_: Any) -> dict[str, str] | None:
        """`process-cli-arg` handler: the CLI opens streaming upload values (`--body x`) as local paths.

        Here they must lie under the files root, and come back as `{"$path": ...}` instead of an
        open file, with `~` and `$VARS` left unexpanded.
        """
        if param is None or param.type_name != "blob" or not param.serialization.get("streaming"):
            return None
        return {"$path": _local_path(value, self._files_root)}

    def _s3_transfer(
        self, command: Any, args: list[str], parsed_globals: argparse.Namespace, files_root: Path | None
    ) -> S3Transfer:
        subcommands = command.subcommand_table
        parsed, remaining = self._service_parser("s3", subcommands).parse_known_args(args)
        action = parsed.operation
        if action not in _S3_ACTIONS:
            raise ParseRefused(_S3_REFUSED.get(action, f"`s3 {action}` is not supported."))
        subcommand = subcommands[action]
        # Building the (empty) subcommand table is what registers sync's --delete, --size-only...
        subcommand.subcommand_table  # noqa: B018
        parser = self._arg_table_parser(subcommand.arg_table, positional_help=False)
        parsed_args, unknown = parser.parse_known_args(remaining)
        if getattr(parsed_args, "help", None) == "help":
            raise ParseRefused(_REFUSED_COMMANDS["help"])
        _refuse_unknown(unknown)
        values = self._unpack_s3_values(subcommand, parsed_args, parsed_globals)
        options = {
            name: value
            for name, value in values.items()
            if name not in ("paths", "path") and value != parser.get_default(name)
        }
        if "dir_op" in values:
            options.pop("dir_op", None)
            options["recursive"] = bool(values["dir_op"])
        if "filters" in options:
            options["filters"] = [
                {"type": option.lstrip("-"), "pattern": pattern} for option, pattern in options["filters"]
            ]
        return S3Transfer(action, _plain({**_s3_locations(action, values, files_root), **options}))

    def _unpack_s3_values(
        self, subcommand: Any, parsed_args: argparse.Namespace, parsed_globals: argparse.Namespace
    ) -> dict[str, Any]:
        """The unpacking loop of BasicCommand.__call__ (shorthand and JSON for map/list options)."""
        values = {}
        for name, value in vars(parsed_args).items():
            argument = subcommand.arg_table.get(name.replace("_", "-"))
            value = unpack_argument(self._session, "custom", subcommand.name, argument, value, parsed_globals)
            if argument is not None and argument.argument_model is not None and value is not None:
                override = self._session.emit_first_non_none_response(
                    f"process-cli-arg.custom.{subcommand.name}", cli_argument=argument, value=value, operation=None
                )
                value = override if override is not None else unpack_cli_arg(argument, value)
                subcommand._validate_value_against_schema(argument.argument_model, value)
            values[name] = value
        return values


_AWSCLI_DATA = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data")
_AWSCLI_DATA_LOCK = threading.Lock()


def _add_awscli_data(loader: Loader) -> None:
    """Let the shared loader find awscli's own data (`cli.json`, the global options).

    Importing awscli adds that folder to AWS_DATA_PATH, which a loader created earlier never
    read. It holds no service models, so the models and clients sharing the loader see no change.
    """
    with _AWSCLI_DATA_LOCK:
        if _AWSCLI_DATA not in loader.search_paths:
            loader.search_paths.append(_AWSCLI_DATA)


class _DriverSlot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._driver: _Driver | None = None

    def get(self) -> _Driver:
        with self._lock:
            if self._driver is None or self._driver.worn_out:
                self._driver = _Driver()
            return self._driver


_DRIVERS = _DriverSlot()


def _driver() -> _Driver:
    return _DRIVERS.get()


@contextlib.contextmanager
def _restored(arg_table: dict[str, Any]) -> Iterator[None]:
    """Undo what awscli does to a cached argument table while parsing one command.

    `--cli-input-json` marks every argument optional and `--no-paginate` swaps paging
    arguments back in; the CLI runs once per process, this parser runs for every command.
    """
    entries = list(arg_table.items())
    required = {name: argument.required for name, argument in entries}
    try:
        yield
    finally:
        arg_table.clear()
        arg_table.update(entries)
        for name, argument in entries:
            if argument.required != required[name]:
                argument.required = required[name]


def _plain(value: Any) -> Any:
    """awscli builds JSON values as OrderedDicts; callers get plain dicts and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _refuse_unknown(remaining: list[str]) -> None:
    if remaining:
        hints = "".join(_abbreviation_hint(option) for option in remaining)
        raise ParseRefused(f"Unknown options: {', '.join(remaining)}.{hints}")


def _refuse_local_file_arguments(arg_table: dict[str, Any], parsed_args: argparse.Namespace) -> None:
    for argument in arg_table.values():
        if isinstance(argument, _LOCAL_FILE_ARGUMENTS) and getattr(parsed_args, argument.py_name, None) is not None:
            raise ParseRefused(
                f"{argument.cli_name} names a local file the AWS CLI would read or write; this command "
                "cannot use local files. Use the API form instead."
            )


def _check_globals(parsed_globals: argparse.Namespace) -> None:
    """Second line of defence behind the token check: no global that changes where or how requests go."""
    if (
        parsed_globals.endpoint_url is not None
        or parsed_globals.debug
        or not parsed_globals.verify_ssl
        or not parsed_globals.sign_request
        or parsed_globals.ca_bundle is not None
        or parsed_globals.v2_debug
    ):
        raise ParseRefused(
            f"Only --profile, --region, --query, --no-paginate, {_IGNORED_GLOBALS} are accepted as global options."
        )
    if parsed_globals.region is not None and not _VALID_REGION.fullmatch(parsed_globals.region):
        raise ParseRefused(f"--region {parsed_globals.region!r} is not a region name.")
    if parsed_globals.query is not None:
        try:
            jmespath.compile(parsed_globals.query)
        except jmespath.exceptions.JMESPathError as error:
            raise ParseRefused(_sentence(f"--query is not a valid JMESPath expression: {error}")) from None


def _s3_locations(action: str, values: dict[str, Any], files_root: Path | None) -> dict[str, Any]:
    if action == "ls":
        path = values["paths"]
        bucket, key = find_bucket_key(path[len("s3://") :] if path.startswith("s3://") else path)
        return {"location": {"bucket": bucket, "key": key} if bucket else None}
    if action in ("mb", "rb"):
        location = _s3_location(values["path"], action)
        if action == "rb" and location["key"]:
            raise ParseRefused(f"`s3 rb` takes a bucket only, e.g. s3://{location['bucket']}.")
        return {"location": {"bucket": location["bucket"]}}
    if action == "rm":
        return {"location": _s3_location(values["paths"][0], action)}
    source, destination = values["paths"]
    if not (source.startswith("s3://") or destination.startswith("s3://")):
        raise ParseRefused(f"`s3 {action}` needs an s3:// location on at least one side.")
    return {
        "source": _location(source, action, files_root),
        "destination": _location(destination, action, files_root),
    }


def _location(path: str, action: str, files_root: Path | None) -> dict[str, str]:
    if path.startswith("s3://"):
        return _s3_location(path, action)
    return {"path": _local_path(path, files_root)}


def _s3_location(path: str, action: str) -> dict[str, str]:
    if not path.startswith("s3://"):
        raise ParseRefused(f"`s3 {action}` expects an s3:// location, got {path!r}.")
    bucket, key = split_s3_bucket_key(path)
    if not bucket:
        raise ParseRefused(f"{path!r} names no bucket.")
    return {"bucket": bucket, "key": key}


def _local_path(path: str, files_root: Path | None) -> str:
    """The absolute path `path` names under files_root, after following symlinks and `..`."""
    if files_root is None:
        raise ParseRefused(f"Local path {path!r}: local file access is not enabled on this server.")
    if path == "-":
        raise ParseRefused("Streaming through stdin/stdout (-) is not supported; use a file under the files root.")
    if path.startswith("~"):
        raise ParseRefused(f"Local path {path!r}: ~ is not expanded; give a path relative to the files root.")
    root = files_root.resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise ParseRefused(f"Local path {path!r} is outside the files root.")
    text = str(resolved)
    if path.endswith(("/", os.sep)) and not text.endswith(os.sep):
        text += os.sep
    return text
