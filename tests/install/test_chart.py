"""The Helm chart as ``helm lint --strict`` / ``helm template`` / ``helm install`` see it.

Rendering goes through Helm's own Go SDK (``helm_python``), so template functions, values
coalescing and ``values.schema.json`` behave exactly as with the ``helm`` binary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.install.manifests import (
    CHART,
    ROOT,
    Object,
    assert_valid,
    by_kind,
    load_all,
    load_file,
    one,
)

RELEASE = "ner-operator"
NAMESPACE = "ner-system"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def render(values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE) -> list[Object]:
    chart = helm_python.Chart.load(CHART)
    rendered = chart.render(values or {}, name=RELEASE, namespace=namespace)
    return [
        obj
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for obj in load_all(text)
    ]


def notes(values: dict[str, Any] | None = None) -> str:
    rendered = helm_python.Chart.load(CHART).render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def values_file(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(path.read_text())
    return values


def test_lint_strict_is_clean() -> None:
    for values in [{}, *(values_file(p) for p in CI_VALUES)]:
        report = helm_python.lint(CHART, values, strict=True, kube_version="v1.31.0")
        bad = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"] and not bad, report


def test_chart_metadata() -> None:
    meta = helm_python.Chart.load(CHART).metadata
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "ner-operator"
    assert meta["appVersion"]


def test_the_charts_crd_is_a_byte_identical_copy() -> None:
    # `make chart-sync` restores it after crds/nerclusters.yaml changes.
    copy = CHART / "crds" / "nerclusters.yaml"
    assert copy.read_bytes() == (ROOT / "crds" / "nerclusters.yaml").read_bytes(), (
        "charts/ner-operator/crds/nerclusters.yaml differs from crds/: run `make chart-sync`"
    )


def test_the_charts_crds_are_valid() -> None:
    crds = [obj for path in sorted((CHART / "crds").glob("*.yaml")) for obj in load_file(path)]
    assert {c["metadata"]["name"] for c in crds} == {
        "nerclusters.nerha.dev",
        "kopfpeerings.kopf.dev",
    }
    assert_valid(crds, "chart crds/")


@pytest.mark.parametrize(
    "values_path", [None, *CI_VALUES], ids=lambda p: p.name if p else "default"
)
def test_every_rendering_validates_for_kubernetes_1_31(values_path: Path | None) -> None:
    values = values_file(values_path) if values_path else {}
    objects = render(values)
    assert_valid(objects, f"chart with {values_path.name if values_path else 'default values'}")
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] in (
                NAMESPACE,
                values.get("dashboard", {}).get("namespace"),
            )


def test_default_install_runs_two_peered_hardened_replicas() -> None:
    objects = render()
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert deployment["spec"]["replicas"] == 2
    assert f"--namespace={NAMESPACE}" in args
    peering = one(objects, "KopfPeering")
    assert f"--peering={peering['metadata']['name']}" in args
    assert peering["metadata"]["namespace"] == NAMESPACE
    # Non-root, read-only root filesystem, nothing to escalate with.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # The liveness probe hits the endpoint kopf is told to serve.
    probe = container["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--liveness=http://0.0.0.0:{ports[probe['port']]}{probe['path']}" in args
    # The metrics Service reaches the port the operator serves /metrics on.
    assert f"--metrics-port={ports['metrics']}" in args
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    # The pods run as the ServiceAccount the RBAC bindings name.
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    assert pod["serviceAccountName"] == account
    for binding in [*by_kind(objects, "RoleBinding"), *by_kind(objects, "ClusterRoleBinding")]:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert not by_kind(objects, "ServiceMonitor")


def test_minimal_values_run_one_standalone_replica() -> None:
    objects = render(values_file(CHART / "ci" / "minimal-values.yaml"))
    deployment = one(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert deployment["spec"]["replicas"] == 1
    assert "--standalone" in args
    assert not any(a.startswith("--peering") for a in args)
    assert not by_kind(objects, "KopfPeering")
    assert not by_kind(objects, "PodDisruptionBudget")
    assert not by_kind(objects, "ConfigMap")


def test_production_values() -> None:
    values = values_file(CHART / "ci" / "production-values.yaml")
    objects = render(values)
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{values['image']['repository']}@{values['image']['digest']}"
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert one(objects, "ConfigMap")["metadata"]["namespace"] == "monitoring"


def test_values_are_documented_field_by_field() -> None:
    """Every value in values.yaml has a comment right above it or above one of its parents."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    ancestors: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while ancestors and ancestors[-1][0] >= indent:
            ancestors.pop()
        documented = lines[i - 1].strip().startswith("#") or any(d for _, d in ancestors)
        is_leaf = not stripped.endswith(":")
        if is_leaf and not documented:
            undocumented.append(stripped)
        ancestors.append((indent, lines[i - 1].strip().startswith("#")))
    assert not undocumented, f"values without a comment: {undocumented}"
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = values_file(CHART / "values.yaml")
    assert set(values) <= set(schema["properties"])


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": 0}, "replicaCount"),
        ({"replicaCount": "two"}, "replicaCount"),
        ({"replicaCount": 3, "peering": {"enabled": False}}, "enabled"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"image": {"digest": "latest"}}, "digest"),
        ({"metrics": {"port": 70000}}, "port"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "interval"),
        ({"metrics": {"service": {"type": "Ingress"}}}, "type"),
        ({"resources": {"limits": {"memory": "lots"}}}, "memory"),
        ({"operator": {"resyncSeconds": 0}}, "resyncSeconds"),
        ({"replicas": 2}, "replicas"),  # a typo of replicaCount must not be ignored
        ({"rbac": {"create": "yes"}}, "create"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(
    values: dict[str, Any], complaint: str
) -> None:
    chart = helm_python.Chart.load(CHART)
    with pytest.raises(helm_python.HelmError) as error:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert complaint in str(error.value)


def test_notes_tell_the_user_what_to_do_next() -> None:
    text = notes()
    assert f"kubectl -n {NAMESPACE} create secret generic region-a-kubeconfig" in text
    assert "--from-file=kubeconfig=" in text
    assert "apply -f examples/production.yaml" in text
    assert "get nerc -o wide" in text
    assert "Forbidden" in notes({"rbac": {"gatewayInOperatorNamespace": False}})


def test_names_follow_the_release() -> None:
    objects = render({"fullnameOverride": "ner"})
    assert one(objects, "Deployment")["metadata"]["name"] == "ner"
    assert one(objects, "KopfPeering")["metadata"]["name"] == "ner"
    objects = render({}, namespace="team-a")
    assert {o["metadata"].get("namespace") for o in objects} <= {"team-a", None}
    # Two releases in two namespaces must not fight over one ClusterRole.
    assert one(objects, "ClusterRole")["metadata"]["name"].endswith("-team-a")
