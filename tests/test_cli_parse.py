import argparse
import json
import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.validate import validate_parameters

from catalog import cli, models
from catalog.cli import ApiCall, ParsedCommand, ParseRefused, S3Transfer, parse_aws_command

CHANGE_BATCH = {
    "Changes": [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": "www.example.com",
                "Type": "A",
                "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.10"}],
            },
        }
    ]
}
TRUST_POLICY = '{"Version":"2012-10-17","Statement":[]}'
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"

# (command line, service, operation, parameters the API form takes)
EQUIVALENT_CALLS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "ec2 describe-instances --filters Name=instance-state-name,Values=running",
        "ec2",
        "DescribeInstances",
        {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}]},
    ),
    (
        """aws ec2 describe-instances --filters '[{"Name": "tag:env", "Values": ["prod", "dev"]}]'""",
        "ec2",
        "DescribeInstances",
        {"Filters": [{"Name": "tag:env", "Values": ["prod", "dev"]}]},
    ),
    (
        "ec2 start-instances --instance-ids i-0abc i-0def --dry-run",
        "ec2",
        "StartInstances",
        {"InstanceIds": ["i-0abc", "i-0def"], "DryRun": True},
    ),
    (
        "ec2 stop-instances --instance-ids i-0abc --no-dry-run",
        "ec2",
        "StopInstances",
        {"InstanceIds": ["i-0abc"], "DryRun": False},
    ),
    (
        "ec2 modify-instance-attribute --instance-id i-0abc --no-source-dest-check",
        "ec2",
        "ModifyInstanceAttribute",
        {"InstanceId": "i-0abc", "SourceDestCheck": {"Value": False}},
    ),
    (
        "ec2 run-instances --image-id ami-0abc --count 2 --instance-type t3.micro",
        "ec2",
        "RunInstances",
        {"ImageId": "ami-0abc", "InstanceType": "t3.micro", "MinCount": 2, "MaxCount": 2},
    ),
    (
        "s3api list-objects-v2 --bucket logs --prefix app/ --max-keys 10",
        "s3",
        "ListObjectsV2",
        {"Bucket": "logs", "Prefix": "app/", "MaxKeys": 10},
    ),
    (
        "s3api put-bucket-versioning --bucket logs --versioning-configuration Status=Enabled",
        "s3",
        "PutBucketVersioning",
        {"Bucket": "logs", "VersioningConfiguration": {"Status": "Enabled"}},
    ),
    (
        """dynamodb put-item --table-name orders --item '{"pk": {"S": "o#1"}, "qty": {"N": "2"}}'""",
        "dynamodb",
        "PutItem",
        {"TableName": "orders", "Item": {"pk": {"S": "o#1"}, "qty": {"N": "2"}}},
    ),
    (
        """dynamodb scan --table-name orders --filter-expression 'qty > :min' """
        """--expression-attribute-values '{":min": {"N": "1"}}'""",
        "dynamodb",
        "Scan",
        {"TableName": "orders", "FilterExpression": "qty > :min", "ExpressionAttributeValues": {":min": {"N": "1"}}},
    ),
    (
        f"route53 change-resource-record-sets --hosted-zone-id Z0123 --change-batch '{json.dumps(CHANGE_BATCH)}'",
        "route53",
        "ChangeResourceRecordSets",
        {"HostedZoneId": "Z0123", "ChangeBatch": CHANGE_BATCH},
    ),
    (
        f"sqs send-message --queue-url {QUEUE_URL} --message-body 'hello world' --delay-seconds 5",
        "sqs",
        "SendMessage",
        {"QueueUrl": QUEUE_URL, "MessageBody": "hello world", "DelaySeconds": 5},
    ),
    (
        f"sqs receive-message --queue-url {QUEUE_URL} --max-number-of-messages 10 --attribute-names All",
        "sqs",
        "ReceiveMessage",
        {"QueueUrl": QUEUE_URL, "MaxNumberOfMessages": 10, "AttributeNames": ["All"]},
    ),
    (
        "sns publish --topic-arn arn:aws:sns:us-east-1:123456789012:alerts --message 'disk > 90%' --subject disk",
        "sns",
        "Publish",
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Message": "disk > 90%", "Subject": "disk"},
    ),
    (
        f"iam create-role --role-name deploy --assume-role-policy-document '{TRUST_POLICY}'",
        "iam",
        "CreateRole",
        {"RoleName": "deploy", "AssumeRolePolicyDocument": TRUST_POLICY},
    ),
    (
        "iam attach-role-policy --role-name deploy --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess",
        "iam",
        "AttachRolePolicy",
        {"RoleName": "deploy", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    (
        "secretsmanager create-secret --name db --secret-string s3cr3t --tags Key=env,Value=prod",
        "secretsmanager",
        "CreateSecret",
        {"Name": "db", "SecretString": "s3cr3t", "Tags": [{"Key": "env", "Value": "prod"}]},
    ),
    (
        """secretsmanager create-secret --cli-input-json '{"Name": "db", "SecretString": "s3cr3t"}'""",
        "secretsmanager",
        "CreateSecret",
        {"Name": "db", "SecretString": "s3cr3t"},
    ),
    (
        """lambda invoke --function-name resize --payload '{"size": 2}' response.json""",
        "lambda",
        "Invoke",
        {"FunctionName": "resize", "Payload": '{"size": 2}'},
    ),
    ("sts get-caller-identity", "sts", "GetCallerIdentity", {}),
    (
        "sts assume-role --role-arn arn:aws:iam::123456789012:role/ops --role-session-name me --duration-seconds 900",
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::123456789012:role/ops", "RoleSessionName": "me", "DurationSeconds": 900},
    ),
    (
        "logs filter-log-events --log-group-name /app --filter-pattern ERROR --start-time 1700000000000",
        "logs",
        "FilterLogEvents",
        {"logGroupName": "/app", "filterPattern": "ERROR", "startTime": 1700000000000},
    ),
    (
        "logs put-retention-policy --log-group-name /app --retention-in-days 7",
        "logs",
        "PutRetentionPolicy",
        {"logGroupName": "/app", "retentionInDays": 7},
    ),
]


@pytest.mark.parametrize(
    ("command", "service", "operation", "params"), EQUIVALENT_CALLS, ids=[row[0][:60] for row in EQUIVALENT_CALLS]
)
def test_cli_commands_make_the_same_call_as_the_api_form(
    command: str, service: str, operation: str, params: dict[str, Any]
) -> None:
    parsed = parse_aws_command(command, None)
    assert parsed.call == ApiCall(service, operation, params)
    assert json.loads(json.dumps(parsed.call.params)) == params
    validate_parameters(parsed.call.params, models.operation_model(service, operation).input_shape)


def test_profile_region_and_query_are_returned_as_the_target_not_applied() -> None:
    query = 'Reservations[].Instances[?State.Name==`"running"`]'
    parsed = parse_aws_command(f"ec2 describe-instances --region eu-west-1 --profile prod --query '{query}'", None)
    assert parsed.call == ApiCall("ec2", "DescribeInstances", {})
    assert (parsed.profile, parsed.region) == ("prod", "eu-west-1")
    assert parsed.output_query == query
    bare = parse_aws_command("--profile staging sts get-caller-identity --output text --color off", None)
    assert (bare.profile, bare.region, bare.output_query) == ("staging", None, None)


def test_paging_follows_the_cli_max_items_and_no_paginate_and_manual_tokens() -> None:
    paged = parse_aws_command("ec2 describe-instances --max-items 5 --page-size 50 --starting-token abc", None)
    assert paged.paginate is True
    assert paged.call.params == {"PaginationConfig": {"MaxItems": 5, "PageSize": 50, "StartingToken": "abc"}}
    assert parse_aws_command("ec2 describe-instances --no-paginate", None).paginate is False
    manual = parse_aws_command("s3api list-objects-v2 --bucket logs --continuation-token t", None)
    assert (manual.paginate, manual.call.params) == (False, {"Bucket": "logs", "ContinuationToken": "t"})
    assert parse_aws_command("sts get-caller-identity", None).paginate is False


def test_state_awscli_keeps_between_commands_does_not_leak_into_the_next_parse() -> None:
    no_paginate = parse_aws_command(
        "route53 list-resource-record-sets --hosted-zone-id Z1 --no-paginate --max-items 5", None
    )
    assert no_paginate.call.params == {"HostedZoneId": "Z1", "MaxItems": "5"}
    paginated = parse_aws_command("route53 list-resource-record-sets --hosted-zone-id Z1 --max-items 5", None)
    assert paginated.call.params == {"HostedZoneId": "Z1", "PaginationConfig": {"MaxItems": "5"}}
    parse_aws_command("""secretsmanager create-secret --cli-input-json '{"Name": "a"}'""", None)
    with pytest.raises(ParseRefused, match="required: --name"):
        parse_aws_command("secretsmanager create-secret --secret-string b", None)
    parse_aws_command("ec2 modify-instance-attribute --instance-id i-1 --no-source-dest-check", None)
    assert parse_aws_command("ec2 describe-vpcs", None).call.operation == "DescribeVpcs"


def test_parsing_is_safe_from_several_threads_at_once() -> None:
    commands = [row[0] for row in EQUIVALENT_CALLS] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda command: parse_aws_command(command, None).call, commands))
    expected = [ApiCall(service, operation, params) for _, service, operation, params in EQUIVALENT_CALLS] * 4
    assert results == expected


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "site").mkdir(parents=True)
    (root / "site" / "index.html").write_text("<h1>hi</h1>")
    return root


def test_high_level_s3_commands_are_described_as_data(files_root: Path) -> None:
    assert parse_aws_command("s3 ls", None).call == S3Transfer("ls", {"location": None, "recursive": False})
    assert parse_aws_command("s3 ls s3://bucket/prefix/ --recursive", None).call == S3Transfer(
        "ls", {"location": {"bucket": "bucket", "key": "prefix/"}, "recursive": True}
    )
    assert parse_aws_command("s3 cp s3://b/k ./local", files_root).call == S3Transfer(
        "cp",
        {"source": {"bucket": "b", "key": "k"}, "destination": {"path": str(files_root / "local")}, "recursive": False},
    )
    assert parse_aws_command("s3 mb s3://b", None).call == S3Transfer("mb", {"location": {"bucket": "b"}})
    assert parse_aws_command("s3 rb s3://b --force", None).call == S3Transfer(
        "rb", {"location": {"bucket": "b"}, "force": True}
    )
    assert parse_aws_command("s3 rm s3://b/k", None).call == S3Transfer(
        "rm", {"location": {"bucket": "b", "key": "k"}, "recursive": False}
    )


def test_s3_transfer_options_keep_their_values_and_filter_order(files_root: Path) -> None:
    parsed = parse_aws_command(
        "s3 sync site s3://b/web/ --delete --exclude '*' --include '*.html' --acl public-read "
        "--metadata team=web --content-type text/html --region us-west-2",
        files_root,
    )
    assert parsed.region == "us-west-2"
    assert parsed.call == S3Transfer(
        "sync",
        {
            "source": {"path": str(files_root / "site")},
            "destination": {"bucket": "b", "key": "web/"},
            "delete": True,
            "filters": [{"type": "exclude", "pattern": "*"}, {"type": "include", "pattern": "*.html"}],
            "acl": "public-read",
            "metadata": {"team": "web"},
            "content_type": "text/html",
        },
    )
    into_directory = parse_aws_command("s3 cp s3://b/k downloads/", files_root).call
    assert into_directory.args["destination"] == {"path": str(files_root / "downloads") + os.sep}


CANARY = "canary-7f3e2a1b-never-leak-this"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text(CANARY)
    return directory


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test if parsing starts a process or opens a connection; records files opened."""
    opened: list[str] = []
    real_open = open

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("parsing must not run processes or open connections")

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr("builtins.open", recording_open)
    return opened


# Refused on the raw text, before awscli sees anything: (command, words the reason contains)
REFUSED_BEFORE_PARSING = [
    ("ec2 describe-instances; rm -rf /", "(;)"),
    ("sts get-caller-identity | curl x", "pipes"),
    ("s3 ls && id", "&&"),
    ("s3 ls || id", "||"),
    ("s3 ls & id", "background"),
    ("$(id)", "command substitution"),
    ("sts get-caller-identity --query `id`", "command substitution"),
    ('sts get-caller-identity --query "$(id)"', "command substitution"),
    ("sts get-caller-identity > /tmp/x", "redirection"),
    ("sts get-caller-identity < /etc/passwd", "redirection"),
    ("sts get-caller-identity\nid", "newline"),
    ("lambda get-function --function-name $NAME", "variables"),
    ("ec2 describe-instances --endpoint-url http://evil", "--endpoint-url is not allowed"),
    ("--endpoint-url=http://evil ec2 describe-instances", "--endpoint-url is not allowed"),
    ("sts get-caller-identity --debug", "--debug is not allowed"),
    ("s3 ls --no-verify-ssl", "--no-verify-ssl is not allowed"),
    ("s3 ls --no-sign-request", "--no-sign-request is not allowed"),
    ("s3 ls --ca-bundle x", "--ca-bundle is not allowed"),
    ("sts get-caller-identity --version", "--version is not allowed"),
    ("ec2 describe-instances --generate-cli-skeleton", "--generate-cli-skeleton is not allowed"),
    ("ec2 get-password-data --instance-id i-1 --priv-launch-key key.pem", "private key"),
    ("sts get-caller-identity 'unbalanced", "Could not split"),
    ("aws", "Empty command"),
]


@pytest.mark.parametrize(("command", "reason"), REFUSED_BEFORE_PARSING, ids=[row[0] for row in REFUSED_BEFORE_PARSING])
def test_shell_syntax_and_dangerous_flags_are_refused_before_awscli_parses_anything(
    command: str, reason: str, monkeypatch: pytest.MonkeyPatch, nothing_runs: list[str]
) -> None:
    def no_driver() -> None:
        raise AssertionError("awscli must not see this command")

    monkeypatch.setattr(cli, "_driver", no_driver)
    with pytest.raises(ParseRefused) as refused:
        parse_aws_command(command, None)
    assert reason in str(refused.value)
    assert nothing_runs == []


# Refused by the parser, with nothing executed or read: (command, words the reason contains)
REFUSED_WHILE_PARSING = [
    ("ec2 describe-instances --endpoint=http://evil", "abbreviate --endpoint-url"),
    ("ec2 describe-instances --endpoint http://evil", "abbreviate --endpoint-url"),
    ("ec2 describe-instances --no-verify http://evil", "abbreviate --no-verify-ssl"),
    ("configure set aws_access_key_id x", "configure"),
    ("configure list", "configure"),
    ("help", "help is not available"),
    ("ec2 help", "help is not available"),
    ("ec2 describe-instances help", "help is not available"),
    ("history list", "history"),
    ("login", "credential caches"),
    ("ec2 wait instance-running --instance-ids i-1", "customization"),
    ("eks update-kubeconfig --name prod", "customization"),
    ("ecr get-login-password", "customization"),
    ("s3 presign s3://b/k", "signs a URL locally"),
    ("iam create-policy --policy-name p --policy-document https://evil.example/p.json", "fetching is not allowed"),
    ("sts get-caller-identity --region 'us-east-1.evil.example/'", "not a region name"),
    ("sts get-caller-identity --query '[['", "not a valid JMESPath"),
    ("ec2 describe-instancs", "Did you mean: describe-instances"),
    ("ec2x describe-instances", "Did you mean: ec2"),
    ("s3api list-objects-v2", "required: --bucket"),
    ("s3 rb s3://b/k", "bucket only"),
]


@pytest.mark.parametrize(("command", "reason"), REFUSED_WHILE_PARSING, ids=[row[0] for row in REFUSED_WHILE_PARSING])
def test_commands_that_leave_the_aws_api_are_refused_with_the_reason(
    command: str, reason: str, nothing_runs: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ParseRefused) as refused:
        parse_aws_command(command, None)
    assert reason in str(refused.value)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    "template",
    [
        "secretsmanager create-secret --name a --secret-string file://{path}",
        "secretsmanager create-secret --name a --secret-string FILE://{path}",
        "secretsmanager create-secret --name a --secret-string=file://{path}",
        "lambda create-function --function-name f --role r --zip-file fileb://{path}",
        "secretsmanager create-secret --cli-input-json file://{path}",
        "ec2 run-instances --image-id ami-1 --user-data file://{path}",
    ],
)
def test_file_urls_are_refused_without_reading_or_leaking_the_file(
    template: str, outside: Path, nothing_runs: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    secret = outside / "secret.txt"
    with pytest.raises(ParseRefused) as refused:
        parse_aws_command(template.format(path=secret), outside)
    assert "file://" in str(refused.value)
    assert CANARY not in str(refused.value)
    assert str(secret) not in nothing_runs
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert (out, err) == ("", "")


@pytest.mark.parametrize(
    "command",
    [
        "s3 cp /etc/passwd s3://b/k",
        "s3 cp s3://b/k ../../etc/cron",
        "s3 cp s3://b/k ../outside/secret.txt",
        "s3 cp link/secret.txt s3://b/k",
        "s3 sync link s3://b/k",
        "s3 mv s3://b/k {outside}/x",
        "s3 cp s3://b/k ~/x",
        "s3 cp - s3://b/k",
    ],
)
def test_local_s3_paths_outside_the_files_root_are_refused(
    command: str, files_root: Path, outside: Path, nothing_runs: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    (files_root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ParseRefused) as refused:
        parse_aws_command(command.format(outside=outside), files_root)
    assert CANARY not in str(refused.value)
    assert not any(path.startswith(str(outside)) for path in nothing_runs)
    assert capfd.readouterr() == ("", "")


def test_local_s3_paths_need_a_files_root() -> None:
    with pytest.raises(ParseRefused, match="local file access is not enabled"):
        parse_aws_command("s3 cp ./report.csv s3://b/report.csv", None)


def test_symlinks_that_stay_inside_the_files_root_are_followed(files_root: Path) -> None:
    (files_root / "current").symlink_to(files_root / "site", target_is_directory=True)
    parsed = parse_aws_command("s3 cp current/index.html s3://b/index.html", files_root)
    assert parsed.call.args["source"] == {"path": str(files_root / "site" / "index.html")}


def test_quoted_shell_characters_are_plain_text() -> None:
    parsed = parse_aws_command(
        "sns publish --topic-arn arn:aws:sns:us-east-1:123456789012:t --message 'a; b | c && d > e $(f) `g` $H'",
        None,
    )
    assert parsed.call.params["Message"] == "a; b | c && d > e $(f) `g` $H"
    escaped = parse_aws_command(r"sns publish --topic-arn arn:aws:sns:us-east-1:1:t --message a\;b", None)
    assert escaped.call.params["Message"] == "a;b"


def test_awscli_warnings_never_reach_stdout_or_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    parsed = parse_aws_command("ec2 describe-instances --max-items 0", None)
    assert parsed.call.params == {"PaginationConfig": {"MaxItems": 0}}
    assert capfd.readouterr() == ("", "")


def test_a_warm_parse_reads_no_files(nothing_runs: list[str]) -> None:
    parse_aws_command("ec2 describe-instances --filters Name=tag:env,Values=prod", None)
    nothing_runs.clear()
    parse_aws_command("ec2 describe-instances --filters Name=tag:env,Values=prod", None)
    assert nothing_runs == []


def test_parsed_command_is_immutable() -> None:
    parsed = parse_aws_command("sts get-caller-identity", None)
    assert isinstance(parsed, ParsedCommand)
    with pytest.raises(AttributeError):
        parsed.region = "us-east-1"  # type: ignore[misc]


def test_a_driver_that_built_many_commands_is_replaced_and_parsing_carries_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli._Driver, "MAX_COMMANDS", 2)
    monkeypatch.setattr(cli, "_DRIVERS", cli._DriverSlot())
    first = cli._driver()
    parse_aws_command("sts get-caller-identity", None)
    parse_aws_command("sqs list-queues", None)
    assert parse_aws_command("ec2 describe-vpcs", None).call == ApiCall("ec2", "DescribeVpcs", {})
    assert cli._driver() is not first


def test_botocore_in_this_process_is_the_installed_one_not_awscli_vendored_copy() -> None:
    import botocore

    assert "awscli" not in Path(botocore.__file__).parts


def test_streaming_uploads_name_a_file_under_the_root_instead_of_opening_it(
    files_root: Path, outside: Path, nothing_runs: list[str]
) -> None:
    parsed = parse_aws_command("s3api put-object --bucket b --key index.html --body site/index.html", files_root)
    body = {"$path": str(files_root / "site" / "index.html")}
    assert parsed.call == ApiCall("s3", "PutObject", {"Bucket": "b", "Key": "index.html", "Body": body})
    assert body["$path"] not in nothing_runs
    unexpanded = parse_aws_command("s3api put-object --bucket b --key k --body '$HOME/x'", files_root)
    assert unexpanded.call.params["Body"] == {"$path": str(files_root / "$HOME" / "x")}
    for command, root in [
        (f"s3api put-object --bucket b --key k --body {outside / 'secret.txt'}", files_root),
        ("glacier upload-archive --account-id - --vault-name v --body ../outside/secret.txt", files_root),
        ("s3api put-object --bucket b --key k --body site/index.html", None),
    ]:
        with pytest.raises(ParseRefused) as refused:
            parse_aws_command(command, root)
        assert CANARY not in str(refused.value)
    assert not any(path.startswith(str(outside)) for path in nothing_runs)


@pytest.mark.parametrize(
    "command",
    [
        "iam create-virtual-mfa-device --virtual-mfa-device-name m --outfile '$HOME/seed' --bootstrap-method QRCodePNG",
        "iot create-keys-and-certificate --set-as-active --private-key-outfile key.pem",
    ],
)
def test_arguments_that_make_the_cli_write_local_files_are_refused(
    command: str,
    files_root: Path,
    nothing_runs: list[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", f"/home/{CANARY}")
    with pytest.raises(ParseRefused, match="local file") as refused:
        parse_aws_command(command, files_root)
    assert CANARY not in str(refused.value)
    assert capfd.readouterr() == ("", "")
    assert list(files_root.iterdir()) == [files_root / "site"]


def test_a_warm_parse_builds_no_argparse_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_DRIVERS", cli._DriverSlot())
    commands = [
        "ec2 describe-instances --filters Name=tag:env,Values=prod",
        "ec2 run-instances --image-id ami-0abc --count 2",
        "s3 cp s3://bucket/a s3://bucket/b --recursive",
    ]
    for command in commands:
        parse_aws_command(command, None)
    built: list[str] = []
    real_init = argparse.ArgumentParser.__init__

    def counting_init(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        built.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "__init__", counting_init)
    assert [parse_aws_command(command, None).call for command in commands] == [
        ApiCall("ec2", "DescribeInstances", {"Filters": [{"Name": "tag:env", "Values": ["prod"]}]}),
        ApiCall("ec2", "RunInstances", {"ImageId": "ami-0abc", "MinCount": 2, "MaxCount": 2}),
        S3Transfer(
            "cp",
            {
                "source": {"bucket": "bucket", "key": "a"},
                "destination": {"bucket": "bucket", "key": "b"},
                "recursive": True,
            },
        ),
    ]
    assert built == []


def test_the_cli_parser_reads_models_through_the_catalogs_loader(nothing_runs: list[str]) -> None:
    driver = cli._Driver()
    assert driver._session.get_component("data_loader") is models.data_loader()
    models.service_model("ec2")
    nothing_runs.clear()
    assert driver.parse(["ec2", "describe-vpcs"], None).call == ApiCall("ec2", "DescribeVpcs", {})
    assert not [path for path in nothing_runs if f"{os.sep}ec2{os.sep}" in path and "service-2" in path]
