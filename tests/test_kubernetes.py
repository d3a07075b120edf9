"""deploy/kubernetes, without a cluster: every manifest (the base, and the base with the shared-state component
applied) against the Kubernetes OpenAPI schemas that kubernetes-validate ships (offline, strict), the
kustomizations complete, and the Deployment true to the image, the server's configuration (its shutdown grace
among it) and the issue's hardening rules."""

import fnmatch
import posixpath
import re
import shutil
import subprocess
from pathlib import PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config import ACCOUNT_VARIABLE, Settings, load_settings, settings_variables
from guard.policy import Policy
from http_app import SHUTDOWN_SECONDS_AFTER_GRACE
from tests.repo import (
    COMPONENTS,
    KUBERNETES,
    OVERLAYS,
    ROOT,
    component_files,
    dockerfile,
    kustomization,
    manifest,
    manifest_files,
    manifests,
    variables_read_in_code,
)

KUBERNETES_VERSIONS = ["1.30", "1.37"]
"""The oldest version the manifests support (the preStop `sleep` action) and the newest the package ships."""
SHARED = ("shared-state",)
"""The component that runs several replicas on one PostgreSQL."""
CUSTOM_RESOURCES = {"PodMonitor"}
"""Kinds from CRDs (the Prometheus Operator's), which kubernetes-validate has no schema for."""


def validate(document: dict[str, Any], version: str, where: str) -> None:
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{where}: {document['kind']} invalid for Kubernetes {version}: {error.message}")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "path",
    [*manifest_files(), *(p for c in sorted(d.name for d in COMPONENTS.iterdir()) for p in component_files(c))],
    ids=lambda p: p.relative_to(KUBERNETES).as_posix(),
)
def test_every_manifest_validates_against_the_kubernetes_schemas(path, version: str):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents
    for document in documents:
        if document["kind"] not in CUSTOM_RESOURCES:
            validate(document, version, path.name)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_manifests_with_the_shared_state_component_applied_validate_too(version: str):
    for document in manifests(*SHARED):
        validate(document, version, "shared-state")


def test_strict_validation_catches_a_misspelt_field():
    deployment = yaml.safe_load((KUBERNETES / "deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest_and_nothing_missing():
    listed = kustomization()["resources"]
    assert sorted(listed) == sorted(p.name for p in manifest_files())
    assert all((KUBERNETES / name).is_file() for name in listed)
    for folder in COMPONENTS.iterdir():
        component = kustomization(folder)
        assert component["kind"] == "Component"
        named = {*component.get("resources", []), *(patch["path"] for patch in component.get("patches", []))}
        assert named == {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}, folder.name
    overlay = kustomization(OVERLAYS / "shared-state")
    assert overlay["namespace"] == kustomization()["namespace"]
    assert [(OVERLAYS / "shared-state" / path).resolve() for path in overlay["resources"]] == [KUBERNETES]
    assert [(OVERLAYS / "shared-state" / path).resolve() for path in overlay["components"]] == [COMPONENTS / SHARED[0]]
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
    port, _metrics = container()["ports"]
    assert str(port["containerPort"]) == dockerfile().runtime.last("EXPOSE")
    probes = {kind: container()[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}
    assert probes["liveness"]["path"] == probes["startup"]["path"] == "/healthz"
    assert probes["readiness"]["path"] == "/readyz"
    assert {probe["port"] for probe in probes.values()} == {port["name"]}


def settings_from_manifests() -> Settings:
    literal = {name: item["value"] for name, item in environment().items() if "value" in item}
    return load_settings({**configmap_environment(), **literal}, env_file=None)


def test_the_pods_grace_period_covers_the_prestop_pause_and_the_servers_drain():
    """Kubernetes sends SIGTERM after the preStop pause and kills the process terminationGracePeriodSeconds after
    the pod began terminating; in between the server drains for AWS_MCP_SHUTDOWN_GRACE_SECONDS and then stops."""
    grace = settings_from_manifests().shutdown_grace_seconds
    assert grace == Settings.model_fields["shutdown_grace_seconds"].default == 30
    pause = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    needed = pause + grace + SHUTDOWN_SECONDS_AFTER_GRACE
    assert needed <= pod()["terminationGracePeriodSeconds"] <= needed + 10
    comment = (KUBERNETES / "deployment.yaml").read_text()
    assert f"({pause} s)" in comment and f"{grace:g} s" in comment


def test_one_replica_without_shared_state_and_the_hpa_with_it():
    assert manifest("Deployment")["spec"]["replicas"] == 1
    assert not [m for m in manifests() if m["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")]
    assert "AWS_MCP_DATABASE_URL" not in environment()
    deployment = manifest("Deployment", components=SHARED)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (shared,) = deployment["spec"]["template"]["spec"]["containers"]
    secrets = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in shared["env"] if "valueFrom" in item}
    assert secrets["AWS_MCP_DATABASE_URL"] == {"name": "aws-ops-mcp", "key": "AWS_MCP_DATABASE_URL"}
    hpa = manifest("HorizontalPodAutoscaler", components=SHARED)
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    egress = manifest("NetworkPolicy", components=SHARED)["spec"]["egress"]
    assert any(port["port"] == 5432 for rule in egress for port in rule.get("ports", []))
    for document in ("README.md", "docs/deployment.md"):
        text = (ROOT / document).read_text()
        for key in secrets.values():
            assert f"--from-literal={key['key']}=" in text, f"{document} does not put {key['key']} in the Secret"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_kustomize_renders_the_overlay_as_these_tests_read_it():
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAYS / "shared-state")], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    documents = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered.stdout) if d}
    assert documents.keys() == {(d["kind"], d["metadata"]["name"]) for d in manifests(*SHARED)}
    for document in manifests(*SHARED):
        kustomized = documents[document["kind"], document["metadata"]["name"]]
        assert kustomized.get("spec") == document.get("spec"), document["kind"]
        if document["kind"] != "Namespace":
            assert kustomized["metadata"]["namespace"] == "aws-ops-mcp"


def test_metrics_are_scraped_on_the_metrics_port_and_only_from_the_monitoring_namespace():
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    annotations = manifest("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    metrics_port = int(configmap_environment()["AWS_MCP_METRICS_PORT"])
    assert int(annotations["prometheus.io/port"]) == ports["metrics"] == metrics_port == 9100
    assert "metrics" not in {port["name"] for port in manifest("Service")["spec"]["ports"]}
    (monitor,) = yaml.safe_load_all((COMPONENTS / "pod-monitor" / "podmonitor.yaml").read_text())
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels().items()
    assert [endpoint["port"] for endpoint in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_the_network_policy_admits_the_mcp_port_and_scrapes_and_lets_out_dns_and_https():
    policy = manifest("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels().items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    names = {port["name"] for port in container()["ports"]}
    admitted = {port["port"]: rule.get("from") for rule in policy["ingress"] for port in rule["ports"]}
    assert set(admitted) == names == {"http", "metrics"}
    assert admitted["http"] is None  # the ingress controller, wherever it runs
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    assert admitted["metrics"] == [{"namespaceSelector": {"matchLabels": monitoring}}]
    let_out = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert let_out == {53, 443}


def pod_labels() -> dict[str, str]:
    return manifest("Deployment")["spec"]["template"]["metadata"]["labels"]


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
    (shared,) = manifest("Deployment", components=SHARED)["spec"]["template"]["spec"]["containers"]
    for variable in [*configmap_environment(), *(item["name"] for item in shared["env"])]:
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
    labels = pod_labels()
    service = manifest("Service")
    pdb = manifest("PodDisruptionBudget", components=SHARED)
    hpa = manifest("HorizontalPodAutoscaler", components=SHARED)
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert manifest("Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container()["ports"][0]["name"]
    assert service["spec"]["sessionAffinity"] == "ClientIP"  # SSE's /messages POST must reach the stream's pod
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", manifest("Deployment")["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 > pdb["spec"]["minAvailable"]


def test_pods_run_as_the_irsa_annotated_service_account():
    account = manifest("ServiceAccount")
    assert pod()["serviceAccountName"] == account["metadata"]["name"]
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", role)
