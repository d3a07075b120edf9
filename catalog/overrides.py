"""The operations whose names lie about their class, found by the method in catalog/classify.py's docstring:
one table per rule, each (service, operation) pair with the class it really has."""

from collections.abc import Mapping


def ops_by_service(by_service: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """(service, operation) pairs from a table of space-separated operation names per service."""
    return frozenset((service, op) for service, ops in by_service.items() for op in ops.split())


READS = ops_by_service(
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

SENSITIVE = ops_by_service(
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

CREDENTIAL_MINTING = ops_by_service(
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

RUNS_CODE_OR_QUERIES = ops_by_service(
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

STATE_CHANGING_READ_NAMES = ops_by_service(
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

DESTRUCTIVE = ops_by_service(
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
    "AWS documents that the value is redacted, not returned, or not supported": ops_by_service(
        {
            "appstream": "DescribeDirectoryConfigs",
            "datasync": "DescribeLocationFsxOntap DescribeLocationFsxOpenZfs",
            "fsx": "DescribeBackups DescribeFileSystems DescribeSnapshots DescribeVolumes",
            "neptune": "DescribeDBInstances",
        }
    ),
    "a pending master password comes back masked as ****": ops_by_service(
        {
            "docdb": "DescribeDBInstances",
            "rds": "DescribeDBClusters DescribeDBInstances DescribeTenantDatabases",
            "redshift": "DescribeClusters",
        }
    ),
    "AWS never returns a listener's OIDC client secret; clients carry it forward themselves": ops_by_service(
        {"elbv2": "DescribeListeners DescribeRules"}
    ),
    "the member holds a reference to the secret, not the secret": ops_by_service(
        {
            "appmesh": "DescribeVirtualGateway DescribeVirtualNode",  # privateKey: a file path on the proxy
            "iot": "GetTopicRuleDestination ListTopicRuleDestinations",  # secretKey: a JSON key inside the secret
            "taxsettings": "GetTaxRegistration ListTaxRegistrations",  # locates a document behind another IAM call
        }
    ),
    "not a credential": ops_by_service(
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
    "the expiry belongs to a stored key or token that another call created": ops_by_service(
        {"location": "DescribeKey", "route53globalresolver": "GetAccessToken"}
    ),
    "the ttl is the branch's cache lifetime, not the credential's": ops_by_service(
        {"amplify": "GetBranch ListBranches"}
    ),
}
"""Sensitive reads whose credential sits beside an expiry that does not make the call a minting one. Data only."""
