"""Inventory collectors against moto: resources seeded from outside (the `aws` fixture), each collector run with
plain botocore clients bound to the account and region, as the fan-out binds them."""

import io
import json
import zipfile

import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.stub import Stubber

from catalog.classify import OpClass, classify
from catalog.models import data_loader
from inventory.collectors import COLLECTORS, CORE_TYPES, CollectContext, Truncated, arn_type, writes_to
from inventory.models import Resource
from sandbox import DEFAULT_ACCOUNT, PROD_ACCOUNT
from tests.conftest import Account

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def collect(account: Account, type_: str, region: str = "us-east-1", max_items: int = 1000) -> dict[str, Resource]:
    """One collector's resources by ARN; a global collector runs as region "global" on a us-east-1 client."""
    collector = COLLECTORS[type_]
    clients: dict[str, BaseClient] = {}

    def client(service: str) -> BaseClient:
        if service not in clients:
            clients[service] = account.client(service, region)
        return clients[service]

    scope_region = "global" if collector.scope == "global" else region
    resources = collector.collect(CollectContext(account.id, scope_region, client, max_items))
    return {resource.arn: resource for resource in resources}


def named(resources: dict[str, Resource], name: str) -> Resource:
    (resource,) = [r for r in resources.values() if r.name == name]
    return resource


AMI = "ami-12c6146b"  # one of moto's bundled images (listing them all takes seconds)


def tag_list(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


# --- EC2 -------------------------------------------------------------------------------------------------------


def test_instances_carry_arn_name_tags_and_what_an_sre_filters_on_and_terminated_ones_are_left_out(aws):
    ec2 = aws().client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    web = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(Name="web-1", team="sre")}],
    )["Instances"][0]["InstanceId"]
    bare = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    gone = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[gone])
    ec2.stop_instances(InstanceIds=[bare])

    instances = collect(aws(), "ec2:instance")

    prefix = f"arn:aws:ec2:us-east-1:{DEFAULT_ACCOUNT}:instance/"
    assert set(instances) == {prefix + web, prefix + bare}
    tagged = instances[prefix + web]
    assert (tagged.account, tagged.region, tagged.service, tagged.type) == (
        DEFAULT_ACCOUNT,
        "us-east-1",
        "ec2",
        "ec2:instance",
    )
    assert (tagged.name, tagged.tags) == ("web-1", {"Name": "web-1", "team": "sre"})
    assert {k: tagged.properties[k] for k in ("state", "instance_type", "image_id", "vpc_id", "subnet_id")} == {
        "state": "running",
        "instance_type": "t3.small",
        "image_id": AMI,
        "vpc_id": vpc_id,
        "subnet_id": subnet_id,
    }
    assert tagged.properties["security_groups"] == [group_id]
    assert tagged.properties["private_ip"].startswith("10.1.1.")
    assert isinstance(tagged.properties["launch_time"], str)  # ISO 8601: the properties are JSON
    json.dumps(tagged.properties)
    untagged = instances[prefix + bare]
    assert (untagged.name, untagged.tags, untagged.properties["state"]) == (None, {}, "stopped")


def test_volumes_security_groups_and_vpcs(aws):
    ec2 = aws().client("ec2")
    volume = ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=50,
        VolumeType="gp3",
        TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list(Name="data")}],
    )["VolumeId"]
    vpc_id = ec2.create_vpc(
        CidrBlock="10.2.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tag_list(Name="core")}]
    )["Vpc"]["VpcId"]
    group_id = ec2.create_security_group(GroupName="ssh", Description="bastion", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        ],
    )
    ec2.create_tags(Resources=[group_id], Tags=tag_list(owner="net"))

    volumes = collect(aws(), "ec2:volume")
    data = volumes[f"arn:aws:ec2:us-east-1:{DEFAULT_ACCOUNT}:volume/{volume}"]
    assert (data.name, data.type) == ("data", "ec2:volume")
    keys = ("state", "size_gib", "volume_type", "availability_zone", "encrypted", "attached_to")
    assert {key: data.properties[key] for key in keys} == {
        "state": "available",
        "size_gib": 50,
        "volume_type": "gp3",
        "availability_zone": "us-east-1a",
        "encrypted": False,
        "attached_to": [],
    }

    groups = collect(aws(), "ec2:security-group")
    ssh = groups[f"arn:aws:ec2:us-east-1:{DEFAULT_ACCOUNT}:security-group/{group_id}"]
    assert (ssh.name, ssh.tags) == ("ssh", {"owner": "net"})
    assert ssh.properties["vpc_id"] == vpc_id and ssh.properties["description"] == "bastion"
    assert ssh.properties["open_to_world"] == ["tcp/22"] and ssh.properties["ingress_rules"] == 2
    assert all(group.type == "ec2:security-group" for group in groups.values())

    vpcs = collect(aws(), "ec2:vpc")
    core = vpcs[f"arn:aws:ec2:us-east-1:{DEFAULT_ACCOUNT}:vpc/{vpc_id}"]
    assert (core.name, core.properties) == (
        "core",
        {"state": "available", "cidr_block": "10.2.0.0/16", "is_default": False},
    )
    assert any(vpc.properties["is_default"] for vpc in vpcs.values())  # moto's default VPC, untagged


# --- S3 and the global scope -----------------------------------------------------------------------------------


def test_buckets_are_global_each_in_its_own_region_with_tags_or_none(aws):
    aws().client("s3").create_bucket(Bucket="team-logs")
    aws().client("s3").put_bucket_tagging(Bucket="team-logs", Tagging={"TagSet": tag_list(team="sre")})
    aws().client("s3", "eu-west-1").create_bucket(
        Bucket="eu-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    assert COLLECTORS["s3:bucket"].scope == "global"
    buckets = collect(aws(), "s3:bucket")

    assert set(buckets) == {"arn:aws:s3:::team-logs", "arn:aws:s3:::eu-archive"}
    logs, archive = buckets["arn:aws:s3:::team-logs"], buckets["arn:aws:s3:::eu-archive"]
    assert (logs.name, logs.region, logs.tags, logs.type) == ("team-logs", "us-east-1", {"team": "sre"}, "s3:bucket")
    assert (archive.name, archive.region, archive.tags) == ("eu-archive", "eu-west-1", {})
    assert set(logs.properties) == {"created"}


def test_buckets_take_listbuckets_region_when_given_and_skip_one_deleted_since_the_listing():
    s3 = botocore.session.Session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIASTUB", aws_secret_access_key="stub"
    )
    listed = [
        {"Name": "gone-bucket", "BucketRegion": "us-east-1"},
        {"Name": "kept-bucket", "BucketRegion": "ap-southeast-2"},
    ]
    with Stubber(s3) as stub:  # no GetBucketLocation expected: the listing says where each bucket is
        stub.add_response("list_buckets", {"Buckets": listed})
        stub.add_client_error("get_bucket_tagging", "NoSuchBucket", http_status_code=404)
        stub.add_response("get_bucket_tagging", {"TagSet": tag_list(team="sre")})
        resources = COLLECTORS["s3:bucket"].collect(CollectContext(DEFAULT_ACCOUNT, "global", lambda _: s3, 10))
        stub.assert_no_pending_responses()
    assert [(r.name, r.region, r.tags) for r in resources] == [("kept-bucket", "ap-southeast-2", {"team": "sre"})]


# --- Lambda, RDS, Secrets Manager ------------------------------------------------------------------------------


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_lambda_functions_with_their_tags_and_never_their_environment(aws):
    role = aws().client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    lambda_ = aws().client("lambda")
    for name, tags in (("resize", {"team": "media"}), ("plain", {})):
        lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": lambda_zip()},
            MemorySize=256,
            Timeout=30,
            Environment={"Variables": {"DB_PASSWORD": "hunter2-env-9d"}},
            Tags=tags,
        )

    functions = collect(aws(), "lambda:function")

    resize = named(functions, "resize")
    assert resize.arn == f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:function:resize"
    assert (resize.type, resize.tags, named(functions, "plain").tags) == ("lambda:function", {"team": "media"}, {})
    assert {k: resize.properties[k] for k in ("runtime", "handler", "memory_mb", "timeout_s", "role")} == {
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_mb": 256,
        "timeout_s": 30,
        "role": role["Role"]["Arn"],
    }
    assert "hunter2-env-9d" not in repr(functions)


def test_rds_instances_with_the_listings_tags(aws):
    aws().client("rds").create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="rds-password-4f1b",
        Tags=tag_list(team="payments"),
    )

    (orders,) = collect(aws(), "rds:db").values()

    assert orders.arn == f"arn:aws:rds:us-east-1:{DEFAULT_ACCOUNT}:db:orders"
    assert (orders.name, orders.type, orders.tags) == ("orders", "rds:db", {"team": "payments"})
    assert {k: orders.properties[k] for k in ("engine", "instance_class", "status", "storage_gib")} == {
        "engine": "postgres",
        "instance_class": "db.t3.micro",
        "status": "available",
        "storage_gib": 20,
    }
    assert "rds-password-4f1b" not in repr(orders)


def test_secrets_are_metadata_only(aws):
    secretsmanager = aws().client("secretsmanager")
    secretsmanager.create_secret(Name="db/main", SecretString="value-never-listed-77", Tags=tag_list(team="sre"))
    secretsmanager.create_secret(Name="api/key", SecretString="another-value-88", Description="partner API")

    secrets = collect(aws(), "secretsmanager:secret")

    main, key = named(secrets, "db/main"), named(secrets, "api/key")
    assert main.arn.startswith(f"arn:aws:secretsmanager:us-east-1:{DEFAULT_ACCOUNT}:secret:db/main-")
    assert (main.type, main.tags, main.properties["rotation_enabled"]) == (
        "secretsmanager:secret",
        {"team": "sre"},
        False,
    )
    assert (key.tags, key.properties["description"]) == ({}, "partner API")
    assert "value-never-listed" not in repr(secrets) and "another-value" not in repr(secrets)


# --- IAM roles and Route53 zones: global ------------------------------------------------------------------------


def test_iam_roles_are_global_with_their_tags_and_trusted_principals(aws):
    iam = aws().client("iam")
    iam.create_role(
        RoleName="deployer",
        Path="/ci/",
        AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA),
        Description="CI deploys",
        Tags=tag_list(team="platform"),
    )
    iam.create_role(RoleName="bare", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))

    roles = collect(aws(), "iam:role")

    deployer = roles[f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/ci/deployer"]
    assert (deployer.name, deployer.region, deployer.type, deployer.tags) == (
        "deployer",
        "global",
        "iam:role",
        {"team": "platform"},
    )
    assert deployer.properties["path"] == "/ci/" and deployer.properties["description"] == "CI deploys"
    assert deployer.properties["trusted"] == ["lambda.amazonaws.com"]
    assert named(roles, "bare").tags == {}


def test_hosted_zones_are_global_with_tags_fetched_ten_at_a_time(aws):
    route53 = aws().client("route53")
    zone_ids = []
    for number in range(12):
        zone = route53.create_hosted_zone(Name=f"zone{number}.example.com", CallerReference=f"ref-{number}")
        zone_ids.append(zone["HostedZone"]["Id"].rsplit("/", 1)[-1])
    route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_ids[11], AddTags=tag_list(env="prod"))

    zones = collect(aws(), "route53:hostedzone")

    assert len(zones) == 12
    last = zones[f"arn:aws:route53:::hostedzone/{zone_ids[11]}"]
    assert (last.name, last.region, last.type, last.tags) == (
        "zone11.example.com.",
        "global",
        "route53:hostedzone",
        {"env": "prod"},
    )
    assert last.properties["private"] is False and last.properties["record_count"] >= 2  # SOA and NS
    assert zones[f"arn:aws:route53:::hostedzone/{zone_ids[0]}"].tags == {}


# --- the tagging API --------------------------------------------------------------------------------------------


def test_tagged_lists_what_no_core_collector_does_typed_from_the_arn(aws):
    ec2 = aws().client("ec2")
    ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(team="sre")}],
    )
    aws().client("secretsmanager").create_secret(Name="tagged-secret", SecretString="v", Tags=tag_list(team="sre"))
    queue_url = aws().client("sqs").create_queue(QueueName="jobs", tags={"team": "sre"})["QueueUrl"]
    topic_arn = aws().client("sns").create_topic(Name="alerts", Tags=tag_list(Name="Alerts topic"))["TopicArn"]
    aws().client("sqs").create_queue(QueueName="untagged")

    tagged = collect(aws(), "tagged")

    listed = aws().client("resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]
    skipped = {arn_type(mapping["ResourceARN"])[1] for mapping in listed} - {r.type for r in tagged.values()}
    assert skipped == {"ec2:instance", "secretsmanager:secret"}  # moto lists them; the core collectors own them

    queue_arn = aws().client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue = tagged[queue_arn["Attributes"]["QueueArn"]]
    assert (queue.service, queue.type, queue.name, queue.region, queue.tags) == (
        "sqs",
        "sqs:queue",
        "jobs",
        "us-east-1",
        {"team": "sre"},
    )
    topic = tagged[topic_arn]
    assert (topic.service, topic.type, topic.name) == ("sns", "sns:topic", "Alerts topic")
    assert not {resource.type for resource in tagged.values()} & CORE_TYPES
    assert not [arn for arn in tagged if "untagged" in arn]


# --- bounds, accounts, declarations -----------------------------------------------------------------------------


def test_past_max_items_truncated_holds_the_first_max_items(aws):
    secretsmanager = aws().client("secretsmanager")
    for number in range(3):
        secretsmanager.create_secret(Name=f"s{number}", SecretString="v")

    assert len(collect(aws(), "secretsmanager:secret", max_items=3)) == 3
    with pytest.raises(Truncated) as truncated:
        collect(aws(), "secretsmanager:secret", max_items=2)
    assert len(truncated.value.resources) == 2
    assert all(resource.type == "secretsmanager:secret" for resource in truncated.value.resources)


def test_a_collector_sees_only_the_account_its_clients_reach(aws):
    aws().client("secretsmanager").create_secret(Name="default-only", SecretString="v")
    aws(account="prod").client("secretsmanager").create_secret(Name="prod-only", SecretString="v")

    (prod,) = collect(aws(account="prod"), "secretsmanager:secret").values()

    assert (prod.name, prod.account, prod.arn.split(":")[4]) == ("prod-only", PROD_ACCOUNT, PROD_ACCOUNT)


def test_errors_are_botocore_s_own():
    from botocore.exceptions import ClientError

    def refusing(service: str) -> BaseClient:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListSecrets")

    with pytest.raises(ClientError):
        COLLECTORS["secretsmanager:secret"].collect(CollectContext("1", "us-east-1", refusing, 10))


def test_every_core_resource_is_typed_as_its_arn_says(aws):
    """What keeps a resource in one partition: the tagging API's skip list is the core collectors' types."""
    aws().client("sqs").create_queue(QueueName="q")
    ec2 = aws().client("ec2")
    ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
    aws().client("s3").create_bucket(Bucket="typed-bucket")
    aws().client("secretsmanager").create_secret(Name="typed", SecretString="v")
    aws().client("iam").create_role(RoleName="typed", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    aws().client("route53").create_hosted_zone(Name="typed.example.com", CallerReference="typed")
    for type_ in CORE_TYPES:
        for resource in collect(aws(), type_).values():
            assert arn_type(resource.arn) == (resource.service, type_)


@pytest.mark.parametrize("collector", COLLECTORS.values(), ids=list(COLLECTORS))
def test_collectors_declare_real_read_operations_of_their_service(collector):
    model = data_loader().load_service_model(collector.service, "service-2")
    for operation in collector.operations:
        assert operation in model["operations"], operation
        assert classify(collector.service, operation) is OpClass.READ, operation
    assert collector.scope == (
        "global" if collector.type in {"s3:bucket", "iam:role", "route53:hostedzone"} else "regional"
    )


# --- arn_type ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "service", "type_"),
    [
        ("arn:aws:sqs:us-east-1:123456789012:jobs", "sqs", "sqs:queue"),
        ("arn:aws:sqs:us-east-1:123456789012:jobs.fifo", "sqs", "sqs:queue"),
        ("arn:aws:sns:us-east-1:123456789012:alerts", "sns", "sns:topic"),
        ("arn:aws:sns:us-east-1:123456789012:alerts:5f1c2d3e-aaaa-bbbb-cccc-0123456789ab", "sns", "sns:subscription"),
        ("arn:aws:sns:us-east-1:123456789012:app/GCM/mobile", "sns", "sns:app"),
        ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc123def4567890", "ec2", "ec2:instance"),
        ("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123", "ec2", "ec2:security-group"),
        ("arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0123", "ec2", "ec2:subnet"),
        ("arn:aws:ec2:us-east-1::image/ami-0abc", "ec2", "ec2:image"),
        ("arn:aws:s3:::my-bucket", "s3", "s3:bucket"),
        ("arn:aws:s3:::my-bucket/path/to/key.txt", "s3", "s3:object"),
        ("arn:aws:s3:us-west-2:123456789012:accesspoint/reports", "s3", "s3:accesspoint"),
        ("arn:aws:lambda:us-east-1:123456789012:function:resize", "lambda", "lambda:function"),
        ("arn:aws:lambda:us-east-1:123456789012:function:resize:prod", "lambda", "lambda:function"),
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps:3", "lambda", "lambda:layer"),
        ("arn:aws:rds:us-east-1:123456789012:db:orders", "rds", "rds:db"),
        ("arn:aws:rds:us-east-1:123456789012:cluster:orders-aurora", "rds", "rds:cluster"),
        ("arn:aws:iam::123456789012:role/service-role/ci/deployer", "iam", "iam:role"),
        ("arn:aws:iam::aws:policy/AdministratorAccess", "iam", "iam:policy"),
        ("arn:aws:route53:::hostedzone/Z0123456789ABC", "route53", "route53:hostedzone"),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/main-AbCdEf",
            "secretsmanager",
            "secretsmanager:secret",
        ),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/resize:*", "logs", "logs:log-group"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/orders", "dynamodb", "dynamodb:table"),
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
            "elasticloadbalancing",
            "elasticloadbalancing:loadbalancer",
        ),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:42", "ecs", "ecs:task-definition"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/url", "ssm", "ssm:parameter"),
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "kms", "kms:key"),
        ("arn:aws:elasticache:us-east-1:123456789012:cluster:sessions", "elasticache", "elasticache:cluster"),
        ("arn:aws:states:us-east-1:123456789012:stateMachine:orders", "states", "states:stateMachine"),
        ("arn:aws:apigateway:us-east-1::/restapis/a1b2c3", "apigateway", "apigateway:restapis"),
        ("arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/prod", "apigateway", "apigateway:stages"),
        ("arn:aws:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE", "cloudfront", "cloudfront:distribution"),
        ("arn:aws:codecommit:us-east-1:123456789012:infra", "codecommit", "codecommit:repository"),
        ("arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-0abc", "ec2", "ec2:volume"),
        ("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:gov-jobs", "sqs", "sqs:queue"),
        (
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:6d8c-1a2b:autoScalingGroupName/web",
            "autoscaling",
            "autoscaling:autoScalingGroup",
        ),
    ],
)
def test_arn_type(arn, service, type_):
    assert arn_type(arn) == (service, type_)


@pytest.mark.parametrize("text", ["", "i-0abc", "arn:aws:sqs", "arn:aws:sqs:us-east-1:123456789012:", "urn:aws:s3:::b"])
def test_arn_type_refuses_what_is_not_an_arn(text):
    with pytest.raises(ValueError):
        arn_type(text)


# --- writes_to --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "params", "types"),
    [
        ("ec2", "RunInstances", {"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1}, ["ec2:instance", "ec2:volume"]),
        ("ec2", "TerminateInstances", {"InstanceIds": ["i-1"]}, ["ec2:instance", "ec2:volume"]),
        ("ec2", "StopInstances", {"InstanceIds": ["i-1"]}, ["ec2:instance"]),
        ("ec2", "CreateTags", {"Resources": ["i-1"], "Tags": []}, ["ec2:instance"]),
        (
            "ec2",
            "DeleteTags",
            {"Resources": ["vol-1", "sg-2", "vpc-3"]},
            ["ec2:security-group", "ec2:volume", "ec2:vpc"],
        ),
        ("ec2", "CreateTags", {"Resources": ["subnet-1", "vpce-2"], "Tags": []}, ["tagged"]),
        ("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": "sg-1"}, ["ec2:security-group"]),
        ("ec2", "CreateVpc", {"CidrBlock": "10.0.0.0/16"}, ["ec2:security-group", "ec2:vpc"]),
        ("ec2", "DeleteSubnet", {"SubnetId": "subnet-1"}, ["tagged"]),
        ("ec2", "RebootInstances", {"InstanceIds": ["i-1"]}, None),
        ("s3", "CreateBucket", {"Bucket": "b"}, ["s3:bucket"]),
        ("s3", "DeleteBucket", {"Bucket": "b"}, ["s3:bucket"]),
        ("s3", "PutBucketTagging", {"Bucket": "b"}, ["s3:bucket"]),
        ("s3", "PutObject", {"Bucket": "b", "Key": "k"}, None),
        ("s3", "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, None),
        ("s3", "DeleteObjects", {"Bucket": "b"}, None),
        ("secretsmanager", "CreateSecret", {"Name": "s"}, ["secretsmanager:secret"]),
        ("secretsmanager", "DeleteSecret", {"SecretId": "s"}, ["secretsmanager:secret"]),
        ("secretsmanager", "TagResource", {"SecretId": "s"}, ["secretsmanager:secret"]),
        ("route53", "CreateHostedZone", {"Name": "a."}, ["route53:hostedzone"]),
        ("route53", "DeleteHostedZone", {"Id": "Z1"}, ["route53:hostedzone"]),
        ("route53", "ChangeTagsForResource", {"ResourceType": "hostedzone"}, ["route53:hostedzone"]),
        ("route53", "ChangeTagsForResource", {"ResourceType": "healthcheck"}, ["tagged"]),
        ("lambda", "CreateFunction", {"FunctionName": "f"}, ["lambda:function"]),
        ("lambda", "TagResource", {"Resource": "arn:aws:lambda:us-east-1:1:function:f"}, ["lambda:function"]),
        ("lambda", "Invoke", {"FunctionName": "f"}, None),
        ("rds", "ModifyDBInstance", {"DBInstanceIdentifier": "d"}, ["rds:db"]),
        ("rds", "AddTagsToResource", {"ResourceName": "arn:aws:rds:us-east-1:1:cluster:c"}, ["tagged"]),
        ("iam", "CreateRole", {"RoleName": "r"}, ["iam:role"]),
        ("iam", "CreateUser", {"UserName": "u"}, None),
        ("iam", "PutRolePolicy", {"RoleName": "r"}, None),
        ("resourcegroupstaggingapi", "TagResources", {"ResourceARNList": ["arn:aws:sqs:us-east-1:1:q"]}, ["tagged"]),
        (
            "resourcegroupstaggingapi",
            "UntagResources",
            {"ResourceARNList": ["arn:aws:sqs:us-east-1:1:q", "arn:aws:ec2:us-east-1:1:instance/i-1"]},
            ["ec2:instance", "tagged"],
        ),
        ("sqs", "CreateQueue", {"QueueName": "q", "tags": {"team": "sre"}}, ["tagged"]),
        ("sqs", "CreateQueue", {"QueueName": "q"}, None),  # untagged: the tagging API does not list it
        ("sqs", "DeleteQueue", {"QueueUrl": "u"}, ["tagged"]),
        ("sqs", "DeleteMessage", {"QueueUrl": "u", "ReceiptHandle": "h"}, None),
        ("dynamodb", "DeleteItem", {"TableName": "t", "Key": {}}, None),
        ("ssm", "PutParameter", {"Name": "p", "Value": "v", "Tags": [{"Key": "a", "Value": "b"}]}, ["tagged"]),
        ("elasticache", "AddTagsToResource", {"ResourceName": "arn:aws:elasticache:us-east-1:1:cluster:c"}, ["tagged"]),
        (
            "ec2",
            "CreateSnapshot",
            {"VolumeId": "vol-1", "TagSpecifications": [{"ResourceType": "snapshot"}]},
            ["tagged"],
        ),
        ("sqs", "TagQueue", {"QueueUrl": "u"}, ["tagged"]),
        ("sqs", "SendMessage", {"QueueUrl": "u"}, None),
        ("sns", "Publish", {"TopicArn": "t"}, None),
        ("sts", "AssumeRole", {"RoleArn": "r"}, None),
    ],
)
def test_writes_to(service, operation, params, types):
    assert writes_to(service, operation, params, {}) == types


def test_writes_to_names_only_collector_types():
    names = set(COLLECTORS)
    for service, operation, params in [
        ("ec2", "CreateTags", {"Resources": ["i-1", "ami-2"]}),
        ("iam", "TagRole", {"RoleName": "r"}),
        ("secretsmanager", "PutSecretValue", {"SecretId": "s"}),
        ("rds", "RemoveTagsFromResource", {"ResourceName": "arn:aws:rds:us-east-1:1:db:d"}),
    ]:
        assert set(writes_to(service, operation, params, {}) or ()) <= names
