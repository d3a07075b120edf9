"""botocore client classes, service models and event hooks built once per service for the server's clients
(core/client_classes.py), and their shared connections (core/clients.py): a fleet call makes a client per (account,
region), and building EC2's class for each cost ~20 ms and ~1.4 MB, the rest ~0.2 MB."""

from typing import Any

import botocore.hooks
import botocore.session

from core.calls import Target
from core.client_classes import service_hooks
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


def test_clients_of_one_service_share_its_model_and_connections_but_sign_with_their_own_keys(make_settings):
    clients = AwsClients(make_settings())
    default = clients.client(clients.resolve(Target(region="us-east-1")), "sts")
    prod = clients.client(clients.resolve(Target(account="prod", region="us-east-1")), "sts")
    assert default is not prod and default.meta.service_model is prod.meta.service_model
    assert default._endpoint.http_session is prod._endpoint.http_session
    assert default.meta.events is not prod.meta.events
    sent: list[str] = []
    prod.meta.events.register("before-send.sts", lambda request, **_: sent.append(request.url))
    assert default.get_caller_identity()["Account"] != PROD_ACCOUNT and sent == []
    assert prod.get_caller_identity()["Account"] == PROD_ACCOUNT and len(sent) == 1
    default.close()
    assert prod.get_caller_identity()["Account"] == PROD_ACCOUNT


def test_a_client_copies_the_hooks_of_its_own_service_only_and_they_still_work(make_settings):
    clients = AwsClients(make_settings())
    target = clients.resolve(Target(region="us-east-1"))
    sts, s3 = clients.client(target, "sts"), clients.client(target, "s3")
    assert "s3" not in sts.meta.events._emitter._handlers._root["children"]["before-parameter-build"]["children"]
    assert "s3" in s3.meta.events._emitter._handlers._root["children"]["before-parameter-build"]["children"]
    s3.create_bucket(Bucket="hooks-kept")
    s3.put_object(Bucket="hooks-kept", Key="a b+c", Body=b"x")
    assert [o["Key"] for o in s3.list_objects(Bucket="hooks-kept")["Contents"]] == ["a b+c"]  # url-decoded by a hook


def test_a_hook_registered_later_reaches_the_clients_created_after_it(make_settings):
    clients = AwsClients(make_settings())
    target = clients.resolve(Target(region="us-east-1"))
    before = clients.client(target, "sts")
    seen: list[str] = []
    clients.on("before-send.sts.GetCallerIdentity", lambda **_: seen.append("sent"))
    after = clients.client(clients.resolve(Target(region="eu-west-1")), "sts")
    before.get_caller_identity()
    assert seen == []
    after.get_caller_identity()
    assert seen == ["sent"]


def test_service_hooks_keep_wildcards_and_the_service_under_any_of_its_names():
    emitter = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
    calls: list[str] = []

    def record(name: str) -> Any:
        return lambda **_: calls.append(name)

    for event in ("before-call", "before-call.*.GetRestApis", "before-call.apigateway", "before-call.s3"):
        emitter.register(event, record(event))
    emitter.register("docs.*.apigateway.GetRestApis.complete-section", record("docs.apigateway"))
    emitter.register("docs.*.s3.GetObject.complete-section", record("docs.s3"))
    template = service_hooks(emitter, botocore.session.Session().get_service_model("apigateway"))
    template.emit("before-call.api-gateway.GetRestApis")
    template.emit("before-call.s3.GetRestApis")
    template.emit("docs.request-params.api-gateway.GetRestApis.complete-section")
    template.emit("docs.request-params.s3.GetObject.complete-section")
    own = ["before-call.apigateway", "before-call.*.GetRestApis", "before-call"]
    other_service = ["before-call.*.GetRestApis", "before-call"]  # s3's own handler is not in the template
    assert sorted(calls) == sorted([*own, *other_service, "docs.apigateway"])
    calls.clear()
    emitter.emit("before-call.s3.GetObject")
    assert sorted(calls) == ["before-call", "before-call.s3"]  # the session's hooks are untouched
