"""The guard on every call: policy, confirmation of destructive calls, audit log."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitResult

from catalog.classify import OpClass
from core.calls import AwsCall, ResolvedTarget
from guard.confirm import ConfirmationTokens, TokenRejected
from guard.policy import Policy, PolicyDocument, PolicyError, parse_policy_file
from tests.conftest import SECRET_KEY, connect, serve
from tests.helpers import audit_records, error_of, fails, hint, ok
from tests.repo import ROOT

pytestmark = pytest.mark.anyio


def policy(text: str, tmp_path: Path, read_only: bool = False) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return Policy.load(path, read_only=read_only)


@pytest.mark.parametrize(
    ("document", "service", "operation", "op_class", "alias", "allowed", "rule"),
    [
        ("{}", "s3", "DeleteBucket", OpClass.DESTRUCTIVE, None, True, "default"),
        ("services: {denylist: [iam]}", "iam", "ListRoles", OpClass.READ, None, False, "services.denylist"),
        ("services: {allowlist: [s3]}", "ec2", "DescribeInstances", OpClass.READ, None, False, "services.allowlist"),
        (
            "rules: {deny: ['^s3:DeleteBucket$']}",
            "s3",
            "DeleteBucket",
            OpClass.DESTRUCTIVE,
            None,
            False,
            "rules.deny[0]",
        ),
        (
            "rules: {allow: ['^s3:'], deny: ['^s3:Delete']}",
            "s3",
            "DeleteObject",
            OpClass.DESTRUCTIVE,
            None,
            False,
            "rules.deny",
        ),
        ("rules: {allow: ['^s3:']}", "s3", "ListBuckets", OpClass.READ, None, True, "rules.allow[0]"),
        ("rules: {allow: ['^s3:']}", "sqs", "ListQueues", OpClass.READ, None, False, "rules.allow: no rule"),
        ("read_only: true", "s3", "PutObject", OpClass.WRITE, None, False, "read_only"),
        ("read_only: true", "secretsmanager", "GetSecretValue", OpClass.SENSITIVE, None, True, "default"),
        (
            "allow_sensitive_reads: false",
            "secretsmanager",
            "GetSecretValue",
            OpClass.SENSITIVE,
            None,
            False,
            "allow_sensitive_reads",
        ),
        (
            "accounts: {prod: {read_only: true}}",
            "s3",
            "PutObject",
            OpClass.WRITE,
            "prod",
            False,
            "accounts.prod.read_only",
        ),
        ("accounts: {prod: {read_only: true}}", "s3", "PutObject", OpClass.WRITE, "staging", True, "default"),
        (
            "accounts: {prod: {read_only: false}}\nread_only: true",
            "s3",
            "PutObject",
            OpClass.WRITE,
            "prod",
            False,
            "read_only",
        ),
        (
            "rules: {allow: ['^s3:']}\naccounts: {prod: {rules: {allow: ['^ec2:']}}}",
            "s3",
            "ListBuckets",
            OpClass.READ,
            "prod",
            False,
            "accounts.prod.rules.allow",
        ),
        (
            "accounts: {prod: {services: {denylist: [s3]}}}",
            "s3",
            "ListBuckets",
            OpClass.READ,
            "PROD",
            False,
            "accounts.prod.services.denylist",
        ),
    ],
)
def test_policy_matrix(tmp_path, document, service, operation, op_class, alias, allowed, rule):
    decision = policy(document, tmp_path).decide(service, operation, op_class, [alias] if alias else [])
    assert decision.allowed is allowed
    assert rule in decision.rule


def test_read_only_environment_shortcut_refuses_writes(tmp_path):
    decision = policy("{}", tmp_path, read_only=True).decide("s3", "PutObject", OpClass.WRITE)
    assert not decision.allowed and "AWS_MCP_READ_ONLY" in decision.rule


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("read_only: [unclosed\n", "line 2", "not valid YAML"),
        ("read_only: false\nservices:\n  denylist: [iam]\n  blocklist: [s3]\n", "line 4", "unknown key"),
        ("rules:\n  deny:\n    - '^s3:Delete'\n    - '^s3:(Get)\\1'\n", "line 4", "backreferences"),
        ("destructive_patterns:\n  - '^Delete'\n  - '^(?!Get)'\n", "line 3", "look-around"),
        ("rules:\n  allow: ['(?<=s3:)Get']\n", "line 2", "look-around"),
        ("accounts:\n  prod:\n    read_only: sometimes\n", "line 3", "boolean"),
        ("- just\n- a list\n", "line 1", "mapping"),
    ],
)
def test_bad_policy_file_names_file_line_and_reason(tmp_path, text, line, reason):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as refused:
        parse_policy_file(path)
    message = str(refused.value)
    assert str(path) in message and line in message and reason in message


LINEAR_TIME_CHECK = """
import sys, time
from pathlib import Path
from catalog.classify import OpClass, classify
from guard.policy import Policy
policy = Policy.load(Path(sys.argv[1]))
started = time.monotonic()
decision = policy.decide("a" * 40, "B", OpClass.READ)
op_class = classify("s3", "a" * 39 + "!", None, policy.destructive_patterns())
print(decision.allowed, op_class.value, time.monotonic() - started < 1.0)
"""


def test_policy_regexes_decide_in_linear_time_whatever_they_say(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  deny: ['^(a|a)*$|^s3:DeleteBucket$']\ndestructive_patterns: ['^(a|a)*$|^Terminate']\n")
    try:
        result = subprocess.run(
            [sys.executable, "-c", LINEAR_TIME_CHECK, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deciding on a 40-character name with ^(a|a)*$ did not finish in 60 s")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "write", "True"]


@pytest.mark.parametrize(
    ("text", "line", "entry", "suggestion"),
    [
        (
            "rules:\n  deny:\n    - '^s3:DeleteObject$'\n    - '^S3:DeleteBucket$'\n",
            "line 4",
            "rules.deny.1",
            "'^s3:DeleteBucket$'",
        ),
        ("rules:\n  allow: ['^ec2:terminate-instances$']\n", "line 2", "rules.allow.0", "'^ec2:TerminateInstances$'"),
        ("rules:\n  deny: ['^s3api:DeleteBucket$']\n", "line 2", "rules.deny.0", "'^s3:DeleteBucket$'"),
        (
            "accounts:\n  prod:\n    rules:\n      deny:\n        - '^secretsmanager:Delete|^Secrets Manager:Put'\n",
            "line 5",
            "accounts.prod.rules.deny.0",
            "'^secretsmanager:Delete|^secretsmanager:Put'",
        ),
        ("destructive_patterns:\n  - '^S3:Delete'\n", "line 2", "destructive_patterns.0", "'^s3:Delete'"),
        (
            "destructive_patterns: ['^ec2:terminate-instances$']\n",
            "line 1",
            "destructive_patterns.0",
            "'^ec2:TerminateInstances$'",
        ),
        ("services:\n  denylist: [iam, secretmanager]\n", "line 2", "services.denylist.1", "secretsmanager"),
        ("services:\n  allowlist:\n    - s3\n    - dynamodbb\n", "line 4", "services.allowlist.1", "dynamodb"),
    ],
)
def test_policy_typos_stop_startup_naming_the_entry_and_the_right_spelling(tmp_path, text, line, entry, suggestion):
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as refused:
        parse_policy_file(path)
    message = str(refused.value)
    assert str(path) in message and f"{line}:" in message and f" {entry}:" in message, message
    assert f"Did you mean: {suggestion}" in message or f"did you mean {suggestion}" in message, message


@pytest.mark.parametrize("rule", ["^S3:", "s3:deleteBucket$", "^ok$", "Delete[0-9]{3}Bucket"])
def test_policy_rules_that_match_no_operation_are_refused(tmp_path, rule):
    path = tmp_path / "nothing.yaml"
    path.write_text(f"rules:\n  deny: ['{rule}']\n")
    with pytest.raises(PolicyError, match=r"line 2: rules.deny.0: .*(matches no AWS operation|not an AWS service)"):
        parse_policy_file(path)


def test_policy_service_lists_accept_the_spellings_the_tools_accept(tmp_path):
    loaded = policy("services:\n  denylist: [s3api, Secrets Manager, configservice, EC2]\n", tmp_path)
    assert loaded.document.services.denylist == ["s3", "secretsmanager", "config", "ec2"]
    decision = loaded.decide("secretsmanager", "DeleteSecret", OpClass.DESTRUCTIVE)
    assert not decision.allowed and "services.denylist contains 'secretsmanager'" in decision.rule


def test_policy_rules_that_match_something_load(tmp_path):
    loaded = policy(
        "rules:\n  allow: ['^(s3|sqs):', ':(Get|List)', '(?i)bucket']\n  deny: ['^s3:Delete']\n"
        "destructive_patterns: ['^Reboot', '^ec2:StopInstances$']\n",
        tmp_path,
    )
    assert loaded.decide("sqs", "ListQueues", OpClass.READ).allowed
    assert not loaded.decide("s3", "DeleteBucket", OpClass.DESTRUCTIVE).allowed


def test_bad_policy_file_stops_server_startup(tmp_path):
    from tests.test_transports import run_server

    path = tmp_path / "policy.yaml"
    path.write_text("services:\n  denylist: [iam]\nrule: {}\n")
    result = run_server("--transport", "stdio", env={"AWS_MCP_POLICY_FILE": str(path)})
    assert result.returncode == 2 and "line 3" in result.stderr and "unknown key" in result.stderr


def test_shipped_default_policy_parses_and_allows_everything_by_default():
    loaded = Policy.load(None)
    document = loaded.document
    assert (document.read_only, document.allow_sensitive_reads) == (False, True)
    assert document.rules == PolicyDocument().rules and document.services == PolicyDocument().services
    assert loaded.decide("ec2", "TerminateInstances", OpClass.DESTRUCTIVE).allowed


def _call(params: dict, region: str = "us-east-1") -> AwsCall:
    return AwsCall(ResolvedTarget(region=region), "secretsmanager", "DeleteSecret", params)


def test_token_misuse_is_refused():
    now = [1_000_000.0]
    tokens = ConfirmationTokens("a-shared-secret-of-32-characters", ttl_seconds=300, clock=lambda: now[0])
    call = _call({"SecretId": "a"})
    issued = tokens.issue(call, "session-1")
    for other_call, caller, reason in [
        (_call({"SecretId": "b"}), "session-1", "different operation"),
        (_call({"SecretId": "a", "ForceDeleteWithoutRecovery": True}), "session-1", "different operation"),
        (_call({"SecretId": "a"}, region="eu-west-1"), "session-1", "different operation"),
        (call, "session-2", "another caller"),
    ]:
        with pytest.raises(TokenRejected, match=reason):
            tokens.redeem(issued.token, other_call, caller)
    payload, signature = issued.token.split(".")
    with pytest.raises(TokenRejected, match="signature"):
        tokens.redeem(payload[:-2] + "xx." + signature, call, "session-1")
    with pytest.raises(TokenRejected, match="signature"):
        ConfirmationTokens("another-secret-of-32-characters!", 300).redeem(issued.token, call, "session-1")
    tokens.redeem(issued.token, call, "session-1")
    with pytest.raises(TokenRejected, match="already used"):
        tokens.redeem(issued.token, call, "session-1")
    late = tokens.issue(call, "session-1")
    now[0] += 301
    with pytest.raises(TokenRejected, match="expired"):
        tokens.redeem(late.token, call, "session-1")


def test_replicas_sharing_the_secret_verify_each_others_tokens():
    call = _call({"SecretId": "a"})
    issued = ConfirmationTokens("a-shared-secret-of-32-characters", 300).issue(call, "c")
    ConfirmationTokens("a-shared-secret-of-32-characters", 300).redeem(issued.token, call, "c")


async def test_destructive_call_needs_a_token_bound_to_that_call(served):
    """Bound to the principal, the target and the exact call; not to a connection, so a client that reconnects
    (or the Inspector CLI, a process per call) can confirm. A foreign principal is refused (see the unit test)."""
    async with connect(served.url, "sse") as client, connect(served.url, "sse") as reconnected:
        for name in ("a", "b"):
            await ok(client, "create_secret", name=name, secret_string="v")
        asked = await fails(client, "delete_secret", secret_id="a", force_delete_without_recovery=True)
        assert asked["code"] == "confirmation_required"
        assert asked["action"] == "delete secret a, no recovery window in account 123456789012 us-east-1"
        token = asked["confirmation_token"]
        assert asked["expires_at"] > 0
        refused = await fails(
            client, "delete_secret", secret_id="b", force_delete_without_recovery=True, confirmation_token=token
        )
        assert refused["code"] == "confirmation_invalid"
        refused = await fails(client, "delete_secret", secret_id="a", confirmation_token=token)
        assert refused["code"] == "confirmation_invalid"
        assert (await ok(client, "describe_secret", secret_id="a"))["name"] == "a"
        deleted = await ok(
            reconnected, "delete_secret", secret_id="a", force_delete_without_recovery=True, confirmation_token=token
        )
        assert deleted["recoverable"] is False
        again = await fails(
            client, "delete_secret", secret_id="a", force_delete_without_recovery=True, confirmation_token=token
        )
        assert "already used" in again["message"]
        assert (await ok(client, "describe_secret", secret_id="b"))["name"] == "b"


async def test_route53_batch_with_a_delete_needs_confirmation_but_creates_do_not(client, aws):
    aws().client("route53").create_hosted_zone(Name="example.net", CallerReference="x")
    record = {"name": "a.example.net", "type": "A", "ttl": 60, "values": ["192.0.2.1"]}
    await ok(client, "change_records", zone="example.net", changes=[{"action": "CREATE", **record}])
    asked = await fails(client, "change_records", zone="example.net", changes=[{"action": "DELETE", **record}])
    assert asked["code"] == "confirmation_required" and "delete A a.example.net." in asked["action"]


@pytest.mark.parametrize(
    ("transport", "answer", "outcome"),
    [
        ("http", ElicitResult(action="accept", content={"confirm": True}), "deleted"),
        ("http", ElicitResult(action="accept", content={"confirm": False}), "confirmation_declined"),
        ("http", ElicitResult(action="decline"), "confirmation_declined"),
        ("http", ElicitResult(action="cancel"), "confirmation_declined"),
        ("legacy-http", ElicitResult(action="accept", content={"confirm": True}), "deleted"),
        ("legacy-http", ElicitResult(action="decline"), "confirmation_declined"),
        ("legacy-http", ElicitResult(action="cancel"), "confirmation_declined"),
    ],
)
async def test_clients_with_elicitation_are_asked(served, audit_file, transport, answer, outcome):
    asked = []

    async def elicit(context, params):
        asked.append(params.message)
        return answer

    async with connect(served.url, transport, elicitation_callback=elicit) as client:
        await ok(client, "create_secret", name="doomed", secret_string="v")
        result = await client.call_tool("delete_secret", {"secret_id": "doomed", "force_delete_without_recovery": True})
        assert asked == [
            "Confirm: delete secret doomed, no recovery window in account 123456789012 us-east-1. "
            "This cannot be undone."
        ]
        if outcome == "deleted":
            assert not result.is_error
            assert (await fails(client, "describe_secret", secret_id="doomed"))["code"] == "ResourceNotFoundException"
        else:
            assert error_of(result)["code"] == outcome
            assert (await ok(client, "describe_secret", secret_id="doomed"))["name"] == "doomed"
    confirmations = [r["confirmation"] for r in audit_records(audit_file) if r["tool"] == "delete_secret"]
    assert confirmations[-1] == (
        "confirmed"
        if outcome == "deleted"
        else answer.action.replace("accept", "declined")
        .replace("decline", "declined")
        .replace("declinedd", "declined")
        .replace("cancel", "cancelled")
    )


async def test_auto_approve_runs_destructive_calls_and_says_so_in_the_audit(make_settings, audit_file):
    with serve(make_settings(AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true")) as running:
        async with connect(running.url) as client:
            await ok(client, "create_secret", name="gone", secret_string="v")
            await ok(client, "delete_secret", secret_id="gone", force_delete_without_recovery=True)
    record = [r for r in audit_records(audit_file) if r["tool"] == "delete_secret"][-1]
    assert record["confirmation"] == "auto" and "AUTO_APPROVE" in record["warning"]


async def test_policy_refusal_names_the_rule(make_settings, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("allow_sensitive_reads: false\naccounts:\n  prod:\n    read_only: true\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=str(path))) as running:
        async with connect(running.url) as client:
            await ok(client, "create_secret", name="x", secret_string="v")
            refused = await fails(client, "get_secret_value", secret_id="x")
            assert refused["code"] == "policy_denied" and "allow_sensitive_reads" in refused["rule"]
            refused = await fails(client, "create_secret", name="y", secret_string="v", account="prod")
            assert refused["rule"] == "accounts.prod.read_only: true refuses write operations"
            assert (await ok(client, "list_secrets", account="prod"))["secrets"] == []


async def test_policy_allowed_role_arns_are_checked_before_assuming(make_settings, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("allowed_role_arns: ['arn:aws:iam::*:role/ops-*']\n")
    with serve(make_settings(AWS_MCP_POLICY_FILE=str(path))) as running:
        async with connect(running.url) as client:
            refused = await fails(client, "list_buckets", role_arn="arn:aws:iam::111111111111:role/admin")
            assert refused["code"] == "policy_denied" and "allowed_role_arns" in refused["rule"]
            assert running.server.app.clients.assume_role_calls == 0
            await ok(client, "list_buckets", account="prod")


async def test_audit_names_the_rule_that_allowed_a_call_through_a_role(make_settings, tmp_path, audit_file):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "allowed_role_arns: ['arn:aws:iam::*:role/ops-*']\naccounts: {staging: {rules: {allow: ['^s3:List']}}}\n"
    )
    with serve(make_settings(AWS_MCP_POLICY_FILE=str(path))) as running:
        async with connect(running.url) as client:
            await ok(client, "list_buckets", account="prod")
            await ok(client, "list_buckets", account="staging")
            await fails(client, "list_buckets", role_arn="arn:aws:iam::111111111111:role/x", account="staging")
    rules = [r["rule"] for r in audit_records(audit_file)]
    assert rules[:2] == ["default (no rule denies it)", "accounts.staging.rules.allow[0] '^s3:List'"]
    assert rules[2].startswith("allowed_role_arns: arn:aws:iam::111111111111:role/x matches none of")


async def test_every_tool_is_audited_without_secrets_and_annotations_match_classes(
    make_settings, aws, audit_file, capfd, caplog
):
    secret_value = "pa55word-that-must-never-leak"
    with serve(make_settings(AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true")) as running, caplog.at_level("DEBUG"):
        zone = (
            aws()
            .client("route53")
            .create_hosted_zone(Name="audit.example", CallerReference="a")["HostedZone"]["Id"]
            .split("/")[-1]
        )
        async with connect(running.url, "sse") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            calls = [
                ("get_credentials", {"include_session_token": True}),
                ("list_profiles", {}),
                ("list_accounts", {}),
                ("set_environment", {"region": "us-east-1"}),
                ("get_account_info", {"account": "prod"}),
                ("validate_credentials", {}),
                ("create_secret", {"name": "s", "secret_string": secret_value}),
                ("update_secret", {"secret_id": "s", "secret_string": secret_value + "2"}),
                ("list_secrets", {}),
                ("describe_secret", {"secret_id": "s"}),
                ("get_secret_value", {"secret_id": "s"}),
                ("delete_secret", {"secret_id": "s"}),
                ("list_hosted_zones", {}),
                ("list_records", {"zone": zone}),
                (
                    "change_records",
                    {
                        "zone": zone,
                        "changes": [{"action": "UPSERT", "name": "x.audit.example", "type": "TXT", "values": ['"v"']}],
                    },
                ),
                ("get_change", {"change_id": "C1"}),
                ("list_buckets", {}),
                ("put_object", {"bucket": "nope", "key": "k", "body": secret_value}),
                ("list_objects", {"bucket": "nope"}),
                ("get_object", {"bucket": "nope", "key": "k"}),
                ("delete_object", {"bucket": "nope", "key": "k"}),
                ("presign_url", {"bucket": "b", "key": "k"}),
                ("search_operations", {"query": "list buckets"}),
                ("get_operation_schema", {"service": "s3", "operation": "ListBuckets"}),
                (
                    "execute",
                    {
                        "action": "invoke",
                        "service": "ssm",
                        "operation": "PutParameter",
                        "payload": {"Name": "p", "Value": secret_value, "Type": "SecureString"},
                    },
                ),
                ("execute_aws_read_command", {"command": "s3 ls"}),
                (
                    "execute_aws_write_command",
                    {"command": f"secretsmanager create-secret --name t --secret-string {secret_value}"},
                ),
                (
                    "fleet_query",
                    {"service": "s3", "operation": "ListBuckets", "accounts": ["prod"], "regions": ["us-east-1"]},
                ),
                ("fleet_results", {"handle": "0123456789abcdef"}),
                ("refresh_inventory", {"accounts": ["prod"], "regions": ["us-east-1"], "types": ["s3:bucket"]}),
                ("query_inventory", {"tags": {"env": "prod"}}),
            ]
            calls += [
                (name, minimal_arguments(tool.input_schema)) for name, tool in tools.items() if name not in dict(calls)
            ]
            for name, arguments in calls:
                await client.call_tool(name, arguments)
    records = audit_records(audit_file)
    assert [r["tool"] for r in records] == [name for name, _ in calls]
    specs = {spec.name: spec for spec in running.server.tool_specs}
    for record in records:
        assert record["transaction_id"] and record["session"].startswith("sse:") and record["duration_ms"] >= 0
        assert record["principal"] == "anonymous" and record["auth"] == "none"
        assert isinstance(record["outcome"], str) and record["outcome"], record
        spec = specs[record["tool"]]
        for call in record.get("calls") or ([record] if record["operation"] else []):
            service, operation = call["operation"].split(":")
            if spec.operations:
                assert (service, operation) in spec.operations, f"{spec.name} calls {service}:{operation} undeclared"
            assert OpClass(call["class"]) in spec.classes, (spec.name, call)
            if hint(tools[spec.name], "read_only_hint"):
                assert call["class"] in ("read", "sensitive"), (spec.name, call)
            if call["class"] == "destructive":
                assert hint(tools[spec.name], "destructive_hint"), spec.name
        if not spec.operations and not spec.calls:
            assert record["operation"] is None, f"{spec.name} declares no AWS call but made one"
    assert hint(tools["change_records"], "destructive_hint")  # a batch with a DELETE is destructive
    assert not hint(tools["presign_url"], "read_only_hint")  # method="put" grants an upload
    secret_record = next(r for r in records if r["tool"] == "create_secret")
    assert secret_record["params"]["SecretString"] == "***"
    everything = audit_file.read_text() + json.dumps([r.getMessage() for r in caplog.records])
    everything += "".join(capfd.readouterr())
    assert secret_value not in everything
    assert SECRET_KEY not in everything


def minimal_arguments(schema: dict) -> dict:
    """Arguments for a tool the table above does not know yet: its required parameters, with plain values."""
    plain = {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}
    arguments = {}
    for name in schema.get("required", []):
        kind = schema["properties"][name].get("type", "string")
        arguments[name] = plain.get(kind, "x")
    return arguments


async def test_a_2026_confirmation_answer_needs_the_request_state_the_server_issued_for_that_call(served):
    """A retry that carries an approving answer is only as good as the sealed state that came with the question."""

    async def approve(context, params):
        return ElicitResult(action="accept", content={"confirm": True})

    approval = {"confirm_destructive": ElicitResult(action="accept", content={"confirm": True})}
    async with connect(served.url, elicitation_callback=approve) as client:
        for name in ("keep-a", "keep-b"):
            await ok(client, "create_secret", name=name, secret_string="v")
        delete_a = {"secret_id": "keep-a", "force_delete_without_recovery": True}
        missing = await client.call_tool("delete_secret", delete_a, input_responses=approval)
        assert missing.is_error and error_of(missing)["code"] == "confirmation_invalid", missing
        asked = await client.session.call_tool("delete_secret", delete_a, allow_input_required=True)
        foreign_state = asked.request_state
        assert foreign_state
        delete_b = {"secret_id": "keep-b", "force_delete_without_recovery": True}
        try:  # the SDK's own binding of sealed state to its request refuses it first; our token check backs it
            foreign = await client.call_tool(
                "delete_secret", delete_b, input_responses=approval, request_state=foreign_state
            )
            refused = foreign.is_error and error_of(foreign)["code"] == "confirmation_invalid"
        except MCPError as error:
            refused = "requestState" in str(error)
        assert refused
        for name in ("keep-a", "keep-b"):
            assert (await ok(client, "describe_secret", secret_id=name))["name"] == name


async def test_a_confirmation_token_is_bound_to_the_account_and_the_role(client):
    delete = {"secret_id": "s", "force_delete_without_recovery": True, "region": "us-east-1"}
    for account in ("prod", "staging"):
        await ok(client, "create_secret", account=account, name="s", secret_string="v", region="us-east-1")
    asked = await fails(client, "delete_secret", account="prod", **delete)
    token = asked["confirmation_token"]
    other_account = await fails(client, "delete_secret", account="staging", confirmation_token=token, **delete)
    assert other_account["code"] == "confirmation_invalid"
    other_role = await fails(
        client,
        "delete_secret",
        role_arn="arn:aws:iam::111111111111:role/another-role",
        confirmation_token=token,
        **delete,
    )
    assert other_role["code"] == "confirmation_invalid"
    await ok(client, "delete_secret", account="prod", confirmation_token=token, **delete)
    assert (await ok(client, "describe_secret", account="staging", region="us-east-1", secret_id="s"))["name"] == "s"


async def test_presigning_an_upload_is_a_write_that_read_only_refuses(make_settings):
    with serve(make_settings(AWS_MCP_READ_ONLY="true")) as running:
        async with connect(running.url) as client:
            assert (await ok(client, "presign_url", bucket="b", key="k"))["method"] == "get"
            refused = await fails(client, "presign_url", bucket="b", key="k", method="put")
            assert refused["code"] == "policy_denied" and "s3:PutObject" in refused["message"]
