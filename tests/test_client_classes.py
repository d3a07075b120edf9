"""botocore client classes built once per service for the server's clients (core/client_classes.py): a fleet call
makes a client per (account, region), and building EC2's class for each cost ~20 ms and ~1.4 MB."""

import botocore.session

from core.calls import Target
from core.clients import AwsClients
from sandbox import PROD_ACCOUNT


def test_clients_of_one_service_share_a_class_but_keep_their_own_credentials_and_region(make_settings):
    clients = AwsClients(make_settings())
    default = clients.client(clients.resolve(Target(region="us-east-1")), "sts")
    prod = clients.client(clients.resolve(Target(account="prod", region="eu-west-1")), "sts")
    assert type(default) is type(prod)
    assert (default.meta.region_name, prod.meta.region_name) == ("us-east-1", "eu-west-1")
    assert prod.get_caller_identity()["Account"] == PROD_ACCOUNT
    assert default.get_caller_identity()["Account"] != PROD_ACCOUNT
    s3 = clients.client(clients.resolve(Target(region="us-east-1")), "s3")
    assert type(s3) is not type(default) and callable(s3.generate_presigned_post)  # class-creation hooks still ran


def test_other_sessions_build_their_classes_as_botocore_does(make_settings):
    clients = AwsClients(make_settings())
    ours = clients.client(clients.resolve(Target(region="us-east-1")), "sts")
    plain = botocore.session.Session()
    keys = {"aws_access_key_id": "AKIAPLAINSESSION0001", "aws_secret_access_key": "s", "region_name": "us-east-1"}
    first, second = plain.create_client("sts", **keys), plain.create_client("sts", **keys)
    assert type(first) is not type(second) and type(first) is not type(ours)


def test_a_class_creation_hook_registered_later_applies_to_the_clients_created_after_it(make_settings):
    clients = AwsClients(make_settings())
    target = clients.resolve(Target(region="us-east-1"))
    before = clients.client(target, "sts")

    def add_marker(class_attributes: dict, **_: object) -> None:
        class_attributes["marker"] = "hooked"

    clients.on("creating-client-class.sts", add_marker)
    after = clients.client(clients.resolve(Target(region="eu-west-1")), "sts")
    assert getattr(after, "marker", None) == "hooked" and not hasattr(before, "marker")
