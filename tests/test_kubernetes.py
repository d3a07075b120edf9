"""deploy/kubernetes, without a cluster: every manifest against the Kubernetes OpenAPI schemas that
kubernetes-validate ships (offline, strict), the kustomization complete, and the Deployment true to the image,
the server's configuration and the issue's hardening rules."""

import fnmatch
import posixpath
import re
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config import ACCOUNT_VARIABLE, load_settings, settings_variables
from guard.policy import Policy
from tests.repo import KUBERNETES, ROOT, dockerfile, kustomization, manifest, manifest_files, variables_read_in_code

KUBERNETES_VERSIONS = ["1.30", "1.37"]
"""The oldest version the manifests support (the preStop `sleep` action) and the newest the package ships."""


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(path: Path, version: str):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {document['kind']} invalid for Kubernetes {version}: {error.message}")


def test_strict_validation_catches_a_misspelt_field():
    deployment = yaml.safe_load((KUBERNETES / "deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest_and_nothing_missing():
    listed = kustomization()["resources"]
    assert sorted(listed) == sorted(p.name for p in manifest_files())
    assert all((KUBERNETES / name).is_file() for name in listed)
    assert kustomization()["namespace"] == manifest("Namespace")["metadata"]["name"] == "aws-ops-mcp"
    image = container()["image"].split(":")[0]
    assert [i["name"] for i in kustomization()["images"]] == [image]


def pod() -> dict[str, Any]:
    return manifest("Deployment")["spec"]["template"]["spec"]


def container() -> dict[str, Any]:
    (only,) = pod()["containers"]
    return only


def test_deployment_is_hardened_as_the_restricted_pod_security_standard_asks():
    spec, security = pod(), container()["securityContext"]
    assert manifest("Deployment")["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True and security["runAsNonRoot"] is True
    assert str(spec["securityContext"]["runAsUser"]) == dockerfile().runtime.last("USER").split(":")[0]
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    resources = container()["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() and {"cpu", "memory"} <= resources["limits"].keys()
    assert manifest("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_deployment_probes_health_and_readiness_on_the_images_port():
    (port,) = container()["ports"]
    assert str(port["containerPort"]) == dockerfile().runtime.last("EXPOSE")
    probes = {kind: container()[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}
    assert probes["liveness"]["path"] == probes["startup"]["path"] == "/healthz"
    assert probes["readiness"]["path"] == "/readyz"
    assert {probe["port"] for probe in probes.values()} == {port["name"]}
    assert pod()["terminationGracePeriodSeconds"] > container()["lifecycle"]["preStop"]["sleep"]["seconds"]


def environment() -> dict[str, Any]:
    return {item["name"]: item for item in container()["env"]}


def test_deployment_takes_its_token_and_confirmation_secret_from_the_secret_the_docs_create():
    secret_refs = {
        name: item["valueFrom"]["secretKeyRef"] for name, item in environment().items() if "valueFrom" in item
    }
    assert set(secret_refs) == {"MCP_AUTH_TOKEN", "AWS_MCP_CONFIRMATION_SECRET"}
    for variable, reference in secret_refs.items():
        assert reference["key"] == variable
        for document in ("README.md", "docs/deployment.md"):
            text = (ROOT / document).read_text()
            assert f"create secret generic {reference['name']}" in text
            assert f"--from-literal={variable}=" in text, f"{document} does not create {variable}"


def test_deployment_mounts_the_policy_configmap_where_aws_mcp_policy_file_points():
    policy_file = environment()["AWS_MCP_POLICY_FILE"]["value"]
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod()["volumes"]}
    (name,) = [n for n, m in mounts.items() if m["mountPath"] == posixpath.dirname(policy_file)]
    assert mounts[name]["readOnly"] is True
    configmap = manifest("ConfigMap", volumes[name]["configMap"]["name"])
    assert posixpath.basename(policy_file) in configmap["data"]


def test_deployment_gives_the_read_only_image_a_writable_tmp_and_keeps_its_prebuilt_index():
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod()["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "AWS_MCP_CACHE_DIR" not in environment(), "the image's index, built at image build time, would be unused"


def test_deployment_gives_the_embedded_state_database_a_writable_folder():
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod()["volumes"]}
    image = dockerfile().runtime.environment()["AWS_MCP_STATE_DIR"]
    state_dir = PurePosixPath(configmap_environment().get("AWS_MCP_STATE_DIR", image))
    mount = next(path for path in mounts if state_dir.is_relative_to(path))
    assert "emptyDir" in volumes[mounts[mount]]


def configmap_environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for source in container()["envFrom"]:
        values.update(manifest("ConfigMap", source["configMapRef"]["name"])["data"])
    return values


def test_every_variable_the_manifests_set_is_one_the_server_reads():
    known = set(settings_variables()) | set(variables_read_in_code())
    for variable in [*configmap_environment(), *environment()]:
        assert variable in known or ACCOUNT_VARIABLE.match(variable), f"the server does not read {variable}"


def test_configmaps_hold_a_configuration_and_policy_the_server_accepts(tmp_path):
    literal = {name: item["value"] for name, item in environment().items() if "value" in item}
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(manifest("ConfigMap", "aws-ops-mcp-policy")["data"]["policy.yaml"])
    secrets = {"MCP_AUTH_TOKEN": "t" * 64, "AWS_MCP_CONFIRMATION_SECRET": "s" * 64}
    settings = load_settings(
        {**configmap_environment(), **literal, **secrets, "AWS_MCP_POLICY_FILE": str(policy_path)}, env_file=None
    )
    assert settings.accounts, "no account aliases in the ConfigMap"
    policy = Policy.load(settings.policy_file)
    for alias in settings.accounts.values():
        assert alias.role_arn
        assert any(fnmatch.fnmatchcase(alias.role_arn, pattern) for pattern in settings.allowed_role_arns)
        assert policy.check_role(alias.role_arn, [alias.name]).allowed, f"the policy refuses {alias.name}'s role"


def test_service_hpa_and_pdb_select_the_deployments_pods():
    labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    service, pdb, hpa = manifest("Service"), manifest("PodDisruptionBudget"), manifest("HorizontalPodAutoscaler")
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert manifest("Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container()["ports"][0]["name"]
    assert service["spec"]["sessionAffinity"] == "ClientIP"  # SSE and per-process confirmation state
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", manifest("Deployment")["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 > pdb["spec"]["minAvailable"]


def test_pods_run_as_the_irsa_annotated_service_account():
    account = manifest("ServiceAccount")
    assert pod()["serviceAccountName"] == account["metadata"]["name"]
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", role)
