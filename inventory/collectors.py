"""Collectors: how each kind of inventoried resource is listed in one account and region.

A collector is blocking botocore work and nothing else: the fan-out calls it from a worker thread with a
`CollectContext` whose `client(service)` is already bound to the target account and region (the guard and the
metrics are applied there), and classifies whatever botocore raises. Every operation a collector may call is in
its `operations` (all reads: the guard checks them, and the target role's policy needs them).

The core collectors list one type each, with its tags and a few properties an SRE filters on (never a secret: no
Lambda environment, no secret value). `tagged` lists everything else the Resource Groups Tagging API knows in the
region, skipping the core types so that a resource lives in one partition only. `writes_to` tells write-through
which partitions one of our own writes may have changed.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from inventory.models import Resource

GLOBAL = "global"
TAGGED = "tagged"


class Truncated(Exception):
    """More than `max_items` resources: `resources` holds the first `max_items` of them."""

    def __init__(self, resources: list[Resource]) -> None:
        super().__init__(f"more than {len(resources)} resources")
        self.resources = resources


@dataclass
class CollectContext:
    account: str
    region: str  # "global" for a global collector (its client is bound to the account's default region)
    client: Callable[[str], BaseClient]  # client(service)
    max_items: int  # stop (raise Truncated) past this many resources


@dataclass(frozen=True)
class Collector:
    type: str  # the partition type, e.g. "ec2:instance"; "tagged" for the tagging API
    service: str  # botocore service name, for region availability and the guard
    operations: tuple[str, ...]  # every operation it calls
    scope: Literal["regional", "global"]  # global: collected once per account, as region "global"
    collect: Callable[[CollectContext], list[Resource]]


Produce = Callable[[CollectContext, BaseClient], Iterator[Resource]]


def _bounded(service: str, produce: Produce) -> Callable[[CollectContext], list[Resource]]:
    """`produce`'s resources as a list, or Truncated once one more than `max_items` comes.

    Producers are generators, so per-resource calls (tags, bucket regions) stop with the listing.
    """

    def collect(context: CollectContext) -> list[Resource]:
        resources: list[Resource] = []
        produced = produce(context, context.client(service))
        try:
            for resource in produced:
                if len(resources) >= context.max_items:
                    raise Truncated(resources)
                resources.append(resource)
        finally:
            produced.close()
        return resources

    collect.__doc__ = produce.__doc__
    return collect


# --- helpers -------------------------------------------------------------------------------------------------


def _items(client: BaseClient, operation: str, expression: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item `expression` (JMESPath) selects, across the pages of botocore's paginator."""
    for item in client.get_paginator(operation).paginate(**params).search(expression):
        if item is not None:
            yield item


def _tags(pairs: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as a dict."""
    return {pair["Key"]: pair.get("Value", "") for pair in pairs or ()}


def _properties(**values: Any) -> dict[str, Any]:
    """The properties worth keeping: no None or empty string; timestamps as ISO 8601 text."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
        if value is not None and value != ""
    }


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _ec2_arn(client: BaseClient, context: CollectContext, owner: str | None, kind: str, resource_id: str) -> str:
    """EC2 responses carry ids, not ARNs; `owner` is the OwnerId (another account's for a shared VPC)."""
    return f"arn:{client.meta.partition}:ec2:{context.region}:{owner or context.account}:{kind}/{resource_id}"


# --- EC2 ---------------------------------------------------------------------------------------------------------

_LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


def ec2_instances(context: CollectContext, ec2: BaseClient) -> Iterator[Resource]:
    """EC2 instances (DescribeInstances), terminated ones left out (AWS shows them for an hour or so).
    Tags from the listing; the name is the Name tag."""
    filters = [{"Name": "instance-state-name", "Values": _LIVE_INSTANCE_STATES}]
    for reservation in _items(ec2, "describe_instances", "Reservations[]", Filters=filters):
        for instance in reservation.get("Instances", []):
            tags = _tags(instance.get("Tags"))
            yield Resource(
                arn=_ec2_arn(ec2, context, reservation.get("OwnerId"), "instance", instance["InstanceId"]),
                account=context.account,
                region=context.region,
                service="ec2",
                type="ec2:instance",
                name=tags.get("Name"),
                tags=tags,
                properties=_instance_properties(instance),
            )


def _instance_properties(instance: Mapping[str, Any]) -> dict[str, Any]:
    return _properties(
        state=instance.get("State", {}).get("Name"),
        instance_type=instance.get("InstanceType"),
        image_id=instance.get("ImageId"),
        vpc_id=instance.get("VpcId"),
        subnet_id=instance.get("SubnetId"),
        availability_zone=instance.get("Placement", {}).get("AvailabilityZone"),
        private_ip=instance.get("PrivateIpAddress"),
        public_ip=instance.get("PublicIpAddress"),
        security_groups=[group["GroupId"] for group in instance.get("SecurityGroups", [])],
        key_name=instance.get("KeyName"),
        instance_profile=instance.get("IamInstanceProfile", {}).get("Arn"),
        platform=instance.get("PlatformDetails"),
        lifecycle=instance.get("InstanceLifecycle"),  # "spot" or "capacity-block"; absent: on-demand
        launch_time=instance.get("LaunchTime"),
    )


def ebs_volumes(context: CollectContext, ec2: BaseClient) -> Iterator[Resource]:
    """EBS volumes (DescribeVolumes). Tags from the listing; the name is the Name tag."""
    for volume in _items(ec2, "describe_volumes", "Volumes"):
        tags = _tags(volume.get("Tags"))
        yield Resource(
            arn=_ec2_arn(ec2, context, None, "volume", volume["VolumeId"]),
            account=context.account,
            region=context.region,
            service="ec2",
            type="ec2:volume",
            name=tags.get("Name"),
            tags=tags,
            properties=_properties(
                state=volume.get("State"),
                size_gib=volume.get("Size"),
                volume_type=volume.get("VolumeType"),
                iops=volume.get("Iops"),
                availability_zone=volume.get("AvailabilityZone"),
                encrypted=volume.get("Encrypted"),
                kms_key_id=volume.get("KmsKeyId"),
                snapshot_id=volume.get("SnapshotId"),
                attached_to=[attachment["InstanceId"] for attachment in volume.get("Attachments", [])],
                created=volume.get("CreateTime"),
            ),
        )


def security_groups(context: CollectContext, ec2: BaseClient) -> Iterator[Resource]:
    """Security groups (DescribeSecurityGroups). Tags from the listing; the name is the group name."""
    for group in _items(ec2, "describe_security_groups", "SecurityGroups"):
        yield Resource(
            arn=_ec2_arn(ec2, context, group.get("OwnerId"), "security-group", group["GroupId"]),
            account=context.account,
            region=context.region,
            service="ec2",
            type="ec2:security-group",
            name=group.get("GroupName"),
            tags=_tags(group.get("Tags")),
            properties=_properties(
                vpc_id=group.get("VpcId"),
                description=group.get("Description"),
                ingress_rules=len(group.get("IpPermissions", [])),
                egress_rules=len(group.get("IpPermissionsEgress", [])),
                open_to_world=_open_to_world(group.get("IpPermissions", [])),
            ),
        )


_ANYWHERE = ("0.0.0.0/0", "::/0")


def _open_to_world(permissions: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ingress rules any address may use, as "tcp/22", "udp/1000-2000" or "all"."""
    opened = []
    for rule in permissions:
        sources = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        sources += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        if not any(source in _ANYWHERE for source in sources):
            continue
        protocol = rule.get("IpProtocol", "-1")
        low, high = rule.get("FromPort"), rule.get("ToPort")
        if protocol == "-1":
            opened.append("all")
        elif low is None or (low, high) in ((-1, -1), (0, 65535)):
            opened.append(protocol)
        else:
            opened.append(f"{protocol}/{low}" if low == high else f"{protocol}/{low}-{high}")
    return sorted(set(opened))


def vpcs(context: CollectContext, ec2: BaseClient) -> Iterator[Resource]:
    """VPCs (DescribeVpcs), shared ones included (their ARN names the owner). Tags from the listing; the name is
    the Name tag."""
    for vpc in _items(ec2, "describe_vpcs", "Vpcs"):
        tags = _tags(vpc.get("Tags"))
        yield Resource(
            arn=_ec2_arn(ec2, context, vpc.get("OwnerId"), "vpc", vpc["VpcId"]),
            account=context.account,
            region=context.region,
            service="ec2",
            type="ec2:vpc",
            name=tags.get("Name"),
            tags=tags,
            properties=_properties(
                state=vpc.get("State"),
                cidr_block=vpc.get("CidrBlock"),
                is_default=vpc.get("IsDefault"),
                owner_id=vpc.get("OwnerId") if vpc.get("OwnerId") != context.account else None,
            ),
        )


# --- S3 ----------------------------------------------------------------------------------------------------------


def s3_buckets(context: CollectContext, s3: BaseClient) -> Iterator[Resource]:
    """Every bucket of the account (ListBuckets, whatever the client's region: a global collector), each in its
    own region: ListBuckets' BucketRegion, else GetBucketLocation. Tags: GetBucketTagging per bucket (none:
    NoSuchTagSet; botocore follows the redirect to a bucket in another region). A bucket deleted since the
    listing is left out."""
    for bucket in _items(s3, "list_buckets", "Buckets"):
        name = bucket["Name"]
        try:
            region = bucket.get("BucketRegion") or _bucket_region(s3, name)
            tags = _bucket_tags(s3, name)
        except ClientError as error:
            if _error_code(error) == "NoSuchBucket":
                continue
            raise
        yield Resource(
            arn=f"arn:{s3.meta.partition}:s3:::{name}",
            account=context.account,
            region=region,
            service="s3",
            type="s3:bucket",
            name=name,
            tags=tags,
            properties=_properties(created=bucket.get("CreationDate")),
        )


def _bucket_region(s3: BaseClient, bucket: str) -> str:
    """GetBucketLocation's answer as a region name: no constraint is us-east-1, and "EU" is eu-west-1."""
    constraint = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def _bucket_tags(s3: BaseClient, bucket: str) -> dict[str, str]:
    try:
        return _tags(s3.get_bucket_tagging(Bucket=bucket).get("TagSet"))
    except ClientError as error:
        if _error_code(error) == "NoSuchTagSet":
            return {}
        raise


# --- Lambda, RDS, Secrets Manager --------------------------------------------------------------------------------


def lambda_functions(context: CollectContext, lambda_: BaseClient) -> Iterator[Resource]:
    """Lambda functions (ListFunctions; never their environment, which holds secrets). Tags: ListTags per
    function, as the listing has none."""
    for function in _items(lambda_, "list_functions", "Functions"):
        arn = function["FunctionArn"]
        yield Resource(
            arn=arn,
            account=context.account,
            region=context.region,
            service="lambda",
            type="lambda:function",
            name=function.get("FunctionName"),
            tags=dict(lambda_.list_tags(Resource=arn).get("Tags", {})),
            properties=_properties(
                runtime=function.get("Runtime"),
                handler=function.get("Handler"),
                package_type=function.get("PackageType"),
                architectures=function.get("Architectures"),
                memory_mb=function.get("MemorySize"),
                timeout_s=function.get("Timeout"),
                role=function.get("Role"),
                vpc_id=function.get("VpcConfig", {}).get("VpcId"),
                state=function.get("State"),
                last_modified=function.get("LastModified"),
            ),
        )


def rds_instances(context: CollectContext, rds: BaseClient) -> Iterator[Resource]:
    """RDS DB instances (DescribeDBInstances; Aurora members, Neptune and DocumentDB instances too: `engine`
    tells). Tags from the listing's TagList; the name is the instance identifier."""
    for instance in _items(rds, "describe_db_instances", "DBInstances"):
        yield Resource(
            arn=instance["DBInstanceArn"],
            account=context.account,
            region=context.region,
            service="rds",
            type="rds:db",
            name=instance.get("DBInstanceIdentifier"),
            tags=_tags(instance.get("TagList")),
            properties=_properties(
                status=instance.get("DBInstanceStatus"),
                engine=instance.get("Engine"),
                engine_version=instance.get("EngineVersion"),
                instance_class=instance.get("DBInstanceClass"),
                multi_az=instance.get("MultiAZ"),
                storage_gib=instance.get("AllocatedStorage"),
                storage_encrypted=instance.get("StorageEncrypted"),
                publicly_accessible=instance.get("PubliclyAccessible"),
                endpoint=(instance.get("Endpoint") or {}).get("Address"),
                vpc_id=(instance.get("DBSubnetGroup") or {}).get("VpcId"),
                security_groups=[g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])],
                availability_zone=instance.get("AvailabilityZone"),
                cluster=instance.get("DBClusterIdentifier"),
                replica_of=instance.get("ReadReplicaSourceDBInstanceIdentifier"),
            ),
        )


def secrets(context: CollectContext, secretsmanager: BaseClient) -> Iterator[Resource]:
    """Secrets Manager secrets: metadata from ListSecrets only (never a value). Tags from the listing."""
    for secret in _items(secretsmanager, "list_secrets", "SecretList"):
        yield Resource(
            arn=secret["ARN"],
            account=context.account,
            region=context.region,
            service="secretsmanager",
            type="secretsmanager:secret",
            name=secret.get("Name"),
            tags=_tags(secret.get("Tags")),
            properties=_properties(
                description=secret.get("Description"),
                kms_key_id=secret.get("KmsKeyId"),
                rotation_enabled=secret.get("RotationEnabled", False),
                rotation_lambda=secret.get("RotationLambdaARN"),
                owning_service=secret.get("OwningService"),
                primary_region=secret.get("PrimaryRegion"),
                created=secret.get("CreatedDate"),
                last_changed=secret.get("LastChangedDate"),
                last_rotated=secret.get("LastRotatedDate"),
                last_accessed=secret.get("LastAccessedDate"),
            ),
        )


# --- global: IAM roles, Route53 hosted zones ---------------------------------------------------------------------


def iam_roles(context: CollectContext, iam: BaseClient) -> Iterator[Resource]:
    """IAM roles (ListRoles; global). Tags: ListRoleTags per role, as ListRoles leaves them out and the tagging
    API does not cover IAM. `trusted` lists the principals the trust policy names."""
    for role in _items(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        yield Resource(
            arn=role["Arn"],
            account=context.account,
            region=GLOBAL,
            service="iam",
            type="iam:role",
            name=name,
            tags=_tags(_items(iam, "list_role_tags", "Tags", RoleName=name)),
            properties=_properties(
                path=role.get("Path"),
                description=role.get("Description"),
                max_session_s=role.get("MaxSessionDuration"),
                trusted=_trusted_principals(role.get("AssumeRolePolicyDocument")),
                created=role.get("CreateDate"),
            ),
        )


def _trusted_principals(document: Any) -> list[str]:
    """Every principal an Allow statement names: account or role ARNs, services, federated providers, "*".

    botocore decodes IAM policy documents into dicts; anything else (a document it could not decode) gives [].
    """
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    principals: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        values = principal.values() if isinstance(principal, Mapping) else [principal]
        for value in values:
            principals.update([value] if isinstance(value, str) else value)
    return sorted(principals)


def hosted_zones(context: CollectContext, route53: BaseClient) -> Iterator[Resource]:
    """Route53 hosted zones (ListHostedZones; global). Tags: ListTagsForResources, ten zones a call."""
    for page in route53.get_paginator("list_hosted_zones").paginate():
        zones = page.get("HostedZones", [])
        for start in range(0, len(zones), 10):
            batch = zones[start : start + 10]
            tags = _zone_tags(route53, [_zone_id(zone) for zone in batch])
            for zone in batch:
                yield _zone(context, route53, zone, tags.get(_zone_id(zone), {}))


def _zone_id(zone: Mapping[str, Any]) -> str:
    return zone["Id"].rsplit("/", 1)[-1]  # "/hostedzone/Z123" → "Z123"


def _zone_tags(route53: BaseClient, zone_ids: list[str]) -> dict[str, dict[str, str]]:
    answer = route53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=zone_ids)
    return {tag_set["ResourceId"]: _tags(tag_set.get("Tags")) for tag_set in answer.get("ResourceTagSets", [])}


def _zone(context: CollectContext, route53: BaseClient, zone: Mapping[str, Any], tags: dict[str, str]) -> Resource:
    config = zone.get("Config", {})
    return Resource(
        arn=f"arn:{route53.meta.partition}:route53:::hostedzone/{_zone_id(zone)}",
        account=context.account,
        region=GLOBAL,
        service="route53",
        type="route53:hostedzone",
        name=zone.get("Name"),
        tags=tags,
        properties=_properties(
            private=config.get("PrivateZone", False),
            record_count=zone.get("ResourceRecordSetCount"),
            comment=config.get("Comment"),
        ),
    )


# --- the tagging API ---------------------------------------------------------------------------------------------


def tagged_resources(context: CollectContext, tagging: BaseClient) -> Iterator[Resource]:
    """Everything the Resource Groups Tagging API lists in the region (GetResources: tagged, or once tagged),
    except the core collectors' types. Service and type come from the ARN (`arn_type`); the name is the Name
    tag, else the ARN's resource id; no properties. A resource with no region in its ARN (CloudFront, listed
    from us-east-1) is "global"."""
    for mapping in _items(tagging, "get_resources", "ResourceTagMappingList"):
        arn = mapping["ResourceARN"]
        service, type_ = arn_type(arn)
        if type_ in CORE_TYPES:
            continue
        tags = _tags(mapping.get("Tags"))
        yield Resource(
            arn=arn,
            account=context.account,
            region=arn.split(":")[3] or GLOBAL,
            service=service,
            type=type_,
            name=tags.get("Name") or _split_resource(arn)[2],
            tags=tags,
        )


# Services whose ARNs may hold only the resource's name: the type they name.
_BARE_NAME_TYPES = {"sqs": "queue", "sns": "topic", "s3": "bucket", "codecommit": "repository"}


def arn_type(arn: str) -> tuple[str, str]:
    """(service, "<service>:<type>") of an ARN, the type as the ARN spells it.

    "arn:aws:ec2:r:a:instance/i-1" → ("ec2", "ec2:instance"); "...:function:name:alias" → "lambda:function";
    bare names by service ("arn:aws:sqs:r:a:q" → "sqs:queue", "arn:aws:s3:::b" → "s3:bucket", an SNS topic's
    subscription → "sns:subscription"); API Gateway paths ("::/restapis/id/stages/prod") → their last
    collection ("apigateway:stages"). ValueError for a string that is not an ARN.
    """
    service, type_, _ = _split_resource(arn)
    return service, f"{service}:{type_}"


def _split_resource(arn: str) -> tuple[str, str, str]:
    """(service, type, id) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
        raise ValueError(f"not an ARN: {arn!r}")
    service, account, resource = parts[2], parts[4], parts[5]
    if resource.startswith("/"):
        segments = resource.strip("/").split("/")
        return service, segments[-2] if len(segments) > 1 else segments[0], resource
    if service == "s3" and not account:  # "bucket" or "bucket/key"; access points and jobs carry an account
        return service, "object" if "/" in resource else "bucket", resource
    if service == "sns" and "/" not in resource:  # "topic" or "topic:subscription-id"
        return service, "subscription" if ":" in resource else "topic", resource
    cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return service, _BARE_NAME_TYPES.get(service, "resource"), resource
    return service, resource[:cut], resource[cut + 1 :]


# --- the table ---------------------------------------------------------------------------------------------------


def _collector(
    type_: str,
    service: str,
    operations: tuple[str, ...],
    produce: Produce,
    scope: Literal["regional", "global"] = "regional",
) -> Collector:
    return Collector(type_, service, operations, scope, _bounded(service, produce))


_CORE = (
    _collector("ec2:instance", "ec2", ("DescribeInstances",), ec2_instances),
    _collector("ec2:volume", "ec2", ("DescribeVolumes",), ebs_volumes),
    _collector("ec2:security-group", "ec2", ("DescribeSecurityGroups",), security_groups),
    _collector("ec2:vpc", "ec2", ("DescribeVpcs",), vpcs),
    _collector("s3:bucket", "s3", ("ListBuckets", "GetBucketLocation", "GetBucketTagging"), s3_buckets, "global"),
    _collector("lambda:function", "lambda", ("ListFunctions", "ListTags"), lambda_functions),
    _collector("rds:db", "rds", ("DescribeDBInstances",), rds_instances),
    _collector("iam:role", "iam", ("ListRoles", "ListRoleTags"), iam_roles, "global"),
    _collector("route53:hostedzone", "route53", ("ListHostedZones", "ListTagsForResources"), hosted_zones, "global"),
    _collector("secretsmanager:secret", "secretsmanager", ("ListSecrets",), secrets),
)
CORE_TYPES = frozenset(collector.type for collector in _CORE)
COLLECTORS: dict[str, Collector] = {
    collector.type: collector
    for collector in (*_CORE, _collector(TAGGED, "resourcegroupstaggingapi", ("GetResources",), tagged_resources))
}


# --- write-through -----------------------------------------------------------------------------------------------

_INSTANCE, _VOLUME, _GROUP, _VPC = "ec2:instance", "ec2:volume", "ec2:security-group", "ec2:vpc"
_WRITES: dict[str, dict[str, tuple[str, ...]]] = {
    "ec2": {
        "RunInstances": (_INSTANCE, _VOLUME),  # root and mapped volumes come with the instance
        "TerminateInstances": (_INSTANCE, _VOLUME),  # and go with it (DeleteOnTermination)
        "StartInstances": (_INSTANCE,),
        "StopInstances": (_INSTANCE,),
        "ModifyInstanceAttribute": (_INSTANCE,),
        "AssociateAddress": (_INSTANCE,),
        "DisassociateAddress": (_INSTANCE,),
        "CreateVolume": (_VOLUME,),
        "DeleteVolume": (_VOLUME,),
        "ModifyVolume": (_VOLUME,),
        "AttachVolume": (_VOLUME,),
        "DetachVolume": (_VOLUME,),
        "CreateSecurityGroup": (_GROUP,),
        "DeleteSecurityGroup": (_GROUP,),
        "AuthorizeSecurityGroupIngress": (_GROUP,),
        "AuthorizeSecurityGroupEgress": (_GROUP,),
        "RevokeSecurityGroupIngress": (_GROUP,),
        "RevokeSecurityGroupEgress": (_GROUP,),
        "ModifySecurityGroupRules": (_GROUP,),
        "CreateVpc": (_VPC, _GROUP),  # a VPC comes with its default security group
        "CreateDefaultVpc": (_VPC, _GROUP),
        "DeleteVpc": (_VPC, _GROUP),
    },
    "s3": {
        name: ("s3:bucket",) for name in ("CreateBucket", "DeleteBucket", "PutBucketTagging", "DeleteBucketTagging")
    },
    "lambda": {
        name: ("lambda:function",)
        for name in ("CreateFunction", "DeleteFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration")
    },
    "rds": {
        name: ("rds:db",)
        for name in (
            "CreateDBInstance",
            "CreateDBInstanceReadReplica",
            "DeleteDBInstance",
            "ModifyDBInstance",
            "StartDBInstance",
            "StopDBInstance",
            "RebootDBInstance",
            "PromoteReadReplica",
            "RestoreDBInstanceFromDBSnapshot",
            "RestoreDBInstanceFromS3",
            "RestoreDBInstanceToPointInTime",
        )
    },
    "iam": {
        name: ("iam:role",)
        for name in (
            "CreateRole",
            "DeleteRole",
            "UpdateRole",
            "UpdateRoleDescription",
            "UpdateAssumeRolePolicy",
            "TagRole",
            "UntagRole",
        )
    },
    "route53": {
        name: ("route53:hostedzone",)
        for name in ("CreateHostedZone", "DeleteHostedZone", "UpdateHostedZoneComment", "ChangeResourceRecordSets")
    },
    "secretsmanager": {
        name: ("secretsmanager:secret",)
        for name in (
            "CreateSecret",
            "DeleteSecret",
            "RestoreSecret",
            "UpdateSecret",
            "PutSecretValue",
            "RotateSecret",
            "CancelRotateSecret",
            "TagResource",
            "UntagResource",
            "ReplicateSecretToRegions",
            "RemoveRegionsFromReplication",
        )
    },
}
# Services with nothing in the tagging API's partition (S3 objects, IAM users and policies are not listed there).
_OUTSIDE_TAGGING_API = frozenset({"s3", "iam", "sts"})
_TAG_VERBS = ("Tag", "Untag", "AddTags", "RemoveTags")
_TAG_PARAMS = ("Tags", "TagSpecifications", "TagList", "tags")
# Deletes of data, not of resources: frequent, and nothing the tagging API lists goes with them.
_DATA_DELETES = frozenset(
    {
        ("sqs", "DeleteMessage"),
        ("sqs", "DeleteMessageBatch"),
        ("dynamodb", "DeleteItem"),
        ("logs", "DeleteLogStream"),
    }
)
_EC2_ID_TYPES = {"i": _INSTANCE, "vol": _VOLUME, "sg": _GROUP, "vpc": _VPC}


def _arn_partitions(arns: Iterable[str]) -> list[str]:
    """The partition each ARN lives in: its core type, else the tagging API's."""
    partitions = []
    for arn in arns:
        try:
            type_ = arn_type(arn)[1]
        except ValueError:
            type_ = TAGGED
        partitions.append(type_ if type_ in CORE_TYPES else TAGGED)
    return partitions


def _ec2_tag_targets(params: Mapping[str, Any]) -> list[str]:
    """CreateTags/DeleteTags name resources by id: "i-…", "vol-…", "sg-…", "vpc-…", or another EC2 type's."""
    return [_EC2_ID_TYPES.get(str(rid).split("-", 1)[0], TAGGED) for rid in params.get("Resources", [])]


_BY_PARAMS: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]] = {
    ("ec2", "CreateTags"): _ec2_tag_targets,
    ("ec2", "DeleteTags"): _ec2_tag_targets,
    ("lambda", "TagResource"): lambda p: _arn_partitions([p.get("Resource", "")]),
    ("lambda", "UntagResource"): lambda p: _arn_partitions([p.get("Resource", "")]),
    ("rds", "AddTagsToResource"): lambda p: _arn_partitions([p.get("ResourceName", "")]),
    ("rds", "RemoveTagsFromResource"): lambda p: _arn_partitions([p.get("ResourceName", "")]),
    ("route53", "ChangeTagsForResource"): lambda p: [
        "route53:hostedzone" if p.get("ResourceType") == "hostedzone" else TAGGED
    ],
    ("resourcegroupstaggingapi", "TagResources"): lambda p: _arn_partitions(p.get("ResourceARNList", [])),
    ("resourcegroupstaggingapi", "UntagResources"): lambda p: _arn_partitions(p.get("ResourceARNList", [])),
}


def writes_to(service: str, operation: str, params: Mapping[str, Any], response: Any) -> list[str] | None:
    """The collector types one of our own successful writes may have changed (sorted), or None for a write that
    touches nothing inventoried. Botocore names: ("ec2", "RunInstances", ...).

    The table covers the core types' writes; any other write (the core services' other resources included:
    subnets, snapshots, DB clusters...) names "tagged" when it may have changed what the tagging API lists
    (`_may_change_tagged`): refreshing a partition for nothing costs one listing, missing a change leaves it
    stale until the next refresh. `response` is not read yet: the signature lets an entry look at what a call
    created.
    """
    by_params = _BY_PARAMS.get((service, operation))
    if by_params is not None:
        types: Iterable[str] = by_params(params)
    elif operation in _WRITES.get(service, {}):
        types = _WRITES[service][operation]
    elif _may_change_tagged(service, operation, params):
        types = (TAGGED,)
    else:
        return None
    return sorted(set(types)) or None


def _may_change_tagged(service: str, operation: str, params: Mapping[str, Any]) -> bool:
    """Whether a write may change the tagging API's listing, which holds tagged (or once tagged) resources only:
    a tag call; a call that passes tags (an untagged creation is not listed); a delete, but of a resource
    rather than of data (`_DATA_DELETES`)."""
    if service in _OUTSIDE_TAGGING_API:
        return False
    if operation.startswith(_TAG_VERBS) or any(params.get(key) for key in _TAG_PARAMS):
        return True
    return operation.startswith("Delete") and (service, operation) not in _DATA_DELETES
