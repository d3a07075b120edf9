import re
import time
from collections import Counter
from functools import cache

import pytest
from botocore.model import Shape

from catalog import models
from catalog.classify import (
    OVERRIDES,
    OpClass,
    can_be_destructive,
    classify,
    is_mutating_name,
)
from catalog.overrides import (
    CREDENTIAL_MINTING,
    DESTRUCTIVE,
    READS,
    READS_DESPITE_CREDENTIAL_NAMED_OUTPUT,
    RUNS_CODE_OR_QUERIES,
    SENSITIVE,
    STATE_CHANGING_READ_NAMES,
    STORED_CREDENTIALS_WITH_EXPIRY,
)
from catalog.param_rules import DESTRUCTIVE_WITH_PARAMS
from guard.policy import Policy, PolicyDocument


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
        ("cognito-idp", "DescribeUserPoolClient"),
        ("apigateway", "GetApiKey"),
        ("apigateway", "GetApiKeys"),
        ("apigateway", "GetUsagePlanKeys"),
        ("glue", "GetConnection"),
        ("glue", "GetConnections"),
        ("cognito-idp", "DescribeIdentityProvider"),
        ("ec2", "DescribeVpnConnections"),
        ("ec2", "GetVpnConnectionDeviceSampleConfiguration"),
        ("directconnect", "DescribeVirtualInterfaces"),
        ("mediapackage", "DescribeChannel"),
        ("ivs", "GetChannel"),
        ("location", "DescribeKey"),
        ("snowball", "GetJobUnlockCode"),
        ("chime-sdk-meetings", "GetAttendee"),
        ("amplify", "GetApp"),
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
        ("ecr", "GetAuthorizationToken"),
        ("ecr-public", "GetAuthorizationToken"),
        ("codeartifact", "GetAuthorizationToken"),
        ("lightsail", "GetInstanceAccessDetails"),
        ("lightsail", "DownloadDefaultKeyPair"),
        ("athena", "GetSessionEndpoint"),
        ("emr", "GetSessionEndpoint"),
        ("emr-serverless", "GetSessionEndpoint"),
        ("glue", "GetSessionEndpoint"),
        ("kinesis-video-signaling", "GetIceServerConfig"),
        ("datazone", "GetConnection"),
        ("codepipeline", "GetJobDetails"),
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
        ("timestream-query", "Query"),
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
        ("cognito-idp", "GetUserAttributeVerificationCode"),
        ("importexport", "GetShippingLabel"),
        ("ec2", "GetFlowLogsIntegrationTemplate"),
        ("socialmessaging", "GetWhatsAppFlowPreview"),
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
        ("rds", "BacktrackDBCluster"),
        ("transfer", "StartRemoteDelete"),
        ("medialive", "StartDeleteMonitorDeployment"),
        ("personalize", "CreateDataDeletionJob"),
        ("elasticbeanstalk", "RebuildEnvironment"),
        ("sso", "Logout"),
    ],
)
def test_removals_under_other_verbs_are_destructive(service: str, operation: str) -> None:
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


# --- Holes found by the 2026 sweep: each test names the class the call must have, checked against policy. ---


def test_ecr_get_authorization_token_is_a_write_so_read_only_refuses_it() -> None:
    op_class = classify("ecr", "GetAuthorizationToken")
    assert op_class is OpClass.WRITE
    decision = Policy(PolicyDocument(), read_only=True).decide("ecr", "GetAuthorizationToken", op_class)
    assert not decision.allowed


def test_timestream_query_can_unload_to_s3_so_read_only_refuses_it() -> None:
    op_class = classify("timestream-query", "Query")
    assert op_class is OpClass.WRITE
    assert not Policy(PolicyDocument(), read_only=True).decide("timestream-query", "Query", op_class).allowed


@pytest.mark.parametrize(
    "service, operation",
    [("apigateway", "GetApiKeys"), ("glue", "GetConnection"), ("cognito-idp", "DescribeIdentityProvider")],
)
def test_reads_of_stored_secrets_are_refused_where_sensitive_reads_are_denied(service: str, operation: str) -> None:
    op_class = classify(service, operation)
    assert op_class is OpClass.SENSITIVE
    document = PolicyDocument.model_validate({"allow_sensitive_reads": False})
    assert not Policy(document).decide(service, operation, op_class).allowed


def _statements(*texts: str) -> dict:
    return {"Statements": [{"Statement": text} for text in texts]}


DESTRUCTIVE_ARGUMENTS = [
    # PartiQL, SQL and graph queries: DELETE, DROP, TRUNCATE and REVOKE remove rows, objects or grants.
    ("dynamodb", "ExecuteStatement", {"Statement": "DELETE FROM \"t\" WHERE pk = 'a'"}),
    ("dynamodb", "ExecuteStatement", {"Statement": "delete from t where pk = 'a'"}),
    ("dynamodb", "BatchExecuteStatement", _statements("INSERT INTO t VALUE {'pk': 'a'}", "DELETE FROM t WHERE pk='b'")),
    ("dynamodb", "ExecuteTransaction", {"TransactStatements": [{"Statement": "DELETE FROM t WHERE pk = 'b'"}]}),
    ("rds-data", "ExecuteStatement", {"resourceArn": "a", "secretArn": "s", "sql": "DROP TABLE users"}),
    ("rds-data", "BatchExecuteStatement", {"resourceArn": "a", "secretArn": "s", "sql": "TRUNCATE users"}),
    (
        "rds-data",
        "ExecuteSql",
        {"dbClusterOrInstanceArn": "a", "awsSecretStoreArn": "s", "sqlStatements": "DROP TABLE t"},
    ),
    ("redshift-data", "ExecuteStatement", {"Sql": "REVOKE SELECT ON sales FROM analyst"}),
    ("redshift-data", "BatchExecuteStatement", {"Sqls": ["SELECT 1", "DELETE FROM sales"]}),
    ("athena", "StartQueryExecution", {"QueryString": "DROP TABLE logs"}),
    ("neptunedata", "ExecuteGremlinQuery", {"gremlinQuery": "g.V().hasLabel('tmp').drop()"}),
    ("neptunedata", "ExecuteGremlinProfileQuery", {"gremlinQuery": "g.V().drop()"}),
    ("neptunedata", "ExecuteOpenCypherQuery", {"openCypherQuery": "MATCH (n) DETACH DELETE n"}),
    (
        "neptunedata",
        "ExecuteOpenCypherExplainQuery",
        {"openCypherQuery": "MATCH (n) DELETE n", "explainMode": "dynamic"},
    ),
    (
        "neptune-graph",
        "ExecuteQuery",
        {"graphIdentifier": "g", "queryString": "MATCH (n) DELETE n", "language": "OPEN_CYPHER"},
    ),
    ("neptunedata", "ExecuteFastReset", {"action": "performDatabaseReset", "token": "t"}),
    # A flag that makes the new policy version the operative one replaces the access policy in force.
    ("iam", "CreatePolicyVersion", {"PolicyArn": "arn", "PolicyDocument": "{}", "SetAsDefault": True}),
    ("iot", "CreatePolicyVersion", {"policyName": "p", "policyDocument": "{}", "setAsDefault": True}),
    ("ec2", "ModifyVpcEndpoint", {"VpcEndpointId": "vpce-1", "ResetPolicy": True}),
    ("ec2", "ModifyVpcEndpoint", {"VpcEndpointId": "vpce-1", "PolicyDocument": "{}"}),
    ("ram", "AssociateResourceSharePermission", {"resourceShareArn": "a", "permissionArn": "p", "replace": True}),
    # Flags and lists that delete data or resources.
    ("ec2", "CreateReplaceRootVolumeTask", {"InstanceId": "i-1", "DeleteReplacedRootVolume": True}),
    ("elasticache", "StartMigration", {"ReplicationGroupId": "r", "ClearTargetCacheData": True}),
    ("elasticache", "CompleteMigration", {"ReplicationGroupId": "r", "Force": True}),
    ("iotsitewise", "CreateBulkImportJob", {"jobName": "j", "deleteFilesAfterImport": True}),
    ("glue", "StartImportLabelsTaskRun", {"TransformId": "t", "InputS3Path": "s3://b/k", "ReplaceAllLabels": True}),
    ("batch", "UpdateComputeEnvironment", {"computeEnvironment": "c", "updatePolicy": {"terminateJobsOnUpdate": True}}),
    ("iot", "UpdateSecurityProfile", {"securityProfileName": "p", "deleteBehaviors": True}),
    (
        "athena",
        "UpdateWorkGroup",
        {
            "WorkGroup": "w",
            "ConfigurationUpdates": {
                "ManagedQueryResultsConfigurationUpdates": {"RemoveEncryptionConfiguration": True}
            },
        },
    ),
    ("cloudfront-keyvaluestore", "UpdateKeys", {"KvsARN": "a", "IfMatch": "e", "Deletes": [{"Key": "k"}]}),
    ("dynamodb", "UpdateTable", {"TableName": "t", "ReplicaUpdates": [{"Delete": {"RegionName": "eu-west-1"}}]}),
    (
        "dynamodb",
        "UpdateGlobalTable",
        {"GlobalTableName": "t", "ReplicaUpdates": [{"Delete": {"RegionName": "eu-west-1"}}]},
    ),
    (
        "ssm-incidents",
        "UpdateReplicationSet",
        {"arn": "a", "actions": [{"deleteRegionAction": {"regionName": "eu-west-1"}}]},
    ),
    ("medialive", "BatchUpdateSchedule", {"ChannelId": "c", "Deletes": {"ActionNames": ["a"]}}),
    ("sagemaker", "UpdateCluster", {"ClusterName": "c", "InstanceGroups": [], "InstanceGroupsToDelete": ["g"]}),
    ("codecommit", "CreateCommit", {"repositoryName": "r", "branchName": "main", "deleteFiles": [{"filePath": "a"}]}),
    (
        "cognito-sync",
        "UpdateRecords",
        {
            "IdentityPoolId": "p",
            "IdentityId": "i",
            "DatasetName": "d",
            "SyncSessionToken": "t",
            "RecordPatches": [{"Op": "remove", "Key": "k", "SyncCount": 1}],
        },
    ),
    # Inputs that take access away: revoked permissions, unshared snapshots, removed principals, users or routes.
    (
        "quicksight",
        "UpdateDashboardPermissions",
        {"AwsAccountId": "1", "DashboardId": "d", "RevokePermissions": [{"Principal": "p", "Actions": ["a"]}]},
    ),
    ("ec2", "ModifySnapshotAttribute", {"SnapshotId": "s", "CreateVolumePermission": {"Remove": [{"UserId": "1"}]}}),
    ("ec2", "ModifySnapshotAttribute", {"SnapshotId": "s", "OperationType": "remove", "UserIds": ["1"]}),
    ("ec2", "ModifyImageAttribute", {"ImageId": "ami-1", "LaunchPermission": {"Remove": [{"Group": "all"}]}}),
    (
        "rds",
        "ModifyDBSnapshotAttribute",
        {"DBSnapshotIdentifier": "s", "AttributeName": "restore", "ValuesToRemove": ["all"]},
    ),
    (
        "rds",
        "ModifyDBClusterSnapshotAttribute",
        {"DBClusterSnapshotIdentifier": "s", "AttributeName": "restore", "ValuesToRemove": ["1"]},
    ),
    ("ssm", "ModifyDocumentPermission", {"Name": "d", "PermissionType": "Share", "AccountIdsToRemove": ["1"]}),
    (
        "ec2",
        "ModifyVpcEndpointServicePermissions",
        {"ServiceId": "s", "RemoveAllowedPrincipals": ["arn:aws:iam::1:root"]},
    ),
    ("ec2", "ModifyManagedPrefixList", {"PrefixListId": "pl-1", "RemoveEntries": [{"Cidr": "10.0.0.0/8"}]}),
    ("elasticache", "ModifyUserGroup", {"UserGroupId": "g", "UserIdsToRemove": ["u"]}),
    ("memorydb", "UpdateACL", {"ACLName": "a", "UserNamesToRemove": ["u"]}),
    ("redshift", "ModifyClusterIamRoles", {"ClusterIdentifier": "c", "RemoveIamRoles": ["arn"]}),
    ("globalaccelerator", "UpdateCrossAccountAttachment", {"AttachmentArn": "a", "RemovePrincipals": ["1"]}),
    (
        "chime-sdk-voice",
        "AssociatePhoneNumbersWithVoiceConnector",
        {"VoiceConnectorId": "v", "E164PhoneNumbers": ["+1"], "ForceAssociate": True},
    ),
]


@pytest.mark.parametrize("service, operation, params", DESTRUCTIVE_ARGUMENTS, ids=lambda value: str(value)[:40])
def test_arguments_that_remove_something_make_the_call_destructive(service: str, operation: str, params: dict) -> None:
    assert classify(service, operation) is not OpClass.DESTRUCTIVE
    assert classify(service, operation, params) is OpClass.DESTRUCTIVE
    assert can_be_destructive(service, operation)


def test_partiql_delete_is_destructive() -> None:
    assert (
        classify("dynamodb", "ExecuteStatement", {"Statement": "DELETE FROM t WHERE pk = 'a'"}) is OpClass.DESTRUCTIVE
    )


@pytest.mark.parametrize(
    "service, operation, params",
    [
        # UPDATE overwrites in place, like PutItem and UpdateItem, which are writes; INSERT and SELECT remove nothing.
        ("dynamodb", "ExecuteStatement", {"Statement": "UPDATE \"t\" SET v = 1 WHERE pk = 'a'"}),
        ("dynamodb", "ExecuteStatement", {"Statement": "SELECT * FROM t WHERE deleted = true"}),
        ("dynamodb", "BatchExecuteStatement", _statements("INSERT INTO t VALUE {'pk': 'a'}")),
        ("rds-data", "ExecuteStatement", {"sql": "UPDATE users SET name = 'x' WHERE id = 1"}),
        ("redshift-data", "BatchExecuteStatement", {"Sqls": ["SELECT 1", "INSERT INTO t VALUES (1)"]}),
        ("athena", "StartQueryExecution", {"QueryString": "SELECT * FROM dropped_items"}),
        ("neptunedata", "ExecuteGremlinQuery", {"gremlinQuery": "g.V().count()"}),
        ("neptunedata", "ExecuteFastReset", {"action": "initiateDatabaseReset"}),
        ("iam", "CreatePolicyVersion", {"PolicyArn": "arn", "PolicyDocument": "{}", "SetAsDefault": False}),
        ("iam", "CreatePolicyVersion", {"PolicyArn": "arn", "PolicyDocument": "{}"}),
        ("ec2", "CreateReplaceRootVolumeTask", {"InstanceId": "i-1"}),
        ("ec2", "ModifySnapshotAttribute", {"SnapshotId": "s", "CreateVolumePermission": {"Add": [{"UserId": "1"}]}}),
        ("dynamodb", "UpdateTable", {"TableName": "t", "ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]}),
        (
            "cloudfront-keyvaluestore",
            "UpdateKeys",
            {"KvsARN": "a", "IfMatch": "e", "Puts": [{"Key": "k", "Value": "v"}], "Deletes": []},
        ),
        (
            "quicksight",
            "UpdateDashboardPermissions",
            {"AwsAccountId": "1", "DashboardId": "d", "GrantPermissions": [{"Principal": "p", "Actions": ["a"]}]},
        ),
        # Malformed arguments are judged by the name alone.
        ("dynamodb", "ExecuteStatement", {"Statement": None}),
        ("dynamodb", "BatchExecuteStatement", {"Statements": "DELETE FROM t"}),
        ("iam", "CreatePolicyVersion", {"SetAsDefault": "true"}),
    ],
    ids=lambda value: str(value)[:40],
)
def test_arguments_that_remove_nothing_keep_the_call_a_write(service: str, operation: str, params: dict) -> None:
    assert classify(service, operation, params) is OpClass.WRITE


def _input_member(shape: Shape | None, path: str) -> Shape | None:
    for part in path.split("."):
        if shape is None:
            return None
        if part == "*":
            shape = shape.member if shape.type_name == "list" else shape.value if shape.type_name == "map" else None
        else:
            shape = shape.members.get(part) if shape.type_name == "structure" else None
    return shape


def test_every_argument_rule_names_members_of_the_operation_input() -> None:
    missing = [
        f"{service}:{operation} {path}"
        for (service, operation), rule in DESTRUCTIVE_WITH_PARAMS.items()
        for path in rule.paths
        if _input_member(models.operation_model(service, operation).input_shape, path) is None
    ]
    assert missing == []


# --- An oracle independent of the classifier's tables: walk every operation's output shape. ---
#
# A member can carry a credential when it is text or bytes (not an enum) and
#   (1) its name ends in a credential noun: CREDENTIAL_ENDINGS (Password, SecretAccessKey, ClientSecret, ApiKey...);
#   (2) or botocore marks it `sensitive` and its head noun is one of SENSITIVE_CREDENTIAL_NOUNS, minus the nouns
#       that name no secret (NextToken, PartitionKey, PostalCode...): the trait alone also covers e-mail addresses,
#       names and free text, which are personal data, not credentials;
#   (3) or it is the `value` of a structure named like a credential (apigateway ApiKey.value, UsagePlanKey.value,
#       route53globalresolver GetAccessTokenOutput.value);
# or it is a map whose keys name secrets (its key enum lists PASSWORD..., or its documentation lists client_secret).
# Names holding the word Public (PublicKey, publicKeyMaterial) are never secrets.
# An operation that returns such a member may not be a plain read. And a credential beside its own expiry (a
# sibling about expiry whose other words are the credential's: AuthToken + AuthTokenExpirationTime, Password + Ttl)
# was made for this caller: the operation mints it, so it may not be a read of any kind.

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
CREDENTIAL_ENDINGS = frozenset(
    tuple(ending.split())
    for ending in (
        "password",
        "passphrase",
        "password data",
        "secret access key",
        "secret key",
        "session token",
        "private key",
        "client secret",
        "shared secret",
        "pre shared key",
        "secret token",
        "auth token",
        "access token",
        "refresh token",
        "id token",
        "bearer token",
        "security token",
        "authorization token",
        "join token",
        "hec token",
        "api key",
        "auth key",
        "stream key",
        "plan key",
        "unlock code",
        "auth code",
        "authorization code",
        "secret string",
        "secret binary",
        "string seed",
        "qr code png",
        "pin",
        "key material",
        "authentication material",
    )
)
SENSITIVE_CREDENTIAL_NOUNS = frozenset(
    {
        "password",
        "passphrase",
        "secret",
        "secrets",
        "credential",
        "credentials",
        "token",
        "key",
        "code",
        "seed",
        "pin",
        "signature",
    }
)
_NOT_SECRET_TOKENS = frozenset(
    {"next", "continuation", "pagination", "page", "client", "idempotency", "change", "sync"}
)
_NOT_SECRET_KEYS = frozenset({"object", "public", "tag", "partition", "sort", "hash", "kms", "primary"})
_SECRET_CODES = frozenset({"activation", "unlock", "auth", "authorization", "verification", "recovery"})
_SECRET_MAP_KEYS = re.compile(r"(^|_)(PASSWORD|SECRET|PRIVATE_KEY|API_KEY|KEYSTORE)($|_)")
_SECRET_MAP_DOC = re.compile(r"\b(client_secret|private_key)\b")
_RESPONSE = re.compile(r"(Output|Response|Result)$")
_EXPIRY_WORDS = frozenset({"expiration", "expires", "expire", "expiry", "at", "in", "time", "timestamp", "date", "ttl"})


def _words(name: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(name))


def _ends_like_a_credential(name: str) -> bool:
    words = _words(name)
    return "public" not in words and any(words[-len(ending) :] == ending for ending in CREDENTIAL_ENDINGS)


def _sensitive_and_named_like_a_credential(name: str, container: str) -> bool:
    words = _words(name)
    if not words or words[-1] not in SENSITIVE_CREDENTIAL_NOUNS:
        return False
    head, qualifier = words[-1], words[-2] if len(words) > 1 else ""
    if head == "token":
        return qualifier not in _NOT_SECRET_TOKENS
    if head == "code":
        return qualifier in _SECRET_CODES
    if head == "key" and qualifier:
        return qualifier not in _NOT_SECRET_KEYS
    if head == "key":  # a bare `Key` is the secret only in a structure about a key (location DescribeKey)
        return "key" in _words(container) and not {"tag", "value", "metadata", "data"} & set(_words(container))
    return True


def _is_expiry_of(sibling: str, credential: str) -> bool:
    words = set(_words(sibling))
    return bool(words & {"expiration", "expires", "expire", "expiry", "ttl"}) and words - _EXPIRY_WORDS <= set(
        _words(credential)
    )


@cache
def credential_outputs(service: str, operation: str) -> tuple[tuple[str, bool], ...]:
    """(path, has an expiry beside it) for each output member of the operation that can carry a credential."""
    found: list[tuple[str, bool]] = []

    def visit(node: Shape, path: str, parents: frozenset[str]) -> None:
        if node.type_name == "list":
            visit(node.member, f"{path}[]", parents)
        elif node.type_name == "map":
            visit(node.value, f"{path}{{}}", parents)
        elif node.type_name == "structure" and node.name not in parents:
            for name, member in node.members.items():
                text = member.type_name in ("string", "blob") and not member.metadata.get("enum")
                credential = text and (
                    _ends_like_a_credential(name)
                    or (member.metadata.get("sensitive") and _sensitive_and_named_like_a_credential(name, node.name))
                    or (name.lower() == "value" and _ends_like_a_credential(_RESPONSE.sub("", node.name)))
                )
                secret_keys = member.type_name == "map" and (
                    any(_SECRET_MAP_KEYS.search(key) for key in member.key.metadata.get("enum", ()))
                    or _SECRET_MAP_DOC.search(member.documentation or "")
                )
                if credential or secret_keys:
                    expiry = any(_is_expiry_of(sibling, name) for sibling in node.members if sibling != name)
                    found.append((f"{path}.{name}", expiry))
                visit(member, f"{path}.{name}", parents | {node.name})

    output = models.operation_model(service, operation).output_shape
    if output is not None:
        visit(output, "", frozenset())
    return tuple(found)


def test_operations_whose_output_can_carry_a_credential_are_never_plain_reads() -> None:
    excused = {key for keys in READS_DESPITE_CREDENTIAL_NAMED_OUTPUT.values() for key in keys}
    offenders = [
        f"{service}:{operation} {credential_outputs(service, operation)[0][0]}"
        for service, operation in every_operation()
        if classify(service, operation) is OpClass.READ
        and credential_outputs(service, operation)
        and (service, operation) not in excused
    ]
    assert offenders == []


def test_reads_excused_from_the_credential_oracle_are_reads_the_oracle_flags() -> None:
    for reason, keys in READS_DESPITE_CREDENTIAL_NAMED_OUTPUT.items():
        for service, operation in keys:
            assert credential_outputs(service, operation), (reason, service, operation)
            assert classify(service, operation) is OpClass.READ, (reason, service, operation)


def test_operations_that_hand_out_a_credential_with_its_expiry_are_writes() -> None:
    """A credential returned beside its own expiry was made for this caller: the call mints it."""
    excused = {key for keys in STORED_CREDENTIALS_WITH_EXPIRY.values() for key in keys}
    offenders = [
        f"{service}:{operation}"
        for service, operation in every_operation()
        if classify(service, operation) in (OpClass.READ, OpClass.SENSITIVE)
        and any(expiry for _, expiry in credential_outputs(service, operation))
        and (service, operation) not in excused
    ]
    assert offenders == []


def test_stored_credentials_excused_from_the_expiry_oracle_are_sensitive_reads_it_flags() -> None:
    for reason, keys in STORED_CREDENTIALS_WITH_EXPIRY.items():
        for service, operation in keys:
            assert any(expiry for _, expiry in credential_outputs(service, operation)), (reason, service, operation)
            assert classify(service, operation) is OpClass.SENSITIVE, (reason, service, operation)


@pytest.mark.parametrize(
    "service, operation, found",
    [
        ("apigateway", "GetApiKeys", ".items[].value"),
        ("glue", "GetConnection", ".Connection.ConnectionProperties"),
        ("cognito-idp", "DescribeIdentityProvider", ".IdentityProvider.ProviderDetails"),
        ("ec2", "DescribeVpnConnections", ".VpnConnections[].Options.TunnelOptions[].PreSharedKey"),
        ("sts", "GetSessionToken", ".Credentials.SessionToken"),
        ("location", "DescribeKey", ".Key"),
    ],
)
def test_the_oracle_finds_known_secrets(service: str, operation: str, found: str) -> None:
    assert found in [path for path, _ in credential_outputs(service, operation)]


@pytest.mark.parametrize(
    "service, operation",
    [
        ("s3", "ListObjectsV2"),  # NextContinuationToken, Key
        ("dynamodb", "Query"),  # LastEvaluatedKey
        ("kms", "DescribeKey"),  # KeyId, KeyManager
        ("identitystore", "DescribeUser"),  # e-mail and postal addresses carry the sensitive trait
        ("cognito-idp", "ListUsers"),  # PaginationToken
        ("lambda", "GetFunction"),  # environment variables are user data, flagged sensitive
    ],
)
def test_the_oracle_ignores_paging_tokens_ids_and_personal_data(service: str, operation: str) -> None:
    assert credential_outputs(service, operation) == ()
