"""The audit log holds no secret and no body, and no line is huge: real calls through `execute`, every byte the
server wrote searched for the values it was given."""

import base64
import json
import re

import pytest

from guard.audit import LINE_LIMIT, redact_params
from tests.conftest import connect, serve
from tests.helpers import audit_records

pytestmark = pytest.mark.anyio

PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAhostkey-5e1c\n-----END OPENSSH PRIVATE KEY-----\n"
ZIP = base64.b64encode(b"PK\x03\x04 a zip, or so").decode()
ROLE = "arn:aws:iam::123456789012:role/r"

# (what leaked, service, operation, payload, the literals that must never be written)
EXAMPLES = [
    (
        "s3 SSE-C key",
        "s3",
        "PutObject",
        {
            "Bucket": "b",
            "Key": "k",
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": "ssec-key-0123456789abcdef0123",
        },
        ["ssec-key-0123456789abcdef0123"],
    ),
    (
        "ec2 UserData",
        "ec2",
        "RunInstances",
        {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "UserData": "#!/bin/sh\nexport DB=userdata-9c1e"},
        ["userdata-9c1e"],
    ),
    (
        "VPN pre-shared key",
        "ec2",
        "CreateVpnConnection",
        {
            "CustomerGatewayId": "cgw-0123456789abcdef0",
            "Type": "ipsec.1",
            "VpnGatewayId": "vgw-0123456789abcdef0",
            "Options": {"TunnelOptions": [{"PreSharedKey": "psk_4f2a9d81c3"}]},
        },
        ["psk_4f2a9d81c3"],
    ),
    ("host private key", "transfer", "ImportHostKey", {"ServerId": "s-0123456789abcdef0", "HostKeyBody": PEM}, [PEM]),
    (
        "SAML assertion",
        "sts",
        "AssumeRoleWithSAML",
        {
            "RoleArn": ROLE,
            "PrincipalArn": "arn:aws:iam::123456789012:saml-provider/p",
            "SAMLAssertion": "PHNhbWw-assertion-b7d2",
        },
        ["PHNhbWw-assertion-b7d2"],
    ),
    (
        "MFA token code",
        "sts",
        "GetSessionToken",
        {"SerialNumber": "arn:aws:iam::123456789012:mfa/u", "TokenCode": "731946"},
        ["731946"],
    ),
    (
        "MFA authentication codes",
        "iam",
        "EnableMFADevice",
        {
            "UserName": "u",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/u",
            "AuthenticationCode1": "582064",
            "AuthenticationCode2": "693175",
        },
        ["582064", "693175"],
    ),
    (
        "Lambda environment (create)",
        "lambda",
        "CreateFunction",
        {
            "FunctionName": "f",
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "h.h",
            "Code": {"ZipFile": ZIP},
            "Environment": {"Variables": {"DB_HOST": "envvalue-host-31aa", "GREETING": "envvalue-plain-77c0"}},
        },
        ["envvalue-host-31aa", "envvalue-plain-77c0"],
    ),
    (
        "Lambda environment (update)",
        "lambda",
        "UpdateFunctionConfiguration",
        {"FunctionName": "f", "Environment": {"Variables": {"API_URL": "envvalue-update-5d3e"}}},
        ["envvalue-update-5d3e"],
    ),
    (
        "tag values under a secret-looking key, or that look like a secret",
        "ec2",
        "CreateTags",
        {
            "Resources": ["i-0123456789abcdef0"],
            "Tags": [
                {"Key": "db-password", "Value": "tagvalue-8e1f"},
                {"Key": "note", "Value": "AKIAQX7TAGVALUE12345"},
            ],
        },
        ["tagvalue-8e1f", "AKIAQX7TAGVALUE12345"],
    ),
    (
        "SQS message body",
        "sqs",
        "SendMessage",
        {"QueueUrl": "http://sqs.us-east-1.localhost/123456789012/q", "MessageBody": "sqsbody-order-4410"},
        ["sqsbody-order-4410"],
    ),
    (
        "SNS message",
        "sns",
        "Publish",
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "snsmessage-alert-6b2c"},
        ["snsmessage-alert-6b2c"],
    ),
    (
        "DynamoDB item",
        "dynamodb",
        "PutItem",
        {"TableName": "t", "Item": {"pk": {"S": "ddbitem-pk-1f9e"}, "card": {"S": "ddbitem-card-2d8c"}}},
        ["ddbitem-pk-1f9e", "ddbitem-card-2d8c"],
    ),
    (
        "DynamoDB key",
        "dynamodb",
        "GetItem",
        {"TableName": "t", "Key": {"pk": {"S": "ddbkey-pk-3c7a"}}},
        ["ddbkey-pk-3c7a"],
    ),
]


async def test_execute_writes_no_secret_and_no_body_anywhere(make_settings, audit_file, capfd, caplog):
    with serve(make_settings(AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true")) as running, caplog.at_level("DEBUG"):
        async with connect(running.url) as client:
            for _, service, operation, payload, _ in EXAMPLES:
                arguments = {"action": "invoke", "service": service, "operation": operation, "payload": payload}
                await client.call_tool("execute", arguments)
    records = audit_records(audit_file)
    assert [r["operation"] for r in records] == [f"{s}:{o}" for _, s, o, _, _ in EXAMPLES]
    assert all(r["params"] for r in records)
    written = audit_file.read_text() + "".join(capfd.readouterr())
    written += json.dumps([(r.getMessage(), r.exc_text, r.args and repr(r.args)) for r in caplog.records])
    leaks = [(name, secret) for name, *_, secrets in EXAMPLES for secret in secrets if _appears(secret, written)]
    assert leaks == []


def _appears(secret: str, written: str) -> bool:
    """Whether `secret` is in `written` as it is, JSON-escaped, or by any one of its lines."""
    forms = {secret, json.dumps(secret)[1:-1], *(line for line in secret.splitlines() if len(line) > 8)}
    return any(form in written for form in forms)


async def test_bodies_and_large_values_are_written_as_size_and_hash(make_settings, audit_file):
    description = "d" * 5000
    with serve(make_settings()) as running:
        async with connect(running.url) as client:
            for service, operation, payload in [
                (
                    "sqs",
                    "SendMessage",
                    {"QueueUrl": "http://sqs.us-east-1.localhost/123456789012/q", "MessageBody": "hi"},
                ),
                ("secretsmanager", "CreateSecret", {"Name": "n", "Description": description}),
            ]:
                arguments = {"action": "invoke", "service": service, "operation": operation, "payload": payload}
                await client.call_tool("execute", arguments)
    message, secret = (r["params"] for r in audit_records(audit_file))
    assert re.fullmatch(r"<2 bytes sha256:[0-9a-f]{16}>", message["MessageBody"])
    assert re.fullmatch(r"<5000 bytes sha256:[0-9a-f]{16}>", secret["Description"]) and secret["Name"] == "n"


async def test_an_audit_line_is_capped_and_says_what_it_left_out(make_settings, audit_file):
    tags = [{"Key": f"team-{n}", "Value": f"value-{n}"} for n in range(2000)]
    with serve(make_settings()) as running:
        async with connect(running.url) as client:
            payload = {"Resources": ["i-0123456789abcdef0"], "Tags": tags}
            await client.call_tool(
                "execute", {"action": "invoke", "service": "ec2", "operation": "CreateTags", "payload": payload}
            )
    line = audit_file.read_text().splitlines()[-1]
    assert len(line.encode()) <= LINE_LIMIT
    record = json.loads(line)
    assert record["operation"] == "ec2:CreateTags"
    assert re.fullmatch(r"<\d+ bytes sha256:[0-9a-f]{16}> \(over the 16384-byte audit line limit\)", record["params"])


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("s3:PutObject", {"Bucket": "b", "Key": "k", "Body": b"abc"}, {"Bucket": "b", "Key": "k"}),
        ("secretsmanager:CreateSecret", {"Name": "n", "SecretString": "s"}, {"Name": "n", "SecretString": "***"}),
        ("ssm:PutParameter", {"Name": "p", "Value": "v", "Type": "SecureString"}, {"Name": "p", "Value": "***"}),
        ("ecs:ListClusters", {"nextToken": "t", "maxResults": 5}, {"nextToken": "t", "maxResults": 5}),
        ("nosuch:Operation", {"Password": "p", "Name": "n"}, {"Password": "***", "Name": "n"}),
        (None, {"db_password": "p", "Name": "n"}, {"db_password": "***", "Name": "n"}),
    ],
)
def test_redaction_keeps_identifiers_and_hides_secrets(operation, params, expected):
    redacted = redact_params(params, operation)
    assert redacted.items() >= expected.items()
    if "Body" in params:
        assert re.fullmatch(r"<3 bytes sha256:[0-9a-f]{16}>", redacted["Body"])
