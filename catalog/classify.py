"""Sort every AWS operation into read, sensitive, write or destructive, so policy can allow or deny by class.

The verb at the start of an operation name decides most cases. Names that lie are corrected by the tables
below: reads under other verbs (dynamodb Query), reads that reveal secrets (GetSecretValue), `Get*` calls
that mint credentials or change state (sts GetSessionToken), and writes that overwrite access (PutBucketPolicy).
Anything botocore does not model is a write: an unknown name is never trusted to be harmless.

Verb rules, applied to the first word of the name (after a `Batch` or `Admin` qualifier, so
`BatchGetItem` reads with `Get` and `AdminDeleteUser` destroys with `Delete`):

* read: `READ_VERBS`.
* destructive: `DESTRUCTIVE_VERBS`, i.e. verbs that remove, stop, revoke, revert or cut off something.
  Failover, Reboot, Replace and Archive stay writes: they disrupt or change, but nothing is gone.
* destructive: `Put*`/`Set*` calls ending in `Policy`, `Acl` or `PermissionsBoundary` that replace an access
  policy wholesale, except policies that govern something other than access (scaling, lifecycle, retention...).
* write: everything else.

Some calls are destructive only for some arguments (a Route 53 change batch holding a DELETE); with
`params` those are inspected, without them the call keeps its name-based class.

Patterns from the user's policy (`extra_destructive`) promote any class, reads included, to destructive:
an author who writes `^Get` wants those calls gated, and a policy may only tighten, never loosen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from catalog import models


class OpClass(StrEnum):
    READ = "read"
    SENSITIVE = "sensitive"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


READ_VERBS = frozenset(
    {"Describe", "List", "Get", "Head", "Search", "Lookup", "Check", "Count", "Is", "Simulate", "Estimate"}
)

DESTRUCTIVE_VERBS = frozenset(
    {
        "Abort",
        "Cancel",
        "Clear",
        "Close",
        "Deactivate",
        "Deauthorize",
        "Decline",
        "Decrease",
        "Delete",
        "Deny",
        "Deprovision",
        "Deregister",
        "Detach",
        "Disable",
        "Disallow",
        "Disassociate",
        "Disconnect",
        "Discard",
        "Dispose",
        "Dissociate",
        "Drain",
        "Evict",
        "Expire",
        "Flush",
        "Forget",
        "Invalidate",
        "Leave",
        "Pause",
        "Purge",
        "Redact",
        "Reject",
        "Release",
        "Remove",
        "Reset",
        "Retire",
        "Revoke",
        "Rollback",
        "Shrink",
        "Shutdown",
        "Stop",
        "Suspend",
        "Terminate",
        "Unassign",
        "Undeploy",
        "Ungroup",
        "Unlink",
        "Unlock",
        "Unmonitor",
        "Unpeer",
        "Unregister",
        "Unshare",
        "Unsubscribe",
        "Withdraw",
    }
)

MUTATING_VERBS = DESTRUCTIVE_VERBS | frozenset(
    {
        "Accept",
        "Activate",
        "Add",
        "Advertise",
        "Allocate",
        "Apply",
        "Assign",
        "Assume",
        "Associate",
        "Attach",
        "Authorize",
        "Change",
        "Copy",
        "Create",
        "Encrypt",
        "Enable",
        "Execute",
        "Export",
        "Failover",
        "Grant",
        "Import",
        "Increase",
        "Invoke",
        "Lock",
        "Merge",
        "Modify",
        "Move",
        "Promote",
        "Provision",
        "Publish",
        "Purchase",
        "Put",
        "Reboot",
        "Register",
        "Rename",
        "Replace",
        "Restart",
        "Restore",
        "Resume",
        "Rotate",
        "Run",
        "Schedule",
        "Send",
        "Set",
        "Start",
        "Submit",
        "Tag",
        "Transfer",
        "Untag",
        "Update",
        "Upload",
        "Write",
    }
)

_QUALIFIERS = frozenset({"Batch", "Admin"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")

_ACCESS_POLICY = re.compile(r"^(Put|Set)\w*(Policy|Acl|ACL|PermissionsBoundary)$")
_NON_ACCESS_POLICY = re.compile(
    r"(Scaling|AutoTermination|Lifecycle|Backup|Retention|DataRetrieval|Index|StorageTier|Metric|Cors"
    r"|DataProtection|Account|CoreNetwork)Policy$"
)


def _ops(by_service: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """(service, operation) pairs from a table of space-separated operation names per service."""
    return frozenset((service, op) for service, ops in by_service.items() for op in ops.split())


READS = _ops(
    {
        "accessanalyzer": "ValidatePolicy",
        "bedrock-agent-runtime": "Retrieve",
        "bedrock-agentcore": "RetrieveMemoryRecords",
        "cloudformation": "ValidateTemplate",
        "cloudsearchdomain": "Suggest",
        "config": "SelectResourceConfig SelectAggregateResourceConfig",
        "datapipeline": "QueryObjects",
        "datazone": "QueryGraph",
        "dynamodb": "Query Scan TransactGetItems",
        "ec2": "ValidateSecurityGroupQuotasForInterface",
        "elasticbeanstalk": "RetrieveEnvironmentInfo ValidateConfigurationSettings",
        "events": "TestEventPattern",
        "forecastquery": "QueryForecast QueryWhatIfForecast",
        "gamelift": "ResolveAlias",
        "glue": "QuerySchemaVersionMetadata",
        "greengrassv2": "ResolveComponentCandidates",
        "iot": "TestAuthorization",
        "kendra": "Query Retrieve",
        "kms": "Verify VerifyMac",
        "logs": "FilterLogEvents TestMetricFilter",
        "mediaconvert": "Probe",
        "opensearch": "CompareDomainConfiguration",
        "qconnect": "QueryAssistant Retrieve",
        "rds": "DownloadDBLogFilePortion",
        "route53": "TestDNSAnswer",
        "route53domains": "ViewBilling",
        "s3": "SelectObjectContent",
        "s3vectors": "QueryVectors",
        "sagemaker": "QueryLineage",
        "sdb": "Select DomainMetadata",
        "secretsmanager": "ValidateResourcePolicy",
        "servicecatalog": "ScanProvisionedProducts",
        "servicediscovery": "DiscoverInstances DiscoverInstancesRevision",
        "stepfunctions": "ValidateStateMachineDefinition",
        "sts": "DecodeAuthorizationMessage",
        "timestream-query": "Query",
        "wisdom": "QueryAssistant",
    }
)

SENSITIVE = _ops(
    {
        "acm": "GetAcmeExternalAccountBindingCredentials",
        "bedrock-agentcore": "GetResourceApiKey",
        "codeartifact": "GetAuthorizationToken",
        "codepipeline": "GetJobDetails GetThirdPartyJobDetails",
        "cognito-idp": "DescribeUserPoolClient ListUserPoolClientSecrets",
        "datazone": "GetConnection",
        "ec2": "GetPasswordData",
        "ecr": "GetAuthorizationToken",
        "ecr-public": "GetAuthorizationToken",
        "emr": "GetSessionEndpoint GetOnClusterAppUIPresignedURL GetPersistentAppUIPresignedURL",
        "emr-serverless": "GetSessionEndpoint GetDashboardForJobRun",
        "evs": "GetDepotUrl",
        "glue": "GetSessionEndpoint GetDashboardUrl",
        "ivs": "GetStreamKey BatchGetStreamKey",
        "kinesis-video-archived-media": "GetHLSStreamingSessionURL GetDASHStreamingSessionURL",
        "kinesis-video-signaling": "GetIceServerConfig",
        "kms": "Decrypt",
        "lightsail": "GetInstanceAccessDetails GetRelationalDatabaseMasterUserPassword GetBucketAccessKeys"
        " DownloadDefaultKeyPair",
        "payment-cryptography-data": "DecryptData",
        "pca-connector-scep": "GetChallengePassword",
        "route53domains": "RetrieveDomainAuthCode",
        "secretsmanager": "GetSecretValue BatchGetSecretValue",
        "ssm": "GetParameter GetParameters GetParametersByPath GetParameterHistory",
        "storagegateway": "DescribeChapCredentials",
        "wickr": "GetOidcInfo GetOpentdfConfig",
    }
)

CREDENTIAL_MINTING = _ops(
    {
        "account-access-runtime": "GetRoleCredentials",
        "amplifybackend": "GetToken",
        "bedrock-agentcore": "GetWorkloadAccessToken GetWorkloadAccessTokenForJWT GetWorkloadAccessTokenForUserId"
        " GetResourceOauth2Token GetResourcePaymentToken",
        "cloudwatchomni": "GetSpaceCredentialsForOrganization GetSpaceDataAccess",
        "cognito-identity": "GetId GetCredentialsForIdentity GetOpenIdToken GetOpenIdTokenForDeveloperIdentity",
        "cognito-idp": "GetTokensFromRefreshToken GetClientToken GetDerivedToken InitiateAuth AdminInitiateAuth",
        "connect": "GetFederationToken",
        "datazone": "GetEnvironmentCredentials GetIamPortalLoginUrl",
        "emr": "GetClusterSessionCredentials",
        "emr-containers": "GetManagedEndpointSessionCredentials",
        "gamelift": "GetComputeAccess GetComputeAuthToken GetInstanceAccess",
        "iam": "CreateAccessKey CreateServiceSpecificCredential",
        "lakeformation": "GetTemporaryDataLocationCredentials GetTemporaryGlueFunctionCredentials"
        " GetTemporaryGluePartitionCredentials GetTemporaryGlueTableCredentials",
        "license-manager": "GetAccessToken",
        "m2": "GetSignedBluinsightsUrl",
        "marketplace-reporting": "GetBuyerDashboard",
        "quicksight": "GetDashboardEmbedUrl GetSessionEmbedUrl",
        "redshift": "GetClusterCredentials GetClusterCredentialsWithIAM GetIdentityCenterAuthToken",
        "redshift-serverless": "GetCredentials GetIdentityCenterAuthToken",
        "s3control": "GetDataAccess",
        "sso": "GetRoleCredentials",
        "sso-oidc": "CreateToken CreateTokenWithIAM",
        "ssm": "GetAccessToken",
        "sts": "AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity AssumeRoot GetSessionToken GetFederationToken"
        " GetDelegatedAccessToken GetWebIdentityToken",
    }
)
"""Calls that hand out credentials or a signed-in session for a principal: writes whatever their name."""

RUNS_CODE_OR_QUERIES = _ops(
    {
        "athena": "StartQueryExecution",
        "dynamodb": "ExecuteStatement BatchExecuteStatement ExecuteTransaction",
        "lambda": "Invoke InvokeAsync InvokeWithResponseStream",
        "rds-data": "ExecuteStatement BatchExecuteStatement",
        "ssm": "SendCommand StartSession StartAutomationExecution",
    }
)
"""Listed for the record: their verbs already make them writes, and a query language may write."""

STATE_CHANGING_READ_NAMES = _ops(
    {
        "auditmanager": "GetEvidenceFileUploadUrl",
        "license-manager": "CheckInLicense",
        "lightsail": "CheckSubdomainAvailability",
        "sagemaker": "GetScalingConfigurationRecommendation",
        "security-ir": "GetCaseAttachmentUploadUrl",
        "stepfunctions": "GetActivityTask",
        "support": "GetAttachmentUploadLinks",
        "waf": "GetChangeToken",
        "waf-regional": "GetChangeToken",
        "xray": "GetSamplingTargets",
    }
)
"""Read-sounding names that claim work, reserve names, start jobs or hand out upload URLs."""

DESTRUCTIVE = _ops(
    {
        "cloudsearch": "UpdateServiceAccessPolicies",
        "cognito-identity": "SetIdentityPoolRoles",
        "cognito-idp": "GlobalSignOut AdminUserGlobalSignOut",
        "ec2": "ModifyVerifiedAccessEndpointPolicy ModifyVerifiedAccessGroupPolicy",
        "iam": "UpdateAssumeRolePolicy SetDefaultPolicyVersion",
        "iot": "SetDefaultPolicyVersion",
        "iotsitewise": "UpdateAccessPolicy",
        "kms": "ScheduleKeyDeletion",
        "opensearchserverless": "UpdateAccessPolicy",
        "organizations": "UpdatePolicy",
        "s3": "DeleteObjects",
        "savingsplans": "ReturnSavingsPlan",
        "sesv2": "UpdateEmailIdentityPolicy",
        "verifiedpermissions": "UpdatePolicy",
    }
)
"""Replacements of access policies or role mappings, and removals the verb rules miss."""


def _overrides() -> dict[tuple[str, str], OpClass]:
    tables = (
        (READS, OpClass.READ),
        (SENSITIVE, OpClass.SENSITIVE),
        (CREDENTIAL_MINTING, OpClass.WRITE),
        (RUNS_CODE_OR_QUERIES, OpClass.WRITE),
        (STATE_CHANGING_READ_NAMES, OpClass.WRITE),
        (DESTRUCTIVE, OpClass.DESTRUCTIVE),
    )
    return {key: op_class for table, op_class in tables for key in table}


OVERRIDES = _overrides()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _route53_record_deletes(params: Mapping[str, Any]) -> bool:
    changes = _list(_dict(params.get("ChangeBatch")).get("Changes"))
    return any(str(_dict(change).get("Action", "")).upper() == "DELETE" for change in changes)


def _route53_cidr_deletes(params: Mapping[str, Any]) -> bool:
    changes = _list(params.get("Changes"))
    return any(str(_dict(change).get("Action", "")).upper() == "DELETE_IF_EXISTS" for change in changes)


def _dynamodb_batch_deletes(params: Mapping[str, Any]) -> bool:
    requests = _dict(params.get("RequestItems")).values()
    return any("DeleteRequest" in _dict(item) for table_items in requests for item in _list(table_items))


def _dynamodb_transaction_deletes(params: Mapping[str, Any]) -> bool:
    return any("Delete" in _dict(item) for item in _list(params.get("TransactItems")))


DESTRUCTIVE_WITH_PARAMS: dict[tuple[str, str], Callable[[Mapping[str, Any]], bool]] = {
    ("route53", "ChangeResourceRecordSets"): _route53_record_deletes,
    ("route53", "ChangeCidrCollection"): _route53_cidr_deletes,
    ("dynamodb", "BatchWriteItem"): _dynamodb_batch_deletes,
    ("dynamodb", "TransactWriteItems"): _dynamodb_transaction_deletes,
}
"""Writes that become destructive when their arguments remove something."""


def _verb(operation: str) -> str:
    words = _WORD.findall(operation)
    if len(words) > 1 and words[0] in _QUALIFIERS:
        return words[1]
    return words[0] if words else ""


def is_mutating_name(operation: str) -> bool:
    """Whether the name starts with a verb that changes state (`BatchDeleteX` and `AdminCreateX` count)."""
    return _verb(operation) in MUTATING_VERBS


def _is_access_policy_overwrite(operation: str) -> bool:
    return bool(_ACCESS_POLICY.match(operation)) and not _NON_ACCESS_POLICY.search(operation)


@cache
def _classify_name(service: str, operation: str) -> OpClass:
    if operation not in models.operation_names(service):
        return OpClass.WRITE
    override = OVERRIDES.get((service, operation))
    if override is not None:
        return override
    verb = _verb(operation)
    if verb in DESTRUCTIVE_VERBS or _is_access_policy_overwrite(operation):
        return OpClass.DESTRUCTIVE
    if verb in READ_VERBS:
        return OpClass.READ
    return OpClass.WRITE


class Searchable(Protocol):
    """A compiled regex: `re`'s, or RE2's (what the policy compiles its patterns with)."""

    def search(self, text: str) -> Any: ...


def classify(
    service: str,
    operation: str,
    params: Mapping[str, Any] | None = None,
    extra_destructive: Sequence[Searchable] = (),
) -> OpClass:
    """Class of `service`/`operation` (botocore spellings), refined by the call's `params` when given.

    Each `extra_destructive` pattern is searched in the operation name and in "service:Operation";
    a match makes the call destructive whatever its class.
    """
    op_class = _classify_name(service, operation)
    if op_class is OpClass.DESTRUCTIVE:
        return op_class
    qualified = f"{service}:{operation}"
    if any(pattern.search(operation) or pattern.search(qualified) for pattern in extra_destructive):
        return OpClass.DESTRUCTIVE
    inspect = DESTRUCTIVE_WITH_PARAMS.get((service, operation))
    if params is not None and inspect is not None and inspect(params):
        return OpClass.DESTRUCTIVE
    return op_class


def can_be_destructive(service: str, operation: str) -> bool:
    """Whether some call of this operation is destructive: by its name, or for some arguments."""
    return _classify_name(service, operation) is OpClass.DESTRUCTIVE or (service, operation) in DESTRUCTIVE_WITH_PARAMS
