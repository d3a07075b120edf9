"""Writes that become destructive for some arguments (step 4 of catalog/classify.py's method): declarative
rules over paths into the call's parameters."""

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from catalog.overrides import ops_by_service


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
    for key in ops_by_service(
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
