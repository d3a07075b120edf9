import json
import time
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from catalog import models
from catalog.names import CatalogError, UnknownOperationError, UnknownServiceError, resolve_operation
from catalog.schema import SCHEMA_BUDGET, first_sentence, operation_schema

ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-exec"
TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": []})

# (service, operation, a payload the schema accepts, one it rejects)
SAMPLES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "s3",
        "PutObject",
        {"Bucket": "logs", "Key": "a/b.txt", "Body": {"$path": "b.txt"}, "ContentType": "text/plain"},
        {"Bucket": "logs", "Body": "aGVsbG8="},
    ),
    (
        "ec2",
        "DescribeInstances",
        {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}], "MaxResults": 10},
        {"Filters": [{"Name": "instance-state-name", "Values": "running"}]},
    ),
    (
        "dynamodb",
        "PutItem",
        {
            "TableName": "orders",
            "Item": {"pk": {"S": "o#1"}, "lines": {"L": [{"M": {"qty": {"N": "2"}, "gift": {"BOOL": True}}}]}},
        },
        {"TableName": "orders", "Item": {"lines": {"L": [{"M": {"qty": {"NUMBER": "2"}}}]}}},
    ),
    (
        "lambda",
        "CreateFunction",
        {
            "FunctionName": "resize",
            "Role": ROLE_ARN,
            "Runtime": "python3.12",
            "Handler": "app.handler",
            "Code": {"ZipFile": {"$path": "build/resize.zip"}},
        },
        {"FunctionName": "resize", "Role": ROLE_ARN, "Code": {"ZipFile": {"path": "build/resize.zip"}}},
    ),
    (
        "route53",
        "ChangeResourceRecordSets",
        {
            "HostedZoneId": "Z0123456789",
            "ChangeBatch": {
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
            },
        },
        {"HostedZoneId": "Z0123456789", "ChangeBatch": {"Changes": []}},
    ),
    (
        "sqs",
        "SendMessage",
        {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "MessageBody": "go", "DelaySeconds": 5},
        {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "MessageBody": "go", "DelaySeconds": "5"},
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "deploy-bot", "AssumeRolePolicyDocument": TRUST_POLICY, "MaxSessionDuration": 3600},
        {"RoleName": "x" * 65, "AssumeRolePolicyDocument": TRUST_POLICY},
    ),
    ("sts", "GetCallerIdentity", {}, {"RoleArn": ROLE_ARN}),
]


@pytest.mark.parametrize(("service", "operation", "valid", "invalid"), SAMPLES, ids=[s[1] for s in SAMPLES])
def test_sample_schemas_are_valid_json_schema_that_accept_good_and_reject_bad_payloads(
    service: str, operation: str, valid: dict[str, Any], invalid: dict[str, Any]
) -> None:
    schema = operation_schema(service, operation)
    Draft202012Validator.check_schema(schema["input_schema"])
    validator = Draft202012Validator(schema["input_schema"])
    assert list(validator.iter_errors(valid)) == []
    assert not validator.is_valid(invalid)
    assert (schema["service"], schema["operation"]) == (service, operation)


def test_recursive_attribute_value_is_defined_once_and_referenced() -> None:
    schema = operation_schema("dynamodb", "PutItem")["input_schema"]
    attribute_value = schema["$defs"]["AttributeValue"]
    assert attribute_value["properties"]["L"]["items"] == {"$ref": "#/$defs/AttributeValue"}
    assert attribute_value["properties"]["M"]["additionalProperties"] == {"$ref": "#/$defs/AttributeValue"}
    assert schema["properties"]["Item"]["additionalProperties"] == {"$ref": "#/$defs/AttributeValue"}
    assert schema["required"] == ["TableName", "Item"]


def test_blobs_accept_base64_or_a_path_and_streaming_blobs_too() -> None:
    zip_file = operation_schema("lambda", "CreateFunction")["input_schema"]["properties"]["Code"]["properties"]
    body = operation_schema("s3", "PutObject")["input_schema"]["properties"]["Body"]
    for blob in (zip_file["ZipFile"], body):
        assert blob["oneOf"][0] == {"type": "string", "contentEncoding": "base64"}
        assert blob["oneOf"][1]["required"] == ["$path"]


def test_bounds_enums_and_patterns_map_to_json_schema_keywords() -> None:
    role_name = operation_schema("iam", "CreateRole")["input_schema"]["properties"]["RoleName"]
    assert (role_name["minLength"], role_name["maxLength"]) == (1, 64)
    assert "pattern" in role_name
    change_batch = operation_schema("route53", "ChangeResourceRecordSets")["input_schema"]["properties"]["ChangeBatch"]
    changes = change_batch["properties"]["Changes"]
    assert changes["minItems"] == 1
    change = changes["items"]
    assert change["properties"]["Action"]["enum"] == ["CREATE", "DELETE", "UPSERT"]
    weight = change["properties"]["ResourceRecordSet"]["properties"]["Weight"]
    assert (weight["type"], weight["minimum"], weight["maximum"]) == ("integer", 0, 255)
    since = operation_schema("s3", "GetObject")["input_schema"]["properties"]["IfModifiedSince"]
    assert (since["type"], since["format"]) == ("string", "date-time")


def test_idempotency_tokens_are_marked_and_never_required() -> None:
    schema = operation_schema("servicecatalog", "CreatePortfolio")["input_schema"]
    assert schema["properties"]["IdempotencyToken"]["idempotencyToken"] is True
    assert "IdempotencyToken" not in schema["required"]
    assert "DisplayName" in schema["required"]


def test_descriptions_are_one_plain_sentence_of_bounded_length() -> None:
    schema = operation_schema("ec2", "DescribeInstances")
    assert schema["description"] == "Describes the specified instances or all instances."
    assert schema["input_schema"]["properties"]["Filters"]["description"] == "The filters."
    for text in (prop.get("description", "") for prop in schema["input_schema"]["properties"].values()):
        assert "<" not in text
        assert len(text) <= 200
    assert first_sentence("<p>Use <code>a</code>, e.g. <b>logs</b>. Then more.</p>") == "Use a, e.g. logs."
    assert first_sentence("<p>" + "word " * 100 + "</p>").endswith("…")


def test_output_summary_lists_top_level_members_with_list_member_types() -> None:
    summary = operation_schema("ec2", "DescribeInstances")["output_summary"]
    assert {"name": "Reservations", "type": "list[Reservation]"} in summary
    assert operation_schema("sts", "GetCallerIdentity")["output_summary"] == [
        {"name": "UserId", "type": "string"},
        {"name": "Account", "type": "string"},
        {"name": "Arn", "type": "string"},
    ]
    assert {"name": "Body", "type": "blob (streaming)"} in operation_schema("s3", "GetObject")["output_summary"]


def test_pagination_is_described_only_for_operations_that_paginate() -> None:
    paginated = operation_schema("ec2", "DescribeInstances")
    assert paginated["paginates"] is True
    assert paginated["pagination"] == {
        "input_token": "NextToken",
        "output_token": "NextToken",
        "result_key": "Reservations",
        "limit_key": "MaxResults",
    }
    single = operation_schema("sts", "GetCallerIdentity")
    assert single["paginates"] is False
    assert "pagination" not in single
    assert single["input_schema"] == {"type": "object", "properties": {}, "additionalProperties": False}


def test_huge_inputs_are_compacted_under_the_budget_and_say_so() -> None:
    schema = operation_schema("quicksight", "CreateDashboard")
    assert len(json.dumps(schema["input_schema"], ensure_ascii=False)) <= SCHEMA_BUDGET
    assert "nested" in schema["input_schema_note"]
    assert "AwsAccountId" in schema["input_schema"]["required"]
    Draft202012Validator.check_schema(schema["input_schema"])
    assert "input_schema_note" not in operation_schema("ec2", "DescribeInstances")


def test_callers_get_their_own_copy_of_a_cached_schema() -> None:
    operation_schema("sqs", "SendMessage")["input_schema"]["properties"].clear()
    assert "QueueUrl" in operation_schema("sqs", "SendMessage")["input_schema"]["properties"]


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("ec2", "DescribeInstances", ("ec2", "DescribeInstances")),
        ("EC2", "describe-instances", ("ec2", "DescribeInstances")),
        ("ec2", "DESCRIBE_INSTANCES", ("ec2", "DescribeInstances")),
        ("SecretsManager", "create-secret", ("secretsmanager", "CreateSecret")),
        ("Secrets Manager", "CreateSecret", ("secretsmanager", "CreateSecret")),
        ("s3api", "list-objects-v2", ("s3", "ListObjectsV2")),
        ("elbv2", "describe-load-balancers", ("elbv2", "DescribeLoadBalancers")),
        ("configservice", "describe-config-rules", ("config", "DescribeConfigRules")),
        ("deploy", "list-applications", ("codedeploy", "ListApplications")),
        ("EventBridge", "put-events", ("events", "PutEvents")),
        ("Amazon EC2", "describe-vpcs", ("ec2", "DescribeVpcs")),
        ("rds", "describe-db-instances", ("rds", "DescribeDBInstances")),
        ("cloudwatch", "get-o-tel-enrichment", ("cloudwatch", "GetOTelEnrichment")),
        ("cloudwatch", "get-otel-enrichment", ("cloudwatch", "GetOTelEnrichment")),
    ],
)
def test_services_and_operations_resolve_from_api_cli_and_any_case_spellings(
    service: str, operation: str, expected: tuple[str, str]
) -> None:
    assert resolve_operation(service, operation) == expected


def test_schemas_accept_cli_spellings_too() -> None:
    assert operation_schema("EC2", "describe-instances")["operation"] == "DescribeInstances"


def test_unknown_service_suggests_close_names() -> None:
    with pytest.raises(UnknownServiceError, match=r"Did you mean: secretsmanager\?") as raised:
        resolve_operation("secretmanager", "create-secret")
    assert isinstance(raised.value, CatalogError)
    assert isinstance(raised.value, ValueError)


def test_unknown_operation_suggests_close_names() -> None:
    with pytest.raises(UnknownOperationError, match="Did you mean: DescribeInstances") as raised:
        operation_schema("ec2", "describe-instance")
    assert isinstance(raised.value, CatalogError)


def test_names_with_nothing_close_say_so_without_suggestions() -> None:
    with pytest.raises(UnknownServiceError) as raised:
        resolve_operation("no-such-thing-at-all", "x")
    assert str(raised.value) == "Unknown AWS service 'no-such-thing-at-all'."


@pytest.mark.parametrize("service", ["ec2", "s3", "dynamodb", "iam", "glue", "sagemaker"])
def test_sweep_builds_a_schema_for_every_operation_of_big_services(service: str) -> None:
    start = time.perf_counter()
    operations = models.service_model(service).operation_names
    schemas = [operation_schema(service, operation) for operation in operations]
    assert len(schemas) == len(operations)
    for schema in schemas:
        assert len(json.dumps(schema["input_schema"], ensure_ascii=False)) <= SCHEMA_BUDGET
    # check_schema is slow (format checking of every pattern): check a stride and every recursive one.
    for index, schema in enumerate(schemas):
        if index % 10 == 0 or "$defs" in schema["input_schema"]:
            Draft202012Validator.check_schema(schema["input_schema"])
    assert time.perf_counter() - start < 60
