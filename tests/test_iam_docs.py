"""docs/iam cannot drift: the policies parse, the role chain matches the Kubernetes manifests, and each
least-privilege example grants exactly the IAM actions of the operations the curated tools declare."""

import fnmatch
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from services import MANAGERS
from tests.repo import ROOT, kustomization, manifest
from tooling import tool_specs

IAM = ROOT / "docs" / "iam"
IAM_ACTIONS = {
    ("sts", "GetCallerIdentity"): set(),  # needs no permission, and works under an explicit deny
    ("s3", "ListBuckets"): {"s3:ListAllMyBuckets"},
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "DeleteObject"): {"s3:DeleteObject", "s3:DeleteObjectVersion"},  # with version_id, a version
    ("secretsmanager", "CreateSecret"): {"secretsmanager:CreateSecret", "secretsmanager:TagResource"},  # tags
}
"""Operations whose IAM actions are not simply `<service>:<Operation>`."""
KMS_FOR = {"secretsmanager": {"kms:Decrypt", "kms:GenerateDataKey"}}
"""Secrets under a customer managed key also need these, through the service only (kms:ViaService)."""


def policy(name: str) -> dict[str, Any]:
    return json.loads((IAM / name).read_text())


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in statements(document) for action in as_list(statement["Action"])}


@pytest.mark.parametrize("path", sorted(ROOT.glob("docs/**/*.json")), ids=lambda p: p.name)
def test_every_json_document_in_docs_parses_as_an_iam_policy(path: Path):
    document = json.loads(path.read_text())
    assert document["Version"] == "2012-10-17"
    for statement in statements(document):
        assert statement["Effect"] in ("Allow", "Deny")
        assert ("Resource" in statement) != ("Principal" in statement), "permissions name resources, trusts principals"
        assert all(":" in action for action in as_list(statement["Action"]))


def curated_managers() -> dict[str, type]:
    return {manager.service: manager for manager in MANAGERS}


def operations_called(manager: type) -> set[str]:
    """The operations of the manager's own service that its tools declare in `@tool(calls=...)`."""
    return {op for spec in tool_specs(manager) for service, op in spec.operations if service == manager.service}


def required_actions(service: str) -> set[str]:
    prefix = botocore.session.get_session().get_service_model(service).signing_name
    required: set[str] = set()
    for operation in operations_called(curated_managers()[service]):
        required |= IAM_ACTIONS.get((service, operation), {f"{prefix}:{operation}"})
    return required


def test_every_curated_service_that_needs_permissions_has_a_least_privilege_policy():
    assert {"sts", "secretsmanager", "route53", "s3"} <= set(curated_managers())
    assert operations_called(curated_managers()["s3"]) >= {"GetObject", "PutObject", "ListObjectsV2"}
    documented = {path.stem.removeprefix("target-role-") for path in IAM.glob("target-role-*.json")}
    assert {service for service in curated_managers() if required_actions(service)} <= documented


def test_sts_tools_need_no_permission_so_there_is_no_sts_policy():
    assert required_actions("sts") == set()
    assert not (IAM / "target-role-sts.json").exists()


@pytest.mark.parametrize("service", sorted(service for service in curated_managers() if service != "sts"))
def test_least_privilege_example_grants_exactly_what_the_curated_tools_call(service: str):
    granted = actions(policy(f"target-role-{service}.json"))
    prefix = botocore.session.get_session().get_service_model(service).signing_name
    own = {action for action in granted if action.startswith(f"{prefix}:")}
    assert own == required_actions(service), (
        f"missing {required_actions(service) - own}, extra {own - required_actions(service)}"
    )
    assert granted - own == KMS_FOR.get(service, set())
    for statement in statements(policy(f"target-role-{service}.json")):
        if any(action.startswith("kms:") for action in as_list(statement["Action"])):
            assert "kms:ViaService" in json.dumps(statement["Condition"])


def target_role_arns() -> set[str]:
    data = manifest("ConfigMap", "aws-ops-mcp-accounts")["data"]
    return {value for key, value in data.items() if key.endswith("_ROLE_ARN")}


def test_base_role_may_only_assume_the_target_roles_the_aliases_name():
    document = policy("base-role-permissions.json")
    assert actions(document) == {"sts:AssumeRole"}
    resources = {r for statement in statements(document) for r in as_list(statement["Resource"])}
    assert target_role_arns() <= resources
    allowed = manifest("ConfigMap", "aws-ops-mcp-settings")["data"]["AWS_MCP_ALLOWED_ROLE_ARNS"].split(",")
    assert all(any(fnmatch.fnmatchcase(r, p.strip()) for p in allowed) for r in resources)


def test_base_role_trusts_only_the_kubernetes_service_account():
    (statement,) = statements(policy("base-role-trust-policy-irsa.json"))
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    issuer = statement["Principal"]["Federated"].split("oidc-provider/", 1)[1]
    account = manifest("ServiceAccount")["metadata"]["name"]
    conditions = statement["Condition"]["StringEquals"]
    assert conditions[f"{issuer}:sub"] == f"system:serviceaccount:{kustomization()['namespace']}:{account}"
    assert conditions[f"{issuer}:aud"] == "sts.amazonaws.com"


@pytest.mark.parametrize("name", ["target-role-trust-policy.json", "target-role-trust-policy-external-id.json"])
def test_target_roles_trust_the_base_role_the_service_account_names(name: str):
    (statement,) = statements(policy(name))
    base_role = manifest("ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert statement["Principal"] == {"AWS": base_role} and statement["Action"] == "sts:AssumeRole"
    if "external-id" in name:
        assert "sts:ExternalId" in statement["Condition"]["StringEquals"]
