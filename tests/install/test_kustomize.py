"""config/: every kustomize directory renders with the real ``kubectl kustomize`` and every object
in it is valid for Kubernetes 1.31 (NerClusters against the CRD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.install.manifests import CHART, CONFIG, ROOT, assert_valid, by_kind, kustomize, one

DIRECTORIES = sorted(p.parent for p in CONFIG.rglob("kustomization.yaml"))


def test_every_required_directory_is_a_kustomization() -> None:
    names = {str(d.relative_to(CONFIG)) for d in DIRECTORIES}
    assert {
        "crd",
        "rbac",
        "manager",
        "default",
        "samples",
        "overlays/production",
        "argocd",
        "regional-rbac",
    } <= names


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: str(d.relative_to(CONFIG)))
def test_renders_and_validates_for_kubernetes_1_31(directory: Path) -> None:
    assert_valid(kustomize(directory), f"config/{directory.relative_to(CONFIG)}")


def test_the_crd_copies_are_byte_identical() -> None:
    # `make chart-sync` restores them after crds/nerclusters.yaml changes.
    source = (ROOT / "crds" / "nerclusters.yaml").read_bytes()
    assert (CONFIG / "crd" / "nerclusters.yaml").read_bytes() == source
    peering = (CHART / "crds" / "kopfpeerings.yaml").read_bytes()
    assert (CONFIG / "crd" / "kopfpeerings.yaml").read_bytes() == peering


def test_default_puts_everything_in_one_namespace() -> None:
    objects = kustomize(CONFIG / "default")
    namespace = one(objects, "Namespace")["metadata"]["name"]
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for obj in objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == namespace, obj["kind"]
    deployment = one(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    peering = one(objects, "KopfPeering")["metadata"]["name"]
    assert f"--peering={peering}" in args
    # The operator watches the namespace it runs in, whatever the overlay makes of it.
    assert "--namespace=$(POD_NAMESPACE)" in args
    assert deployment["spec"]["replicas"] == 2
    assert {c["metadata"]["name"] for c in by_kind(objects, "CustomResourceDefinition")} == {
        "nerclusters.nerha.dev",
        "kopfpeerings.kopf.dev",
    }


def test_the_production_overlay_patches_replicas_resources_and_image() -> None:
    base = one(kustomize(CONFIG / "default"), "Deployment")
    prod = one(kustomize(CONFIG / "overlays" / "production"), "Deployment")
    assert prod["spec"]["replicas"] == 3 > base["spec"]["replicas"]
    (base_container,) = base["spec"]["template"]["spec"]["containers"]
    (container,) = prod["spec"]["template"]["spec"]["containers"]
    assert container["resources"] != base_container["resources"]
    assert container["image"].startswith("registry.example.com/ner-ha/operator:")
    # The patch keeps what the base needs: peering, liveness, the namespace and the hardening.
    assert set(base_container["args"]) <= set(container["args"])
    assert container["securityContext"] == base_container["securityContext"]
    assert container["livenessProbe"] == base_container["livenessProbe"]


def test_samples_are_nerclusters_for_the_operators_namespace() -> None:
    (sample,) = kustomize(CONFIG / "samples")
    assert sample["kind"] == "NerCluster"
    operator_namespace = one(kustomize(CONFIG / "default"), "Namespace")["metadata"]["name"]
    assert sample["metadata"]["namespace"] == operator_namespace
