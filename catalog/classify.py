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

How the tables were found (botocore 1.44.5, 19,796 operations; redo it when botocore grows):

1. Secrets in outputs. Every operation's output shape is walked recursively. A member can carry a credential
   when it is text or bytes (not an enum) and its name ends in a credential noun (Password, Passphrase,
   SecretAccessKey, SessionToken, PrivateKey, ClientSecret, SharedSecret, PreSharedKey, AuthToken, AccessToken,
   ApiKey, StreamKey, UnlockCode, AuthCode, PIN...), or botocore marks it `sensitive` (the trait is
   `shape.metadata["sensitive"]`) and its head noun is a credential noun; or it is the `value` of a structure
   named like a credential (apigateway ApiKey.value); or it is a map whose keys name secrets (glue
   ConnectionProperties lists PASSWORD, cognito ProviderDetails documents client_secret). Names that are not
   secrets are left out: paging and concurrency tokens (NextToken, ClientToken, LockToken), ids, ARNs, KMS key
   ids, and anything named `Public...`. The `sensitive` trait alone is not enough: botocore also puts it on
   e-mail and postal addresses, names, phone numbers, free text and environment variables, which are personal
   or user data, not credentials. `tests/test_classify.py` holds this walk as an oracle independent of these
   tables: every operation it flags must be sensitive or a write, or be listed in
   READS_DESPITE_CREDENTIAL_NAMED_OUTPUT with the reason AWS does not hand out the secret. Where AWS documents
   nothing, the model's word that the value can come back decides. A second pass over members that carry the
   trait and whose documentation speaks of keys, passwords or tokens found the few secrets under other names
   (ec2 GetVpnConnectionDeviceSampleConfiguration, gameliftstreams stream URLs).
2. Minted credentials. A credential returned beside its own expiry (AuthToken + AuthTokenExpirationTime,
   authorizationToken + expiresAt, Password + Ttl) was made for this caller: the call mints it and is a write,
   whatever its verb (ecr GetAuthorizationToken). The same oracle checks it; STORED_CREDENTIALS_WITH_EXPIRY
   lists the reads whose expiry belongs to something stored. Documentation saying the call "returns temporary
   credentials" or "creates" the token, URL or key pair found the rest.
3. State changes under read verbs. The first sentence of every read's documentation was searched for
   "creates", "sends", "generates", "starts", "deletes"...; an idempotency token among the inputs hints at the
   same. Reviewed hits that change state are STATE_CHANGING_READ_NAMES; a query language that can write
   (timestream UNLOAD) is a write. Bookkeeping a read triggers (an ARN assigned, a status refreshed) is not.
4. Destruction hidden in arguments. The inputs of every operation that is not destructive by name were
   searched for booleans named Force*, Overwrite*, SetAsDefault, Delete*, Remove*, Reset*, Replace*,
   Terminate*, for lists named *ToRemove, Remove*, Revoke*, Delete*, and for statements (Statement, Sql,
   QueryString, gremlinQuery...). Arguments that delete data or resources, replace the access policy in force,
   or take access away (revoke permissions, unshare, remove principals, users, routes, subnets) make the call
   destructive: DESTRUCTIVE_WITH_PARAMS. Arguments that only clear configuration (attributes, options,
   descriptions, metrics) stay writes, as UntagResource does. In statements DELETE, DROP, TRUNCATE and REVOKE
   destroy (rows, objects, grants; Gremlin `drop()`); UPDATE overwrites in place and stays a write, as PutItem
   and UpdateItem do. A statement is judged by its text: one that calls a stored procedure is a write, as a
   Lambda Invoke is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
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
        "wisdom": "QueryAssistant",
    }
)

SENSITIVE = _ops(
    {
        "acm": "GetAcmeExternalAccountBindingCredentials",
        "amplify": "GetApp GetBranch ListApps ListBranches",
        "amplifybackend": "GetBackendAuth",
        "apigateway": "GetApiKey GetApiKeys GetUsagePlanKey GetUsagePlanKeys",
        "bedrock-agentcore": "GetResourceApiKey",
        "chime": "GetBot ListBots GetUser ListUsers",
        "chime-sdk-identity": "DescribeAppInstanceUserEndpoint",
        "chime-sdk-meetings": "GetAttendee ListAttendees",
        "cloudhsmv2": "DescribeClusters",
        "codepipeline": "ListWebhooks",
        "cognito-idp": "DescribeUserPoolClient ListUserPoolClientSecrets DescribeIdentityProvider"
        " GetIdentityProviderByIdentifier",
        "connecthealth": "GetPatientInsightsJob",
        "dataexchange": "GetAsset GetJob ListJobs ListRevisionAssets",
        "datazone": "ListConnections",
        "directconnect": "DescribeVirtualInterfaces",
        "dms": "DescribeEndpoints",
        "ds": "DescribeDirectories",
        "ec2": "GetPasswordData DescribeBundleTasks DescribeVerifiedAccessTrustProviders DescribeVpnConnections"
        " GetVpnConnectionDeviceSampleConfiguration",
        "emr": "GetOnClusterAppUIPresignedURL GetPersistentAppUIPresignedURL DescribeCluster",
        "evs": "GetDepotUrl GetEnvironment",
        "firehose": "DescribeDeliveryStream",
        "gameliftstreams": "GetStreamUrl ListStreamUrls",
        "glue": "GetDashboardUrl GetConnection GetConnections GetJob GetJobs BatchGetJobs",
        "iam": "ListVirtualMFADevices",
        "interconnect": "GetConnection",
        "invoicing": "GetProcurementPortalPreference",
        "iot-managed-integrations": "GetManagedThing ListDiscoveredDevices",
        "ivs": "GetStreamKey BatchGetStreamKey GetChannel BatchGetChannel GetStreamSession",
        "ivs-realtime": "GetIngestConfiguration",
        "kinesis-video-archived-media": "GetHLSStreamingSessionURL GetDASHStreamingSessionURL",
        "kms": "Decrypt",
        "lexv2-models": "DescribeBotRecommendation",
        "lightsail": "GetRelationalDatabaseMasterUserPassword GetBucketAccessKeys GetRelationalDatabase"
        " GetRelationalDatabases",
        "location": "DescribeKey",
        "marketplace-agreement": "GetAgreementEntitlements",
        "mediapackage": "DescribeChannel ListChannels",
        "payment-cryptography-data": "DecryptData",
        "pca-connector-scep": "GetChallengePassword",
        "quicksight": "DescribeAssetBundleImportJob",
        "route53domains": "RetrieveDomainAuthCode",
        "route53globalresolver": "GetAccessToken",
        "secretsmanager": "GetSecretValue BatchGetSecretValue",
        "securityhub": "GetFindings",
        "snowball": "GetJobUnlockCode",
        "ssm": "GetParameter GetParameters GetParametersByPath GetParameterHistory",
        "storagegateway": "DescribeChapCredentials",
        "wickr": "GetOpentdfConfig",
        "workspaces-thin-client": "GetEnvironment ListEnvironments",
        "workspaces-web": "GetIdentityProvider",
    }
)
"""Reads whose output carries a stored secret: passwords, keys, tokens, client secrets, PINs, unlock codes.

Where AWS documents nothing about masking, the model's word that the value can come back decides (dms
DescribeEndpoints, emr DescribeCluster's Kerberos passwords, securityhub GetFindings' resource details).
"""

CREDENTIAL_MINTING = _ops(
    {
        "account-access-runtime": "GetRoleCredentials",
        "amplifybackend": "GetToken",
        "athena": "GetSessionEndpoint",
        "bedrock-agentcore": "GetWorkloadAccessToken GetWorkloadAccessTokenForJWT GetWorkloadAccessTokenForUserId"
        " GetResourceOauth2Token GetResourcePaymentToken",
        "cloudwatchomni": "GetSpaceCredentialsForOrganization GetSpaceDataAccess",
        "codeartifact": "GetAuthorizationToken",
        "codepipeline": "GetJobDetails GetThirdPartyJobDetails",
        "cognito-identity": "GetId GetCredentialsForIdentity GetOpenIdToken GetOpenIdTokenForDeveloperIdentity",
        "cognito-idp": "GetTokensFromRefreshToken GetClientToken GetDerivedToken InitiateAuth AdminInitiateAuth",
        "connect": "GetFederationToken",
        "datazone": "GetEnvironmentCredentials GetIamPortalLoginUrl GetConnection",
        "ecr": "GetAuthorizationToken",
        "ecr-public": "GetAuthorizationToken",
        "emr": "GetClusterSessionCredentials GetSessionEndpoint",
        "emr-containers": "GetManagedEndpointSessionCredentials",
        "emr-serverless": "GetSessionEndpoint GetDashboardForJobRun",
        "gamelift": "GetComputeAccess GetComputeAuthToken GetInstanceAccess",
        "glue": "GetSessionEndpoint",
        "iam": "CreateAccessKey CreateServiceSpecificCredential",
        "kinesis-video-signaling": "GetIceServerConfig",
        "lakeformation": "GetTemporaryDataLocationCredentials GetTemporaryGlueFunctionCredentials"
        " GetTemporaryGluePartitionCredentials GetTemporaryGlueTableCredentials",
        "license-manager": "GetAccessToken",
        "lightsail": "GetInstanceAccessDetails DownloadDefaultKeyPair",
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
        "wickr": "GetOidcInfo",
    }
)
"""Calls that hand out credentials or a signed-in session made for this caller: temporary keys, a token beside
its own expiry (ecr GetAuthorizationToken is a docker login good for 12 hours), a session URL or endpoint token
the call creates, a key pair created on first call. Writes whatever their name, so read-only mode refuses them."""

RUNS_CODE_OR_QUERIES = _ops(
    {
        "athena": "StartQueryExecution",
        "dynamodb": "ExecuteStatement BatchExecuteStatement ExecuteTransaction",
        "lambda": "Invoke InvokeAsync InvokeWithResponseStream",
        "neptune-graph": "ExecuteQuery",
        "neptunedata": "ExecuteGremlinQuery ExecuteGremlinProfileQuery ExecuteOpenCypherQuery",
        "rds-data": "ExecuteStatement BatchExecuteStatement ExecuteSql",
        "redshift-data": "ExecuteStatement BatchExecuteStatement",
        "ssm": "SendCommand StartSession StartAutomationExecution",
        "timestream-query": "Query",
    }
)
"""A query language may write: timestream-query Query runs UNLOAD into S3. Most of these are writes by their verb
already; their statements can also make them destructive (DESTRUCTIVE_WITH_PARAMS)."""

STATE_CHANGING_READ_NAMES = _ops(
    {
        "auditmanager": "GetEvidenceFileUploadUrl",
        "cognito-idp": "GetUserAttributeVerificationCode",
        "ec2": "GetFlowLogsIntegrationTemplate",
        "importexport": "GetShippingLabel",
        "license-manager": "CheckInLicense",
        "lightsail": "CheckSubdomainAvailability",
        "sagemaker": "GetScalingConfigurationRecommendation",
        "security-ir": "GetCaseAttachmentUploadUrl",
        "socialmessaging": "GetWhatsAppFlowPreview",
        "stepfunctions": "GetActivityTask",
        "support": "GetAttachmentUploadLinks",
        "waf": "GetChangeToken",
        "waf-regional": "GetChangeToken",
        "xray": "GetSamplingTargets",
    }
)
"""Read-sounding names that claim work, reserve names, start jobs, hand out upload or share URLs, send a code to a
user (cognito-idp GetUserAttributeVerificationCode), buy a shipping label or write a template into S3."""

DESTRUCTIVE = _ops(
    {
        "cloudsearch": "UpdateServiceAccessPolicies",
        "cognito-identity": "SetIdentityPoolRoles",
        "cognito-idp": "GlobalSignOut AdminUserGlobalSignOut",
        "ec2": "ModifyVerifiedAccessEndpointPolicy ModifyVerifiedAccessGroupPolicy",
        "elasticbeanstalk": "RebuildEnvironment",
        "iam": "UpdateAssumeRolePolicy SetDefaultPolicyVersion",
        "iot": "SetDefaultPolicyVersion",
        "iotsitewise": "UpdateAccessPolicy",
        "kms": "ScheduleKeyDeletion",
        "medialive": "StartDeleteMonitorDeployment",
        "opensearchserverless": "UpdateAccessPolicy",
        "organizations": "UpdatePolicy",
        "personalize": "CreateDataDeletionJob",
        "rds": "BacktrackDBCluster",
        "s3": "DeleteObjects",
        "savingsplans": "ReturnSavingsPlan",
        "sesv2": "UpdateEmailIdentityPolicy",
        "sso": "Logout",
        "transfer": "StartRemoteDelete",
        "verifiedpermissions": "UpdatePolicy",
    }
)
"""Replacements of access policies or role mappings, and removals the verb rules miss: a backtrack discards every
change after the chosen time, a rebuild deletes and recreates an environment's resources, a logout invalidates a
session, a data deletion job or a remote delete removes data."""

READS_DESPITE_CREDENTIAL_NAMED_OUTPUT: dict[str, frozenset[tuple[str, str]]] = {
    "AWS documents that the value is redacted, not returned, or not supported": _ops(
        {
            "appstream": "DescribeDirectoryConfigs",
            "datasync": "DescribeLocationFsxOntap DescribeLocationFsxOpenZfs",
            "fsx": "DescribeBackups DescribeFileSystems DescribeSnapshots DescribeVolumes",
            "neptune": "DescribeDBInstances",
        }
    ),
    "a pending master password comes back masked as ****": _ops(
        {
            "docdb": "DescribeDBInstances",
            "rds": "DescribeDBClusters DescribeDBInstances DescribeTenantDatabases",
            "redshift": "DescribeClusters",
        }
    ),
    "AWS never returns a listener's OIDC client secret; clients carry it forward themselves": _ops(
        {"elbv2": "DescribeListeners DescribeRules"}
    ),
    "the member holds a reference to the secret, not the secret": _ops(
        {
            "appmesh": "DescribeVirtualGateway DescribeVirtualNode",  # privateKey: a file path on the proxy
            "iot": "GetTopicRuleDestination ListTopicRuleDestinations",  # secretKey: a JSON key inside the secret
            "taxsettings": "GetTaxRegistration ListTaxRegistrations",  # locates a document behind another IAM call
        }
    ),
    "not a credential": _ops(
        {
            "cognito-sync": "ListRecords",  # SyncSessionToken: optimistic concurrency for UpdateRecords
            "secretsmanager": "GetRandomPassword",  # a fresh random string; nothing stored is revealed
            "wafv2": "ListAPIKeys",  # CAPTCHA client keys are made to be embedded in public web pages
        }
    ),
}
"""Reads that the output oracle in tests/test_classify.py flags and that stay reads, by reason. Data only: the
classifier never consults it; a test checks that each entry is still flagged and still a read."""

STORED_CREDENTIALS_WITH_EXPIRY: dict[str, frozenset[tuple[str, str]]] = {
    "the expiry belongs to a stored key or token that another call created": _ops(
        {"location": "DescribeKey", "route53globalresolver": "GetAccessToken"}
    ),
    "the ttl is the branch's cache lifetime, not the credential's": _ops({"amplify": "GetBranch ListBranches"}),
}
"""Sensitive reads whose credential sits beside an expiry that does not make the call a minting one. Data only."""


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


def _values_at(value: Any, path: Sequence[str]) -> Iterator[Any]:
    """The values `path` reaches in `value`: each part is a key of a mapping, or `*` for every list item or
    mapping value. Anything of another shape reaches nothing, so malformed arguments are judged by name alone."""
    if not path:
        yield value
        return
    part, rest = path[0], path[1:]
    if part == "*":
        items = value if isinstance(value, list) else value.values() if isinstance(value, Mapping) else ()
        for item in items:
            yield from _values_at(item, rest)
    elif isinstance(value, Mapping) and part in value:
        yield from _values_at(value[part], rest)


class ParamRule:
    """Destructive when a value reached by one of its dotted paths passes that path's test."""

    def __init__(self, *clauses: tuple[Callable[[Any], bool], str]) -> None:
        self.clauses = tuple((test, tuple(path.split("."))) for test, path in clauses)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(".".join(path) for _, path in self.clauses)

    def __call__(self, params: Mapping[str, Any]) -> bool:
        return any(test(value) for test, path in self.clauses for value in _values_at(params, path))


def _present(value: Any) -> bool:
    return True


def _true(value: Any) -> bool:
    return value is True


def _nonempty(value: Any) -> bool:
    return value not in (None, "", [], {})


def _equals(*choices: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.upper() in choices


_DESTROYING_STATEMENT = re.compile(r"\b(DELETE|DROP|TRUNCATE|REVOKE)\b", re.IGNORECASE)


def _destroys(value: Any) -> bool:
    """Whether a PartiQL, SQL, openCypher or Gremlin text holds a DELETE, DROP, TRUNCATE, REVOKE or drop().

    The words are searched in the whole text, string literals and comments included: quoting rules differ
    between languages, and a false alarm only asks for a confirmation.
    """
    return isinstance(value, str) and bool(_DESTROYING_STATEMENT.search(value))


def _each(test: Callable[[Any], bool], *paths: str) -> ParamRule:
    return ParamRule(*((test, path) for path in paths))


_REVOKED_PERMISSIONS = {
    key: _each(_nonempty, "RevokePermissions")
    for key in _ops(
        {
            "quicksight": "UpdateActionConnectorPermissions UpdateAgentPermissions UpdateAnalysisPermissions"
            " UpdateAppPermissions UpdateDataSetPermissions UpdateDataSourcePermissions UpdateFlowPermissions"
            " UpdateFolderPermissions UpdateKnowledgeBasePermissions UpdateSpacePermissions UpdateTemplatePermissions"
            " UpdateThemePermissions UpdateTopicPermissions UpdateTopicPermissionsV2",
        }
    )
}

DESTRUCTIVE_WITH_PARAMS: dict[tuple[str, str], ParamRule] = {
    # Changes that delete records, rows, items, replicas, files or data.
    ("route53", "ChangeResourceRecordSets"): _each(_equals("DELETE"), "ChangeBatch.Changes.*.Action"),
    ("route53", "ChangeCidrCollection"): _each(_equals("DELETE_IF_EXISTS"), "Changes.*.Action"),
    ("dynamodb", "BatchWriteItem"): _each(_present, "RequestItems.*.*.DeleteRequest"),
    ("dynamodb", "TransactWriteItems"): _each(_present, "TransactItems.*.Delete"),
    ("dynamodb", "ExecuteStatement"): _each(_destroys, "Statement"),
    ("dynamodb", "BatchExecuteStatement"): _each(_destroys, "Statements.*.Statement"),
    ("dynamodb", "ExecuteTransaction"): _each(_destroys, "TransactStatements.*.Statement"),
    ("dynamodb", "UpdateTable"): _each(_present, "ReplicaUpdates.*.Delete"),
    ("dynamodb", "UpdateGlobalTable"): _each(_present, "ReplicaUpdates.*.Delete"),
    ("rds-data", "ExecuteStatement"): _each(_destroys, "sql"),
    ("rds-data", "BatchExecuteStatement"): _each(_destroys, "sql"),
    ("rds-data", "ExecuteSql"): _each(_destroys, "sqlStatements"),
    ("redshift-data", "ExecuteStatement"): _each(_destroys, "Sql"),
    ("redshift-data", "BatchExecuteStatement"): _each(_destroys, "Sqls.*"),
    ("athena", "StartQueryExecution"): _each(_destroys, "QueryString"),
    ("neptunedata", "ExecuteGremlinQuery"): _each(_destroys, "gremlinQuery"),
    ("neptunedata", "ExecuteGremlinProfileQuery"): _each(_destroys, "gremlinQuery"),  # profiling runs the query
    ("neptunedata", "ExecuteOpenCypherQuery"): _each(_destroys, "openCypherQuery"),
    ("neptunedata", "ExecuteOpenCypherExplainQuery"): _each(_destroys, "openCypherQuery"),  # dynamic mode runs it
    ("neptune-graph", "ExecuteQuery"): _each(_destroys, "queryString"),
    ("neptunedata", "ExecuteFastReset"): _each(_equals("PERFORMDATABASERESET"), "action"),
    ("cloudfront-keyvaluestore", "UpdateKeys"): _each(_nonempty, "Deletes"),
    ("cognito-sync", "UpdateRecords"): _each(_equals("REMOVE"), "RecordPatches.*.Op"),
    ("codecommit", "CreateCommit"): _each(_nonempty, "deleteFiles"),
    ("ec2", "CreateReplaceRootVolumeTask"): _each(_true, "DeleteReplacedRootVolume"),
    ("elasticache", "StartMigration"): _each(_true, "ClearTargetCacheData"),
    ("elasticache", "CompleteMigration"): _each(_true, "Force"),  # stops without the data in sync
    ("elasticache", "ModifyCacheCluster"): _each(_nonempty, "CacheNodeIdsToRemove"),
    ("elasticache", "ModifyReplicationGroupShardConfiguration"): _each(
        _nonempty, "NodeGroupsToRemove", "NodeGroupsToRetain"
    ),
    ("iotsitewise", "CreateBulkImportJob"): _each(_true, "deleteFilesAfterImport"),
    ("glue", "StartImportLabelsTaskRun"): _each(_true, "ReplaceAllLabels"),
    ("batch", "UpdateComputeEnvironment"): _each(_true, "updatePolicy.terminateJobsOnUpdate"),
    ("iot", "UpdateSecurityProfile"): _each(
        _true, "deleteBehaviors", "deleteAlertTargets", "deleteAdditionalMetricsToRetain", "deleteMetricsExportConfig"
    ),
    ("athena", "UpdateWorkGroup"): _each(  # Athena then deletes the workgroup's stored query results
        _true, "ConfigurationUpdates.ManagedQueryResultsConfigurationUpdates.RemoveEncryptionConfiguration"
    ),
    ("medialive", "BatchUpdateSchedule"): _each(_nonempty, "Deletes.ActionNames"),
    ("sagemaker", "UpdateCluster"): _each(_nonempty, "InstanceGroupsToDelete"),
    ("ssm-incidents", "UpdateReplicationSet"): _each(_present, "actions.*.deleteRegionAction"),
    ("datazone", "CreateListingChangeSet"): _each(_equals("UNPUBLISH"), "action"),
    # Changes that replace the access policy in force (as SetDefaultPolicyVersion and PutBucketPolicy do).
    ("iam", "CreatePolicyVersion"): _each(_true, "SetAsDefault"),
    ("iot", "CreatePolicyVersion"): _each(_true, "setAsDefault"),
    ("ram", "AssociateResourceSharePermission"): _each(_true, "replace"),
    ("ec2", "ModifyVpcEndpoint"): ParamRule(
        (_true, "ResetPolicy"),
        (_nonempty, "PolicyDocument"),
        (_nonempty, "RemoveRouteTableIds"),
        (_nonempty, "RemoveSubnetIds"),
        (_nonempty, "RemoveSecurityGroupIds"),
    ),
    # Changes that take access away: revoked permissions, unshared snapshots and documents, removed principals,
    # users, roles, keys, certificates, routes and subnets (as Revoke*, Unshare*, Detach* and Disassociate* do).
    **_REVOKED_PERMISSIONS,
    ("quicksight", "UpdateDashboardPermissions"): _each(_nonempty, "RevokePermissions", "RevokeLinkPermissions"),
    ("qapps", "UpdateQAppPermissions"): _each(_nonempty, "revokePermissions"),
    ("ec2", "ModifySnapshotAttribute"): ParamRule(
        (_nonempty, "CreateVolumePermission.Remove"), (_equals("REMOVE"), "OperationType")
    ),
    ("ec2", "ModifyImageAttribute"): ParamRule(
        (_nonempty, "LaunchPermission.Remove"), (_equals("REMOVE"), "OperationType")
    ),
    ("rds", "ModifyDBSnapshotAttribute"): _each(_nonempty, "ValuesToRemove"),
    ("rds", "ModifyDBClusterSnapshotAttribute"): _each(_nonempty, "ValuesToRemove"),
    ("docdb", "ModifyDBClusterSnapshotAttribute"): _each(_nonempty, "ValuesToRemove"),
    ("neptune", "ModifyDBClusterSnapshotAttribute"): _each(_nonempty, "ValuesToRemove"),
    ("ssm", "ModifyDocumentPermission"): _each(_nonempty, "AccountIdsToRemove"),
    ("ec2", "ModifyVpcEndpointServicePermissions"): _each(_nonempty, "RemoveAllowedPrincipals"),
    ("ec2", "ModifyVpcEndpointServiceConfiguration"): _each(
        _nonempty,
        "RemoveNetworkLoadBalancerArns",
        "RemoveGatewayLoadBalancerArns",
        "RemoveSupportedIpAddressTypes",
        "RemoveSupportedRegions",
    ),
    ("ec2", "ModifyManagedPrefixList"): _each(_nonempty, "RemoveEntries"),
    ("ec2", "ModifyTransitGatewayVpcAttachment"): _each(_nonempty, "RemoveSubnetIds"),
    ("networkmanager", "UpdateVpcAttachment"): _each(_nonempty, "RemoveSubnetArns"),
    ("opensearchserverless", "UpdateVpcEndpoint"): _each(_nonempty, "removeSubnetIds", "removeSecurityGroupIds"),
    ("directconnect", "UpdateDirectConnectGatewayAssociation"): _each(
        _nonempty, "removeAllowedPrefixesToDirectConnectGateway"
    ),
    ("globalaccelerator", "UpdateCrossAccountAttachment"): _each(_nonempty, "RemovePrincipals", "RemoveResources"),
    ("chime-sdk-voice", "AssociatePhoneNumbersWithVoiceConnector"): _each(_true, "ForceAssociate"),
    ("chime-sdk-voice", "AssociatePhoneNumbersWithVoiceConnectorGroup"): _each(_true, "ForceAssociate"),
    ("elasticache", "ModifyUserGroup"): _each(_nonempty, "UserIdsToRemove"),
    ("elasticache", "ModifyReplicationGroup"): ParamRule(
        (_true, "RemoveUserGroups"), (_nonempty, "UserGroupIdsToRemove")
    ),
    ("elasticache", "ModifyServerlessCache"): _each(_true, "RemoveUserGroup"),
    ("memorydb", "UpdateACL"): _each(_nonempty, "UserNamesToRemove"),
    ("redshift", "ModifyClusterIamRoles"): _each(_nonempty, "RemoveIamRoles"),
    ("glue", "UpdateDevEndpoint"): _each(_nonempty, "DeletePublicKeys"),
    ("lakeformation", "UpdateLFTag"): _each(_nonempty, "TagValuesToDelete"),  # grants made on those values go
    ("codeartifact", "UpdatePackageGroupOriginConfiguration"): _each(_nonempty, "removeAllowedRepositories"),
    ("ssm-sap", "UpdateApplicationSettings"): _each(_nonempty, "CredentialsToRemove"),
    ("workspaces-web", "UpdateTrustStore"): _each(_nonempty, "certificatesToDelete"),
}
"""Writes that become destructive when their arguments remove something (see step 4 of the module docstring)."""


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
