import re
import time
from collections import Counter
from functools import cache

import pytest
from botocore.model import Shape

from catalog import models
from catalog.classify import (
    CREDENTIAL_MINTING,
    DESTRUCTIVE,
    OVERRIDES,
    READS,
    RUNS_CODE_OR_QUERIES,
    SENSITIVE,
    STATE_CHANGING_READ_NAMES,
    OpClass,
    classify,
    is_mutating_name,
)


@cache
def every_operation() -> tuple[tuple[str, str], ...]:
    return tuple((s, op) for s in models.service_names() for op in models.service_model(s).operation_names)


def test_sweep_never_classes_a_mutating_name_as_read_or_sensitive() -> None:
    start = time.perf_counter()
    counts: Counter[OpClass] = Counter()
    offenders = []
    for service, operation in every_operation():
        op_class = classify(service, operation)
        counts[op_class] += 1
        if is_mutating_name(operation) and op_class in (OpClass.READ, OpClass.SENSITIVE):
            offenders.append(f"{service}:{operation}")
    elapsed = time.perf_counter() - start
    print(f"\n{sum(counts.values())} operations in {elapsed:.2f}s:", {c.value: counts[c] for c in OpClass})
    assert offenders == []
    assert sum(counts.values()) > 10_000
    assert all(counts[op_class] for op_class in OpClass)


_AWS_SECRET = re.compile(r"^(SecretAccessKey|SecretKey|SessionToken)$", re.IGNORECASE)


def _returns_aws_credentials(shape: Shape | None) -> bool:
    """Whether the shape holds a structure with an access key id next to a secret key or session token."""
    seen: dict[str, bool] = {}

    def visit(node: Shape) -> bool:
        if node.name not in seen:
            seen[node.name] = False  # a shape reached again through itself adds nothing new
            seen[node.name] = holds(node)
        return seen[node.name]

    def holds(node: Shape) -> bool:
        if node.type_name == "structure":
            names = node.members
            if any(n.lower() == "accesskeyid" for n in names) and any(_AWS_SECRET.match(n) for n in names):
                return True
            return any(visit(member) for member in names.values())
        if node.type_name == "list":
            return visit(node.member)
        if node.type_name == "map":
            return visit(node.value)
        return False

    return shape is not None and visit(shape)


def test_operations_returning_aws_credentials_are_never_plain_reads() -> None:
    offenders = [
        f"{service}:{operation}"
        for service, operation in every_operation()
        if classify(service, operation) is OpClass.READ
        and _returns_aws_credentials(models.operation_model(service, operation).output_shape)
    ]
    assert offenders == []


def test_override_tables_name_operations_botocore_knows() -> None:
    stale = sorted(f"{s}:{op}" for s, op in OVERRIDES if op not in models.operation_names(s))
    assert stale == []


def test_override_tables_never_list_an_operation_twice() -> None:
    tables = (READS, SENSITIVE, CREDENTIAL_MINTING, RUNS_CODE_OR_QUERIES, STATE_CHANGING_READ_NAMES, DESTRUCTIVE)
    assert sum(len(table) for table in tables) == len(OVERRIDES)


@pytest.mark.parametrize(
    "service, operation",
    [
        ("ec2", "DescribeInstances"),
        ("s3", "ListBuckets"),
        ("s3", "GetObject"),
        ("s3", "HeadObject"),
        ("sts", "GetCallerIdentity"),
        ("dynamodb", "BatchGetItem"),
        ("cognito-idp", "AdminGetUser"),
        ("cloudtrail", "LookupEvents"),
        ("resource-groups", "SearchResources"),
        ("route53domains", "CheckDomainAvailability"),
        ("iam", "SimulatePrincipalPolicy"),
        ("cloudformation", "EstimateTemplateCost"),
        ("secretsmanager", "DescribeSecret"),
    ],
)
def test_read_verbs_are_read(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.READ


@pytest.mark.parametrize(
    "service, operation",
    [
        ("dynamodb", "Query"),
        ("dynamodb", "Scan"),
        ("dynamodb", "TransactGetItems"),
        ("logs", "FilterLogEvents"),
        ("s3", "SelectObjectContent"),
        ("cloudwatch", "GetMetricData"),
        ("cloudwatch", "GetMetricStatistics"),
        ("config", "SelectResourceConfig"),
        ("cloudformation", "ValidateTemplate"),
        ("sts", "DecodeAuthorizationMessage"),
        ("rds", "DownloadDBLogFilePortion"),
    ],
)
def test_reads_under_other_verbs_are_read(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.READ


@pytest.mark.parametrize(
    "service, operation",
    [
        ("secretsmanager", "GetSecretValue"),
        ("secretsmanager", "BatchGetSecretValue"),
        ("ssm", "GetParameter"),
        ("ssm", "GetParameters"),
        ("ssm", "GetParametersByPath"),
        ("ssm", "GetParameterHistory"),
        ("kms", "Decrypt"),
        ("ec2", "GetPasswordData"),
        ("ecr", "GetAuthorizationToken"),
        ("ecr-public", "GetAuthorizationToken"),
        ("codeartifact", "GetAuthorizationToken"),
        ("lightsail", "GetInstanceAccessDetails"),
        ("cognito-idp", "DescribeUserPoolClient"),
    ],
)
def test_secret_revealing_reads_are_sensitive(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.SENSITIVE


@pytest.mark.parametrize(
    "service, operation",
    [
        ("sts", "AssumeRole"),
        ("sts", "AssumeRoleWithSAML"),
        ("sts", "AssumeRoleWithWebIdentity"),
        ("sts", "AssumeRoot"),
        ("sts", "GetSessionToken"),
        ("sts", "GetFederationToken"),
        ("iam", "CreateAccessKey"),
        ("sso", "GetRoleCredentials"),
        ("cognito-identity", "GetCredentialsForIdentity"),
        ("cognito-identity", "GetOpenIdToken"),
        ("cognito-identity", "GetOpenIdTokenForDeveloperIdentity"),
        ("redshift", "GetClusterCredentials"),
        ("redshift", "GetClusterCredentialsWithIAM"),
        ("redshift-serverless", "GetCredentials"),
        ("s3control", "GetDataAccess"),
    ],
)
def test_credential_minting_calls_are_writes_whatever_their_name(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.WRITE


@pytest.mark.parametrize(
    "service, operation",
    [
        ("lambda", "Invoke"),
        ("lambda", "InvokeAsync"),
        ("lambda", "InvokeWithResponseStream"),
        ("ssm", "SendCommand"),
        ("ssm", "StartSession"),
        ("dynamodb", "ExecuteStatement"),
        ("dynamodb", "BatchExecuteStatement"),
        ("dynamodb", "ExecuteTransaction"),
        ("athena", "StartQueryExecution"),
        ("rds-data", "ExecuteStatement"),
    ],
)
def test_calls_that_run_code_or_queries_are_writes(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.WRITE


@pytest.mark.parametrize(
    "service, operation",
    [
        ("ec2", "RunInstances"),
        ("s3", "CreateBucket"),
        ("s3", "PutObject"),
        ("sqs", "SendMessage"),
        ("sqs", "ReceiveMessage"),
        ("sqs", "SetQueueAttributes"),
        ("autoscaling", "PutScalingPolicy"),
        ("logs", "PutRetentionPolicy"),
        ("ecr", "PutLifecyclePolicy"),
        ("iam", "AttachRolePolicy"),
        ("ec2", "RebootInstances"),
        ("stepfunctions", "GetActivityTask"),
    ],
)
def test_changes_that_remove_nothing_are_plain_writes(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.WRITE


@pytest.mark.parametrize(
    "service, operation",
    [
        ("s3", "DeleteBucket"),
        ("s3", "DeleteObjects"),
        ("ec2", "TerminateInstances"),
        ("ec2", "StopInstances"),
        ("ec2", "RevokeSecurityGroupIngress"),
        ("ec2", "DisassociateAddress"),
        ("ec2", "ReleaseAddress"),
        ("sqs", "PurgeQueue"),
        ("elbv2", "DeregisterTargets"),
        ("iam", "DetachRolePolicy"),
        ("iam", "RemoveUserFromGroup"),
        ("cloudformation", "CancelUpdateStack"),
        ("dynamodb", "DisableKinesisStreamingDestination"),
        ("rds", "ResetDBParameterGroup"),
        ("kms", "ScheduleKeyDeletion"),
        ("cognito-idp", "AdminDeleteUser"),
        ("ecr", "BatchDeleteImage"),
    ],
)
def test_removal_verbs_are_destructive(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.DESTRUCTIVE


@pytest.mark.parametrize(
    "service, operation",
    [
        ("s3", "PutBucketPolicy"),
        ("s3", "PutBucketAcl"),
        ("iam", "PutRolePolicy"),
        ("iam", "PutUserPolicy"),
        ("iam", "PutRolePermissionsBoundary"),
        ("iam", "UpdateAssumeRolePolicy"),
        ("kms", "PutKeyPolicy"),
        ("ecr", "SetRepositoryPolicy"),
        ("secretsmanager", "PutResourcePolicy"),
        ("cognito-identity", "SetIdentityPoolRoles"),
    ],
)
def test_access_policy_overwrites_are_destructive(service: str, operation: str) -> None:
    assert classify(service, operation) is OpClass.DESTRUCTIVE


def _record_change(action: str) -> dict:
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": "a.example.com.",
            "Type": "A",
            "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.1"}],
        },
    }


def test_route53_change_batch_holding_a_delete_is_destructive() -> None:
    params = {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [_record_change("UPSERT"), _record_change("DELETE")]}}
    assert classify("route53", "ChangeResourceRecordSets", params) is OpClass.DESTRUCTIVE


def test_route53_change_batch_without_deletes_is_a_write() -> None:
    params = {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [_record_change("CREATE"), _record_change("UPSERT")]}}
    assert classify("route53", "ChangeResourceRecordSets", params) is OpClass.WRITE


def test_route53_change_batch_without_params_is_a_write() -> None:
    assert classify("route53", "ChangeResourceRecordSets") is OpClass.WRITE


def test_dynamodb_batch_write_holding_a_delete_request_is_destructive() -> None:
    puts = {"RequestItems": {"t": [{"PutRequest": {"Item": {}}}]}}
    deletes = {"RequestItems": {"t": [{"PutRequest": {"Item": {}}}, {"DeleteRequest": {"Key": {}}}]}}
    assert classify("dynamodb", "BatchWriteItem", puts) is OpClass.WRITE
    assert classify("dynamodb", "BatchWriteItem", deletes) is OpClass.DESTRUCTIVE


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ChangeBatch": None},
        {"ChangeBatch": {"Changes": "DELETE"}},
        {"ChangeBatch": {"Changes": [None, 3, "DELETE"]}},
    ],
)
def test_malformed_params_are_judged_by_name_alone(params: dict) -> None:
    assert classify("route53", "ChangeResourceRecordSets", params) is OpClass.WRITE


def test_extra_patterns_make_a_matching_write_destructive() -> None:
    patterns = [re.compile(r"^Modify")]
    assert classify("ec2", "ModifyInstanceAttribute", extra_destructive=patterns) is OpClass.DESTRUCTIVE
    assert classify("ec2", "RunInstances", extra_destructive=patterns) is OpClass.WRITE


def test_extra_patterns_also_match_the_service_qualified_name() -> None:
    patterns = [re.compile(r"^lambda:Invoke$")]
    assert classify("lambda", "Invoke", extra_destructive=patterns) is OpClass.DESTRUCTIVE
    assert classify("bedrock-agent-runtime", "InvokeAgent", extra_destructive=patterns) is OpClass.WRITE


def test_extra_patterns_promote_reads_and_sensitive_reads_too() -> None:
    patterns = [re.compile(r"^(s3:Get|GetSecret)")]
    assert classify("s3", "GetObject", extra_destructive=patterns) is OpClass.DESTRUCTIVE
    assert classify("secretsmanager", "GetSecretValue", extra_destructive=patterns) is OpClass.DESTRUCTIVE


def test_unknown_operation_is_a_write() -> None:
    assert classify("s3", "ListEverythingEverywhere") is OpClass.WRITE
    assert classify("s3", "listbuckets") is OpClass.WRITE


def test_unknown_service_is_a_write() -> None:
    assert classify("no-such-service", "DescribeThings") is OpClass.WRITE


def test_unknown_operation_matching_an_extra_pattern_is_destructive() -> None:
    assert classify("s3", "DescribeMystery", extra_destructive=[re.compile("Mystery")]) is OpClass.DESTRUCTIVE


@pytest.mark.parametrize(
    "operation",
    [
        "CreateBucket",
        "PutObject",
        "DeleteObjects",
        "BatchWriteItem",
        "BatchDeleteImage",
        "AdminCreateUser",
        "Invoke",
        "TagResource",
    ],
)
def test_mutating_verbs_are_recognised(operation: str) -> None:
    assert is_mutating_name(operation)


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeInstances",
        "ListBuckets",
        "GetObject",
        "BatchGetItem",
        "Query",
        "AdminGetUser",
        "Decrypt",
        "Checkpoint",
        "",
    ],
)
def test_read_and_unknown_verbs_are_not_mutating(operation: str) -> None:
    assert not is_mutating_name(operation)
