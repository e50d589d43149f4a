"""The reconcile steps (apply, prune, per-target isolation, clients) against a real emulator."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ner_operator import layout, status
from ner_operator.cluster import Cluster
from ner_operator.reconcile import Reconciler, reconcile, remove_all
from ner_operator.regions import ClusterClients, management_api

from tests.operator.conftest import UID, make_cluster
from tests.support import samples
from tests.support.harness import NAMESPACE, ApiServer, secret

DEPLOYMENT = "/apis/apps/v1/namespaces/ner/deployments/demo"
HPA = "/apis/autoscaling/v2/namespaces/ner/horizontalpodautoscalers/demo"


class Clusters:
    def __init__(
        self, management: ApiServer, regions: dict[str, ApiServer], clients: ClusterClients
    ):
        self.management, self.regions, self.clients = management, regions, clients
        self.reconciler = Reconciler(clients)


@pytest.fixture
async def clusters(tmp_path: Path) -> AsyncIterator[Clusters]:
    management = ApiServer("management")
    regions = {name: ApiServer(name) for name in ("region-a", "region-b")}
    for server in (management, *regions.values()):
        await server.start()
    for name, server in regions.items():
        await management.create(
            f"/api/v1/namespaces/{NAMESPACE}/secrets",
            secret(f"{name}-kubeconfig", server.kubeconfig()),
        )
    path = tmp_path / "management.yaml"
    path.write_text(yaml.safe_dump(management.kubeconfig()))
    clients = ClusterClients(await management_api(path), timeout=1.0)
    try:
        yield Clusters(management, regions, clients)
    finally:
        await clients.close()
        for server in (management, *regions.values()):
            await server.close()


def _cluster(**spec: Any) -> Cluster:
    return make_cluster(samples.spec(**spec))


async def test_first_reconcile_creates_then_nothing_to_do(clusters: Clusters) -> None:
    outcome = await reconcile(_cluster(), clusters.reconciler)
    assert [r.error for r in outcome.results.values()] == [None, None]
    created = sorted((t, c.kind) for t, c in outcome.changes if c.action == "created")
    assert len(created) == 8
    assert outcome.results["region-a"].desired_replicas == 3
    again = await reconcile(_cluster(), clusters.reconciler)
    assert again.changes == []  # idempotent: what the server added is not drift


async def test_drift_is_patched_and_hpa_scaling_is_respected(clusters: Clusters) -> None:
    await reconcile(_cluster(), clusters.reconciler)
    region = clusters.regions["region-a"]
    await region.merge_patch(DEPLOYMENT, {"spec": {"replicas": 7}})  # the HPA scaled up
    assert (await reconcile(_cluster(), clusters.reconciler)).changes == []
    live = await region.get(DEPLOYMENT)
    assert live is not None
    containers = copy.deepcopy(live["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "evil:1"
    await region.merge_patch(
        DEPLOYMENT, {"spec": {"template": {"spec": {"containers": containers}}}}
    )
    outcome = await reconcile(_cluster(), clusters.reconciler)
    assert [(t, c.action, c.kind) for t, c in outcome.changes] == [
        ("region-a", "patched", "Deployment")
    ]
    live = await region.get(DEPLOYMENT)
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "ner-ha/inference:0.1.0"
    assert live["spec"]["replicas"] == 7


async def test_objects_no_longer_desired_are_pruned(clusters: Clusters) -> None:
    await reconcile(_cluster(), clusters.reconciler)
    outcome = await reconcile(_cluster(autoscaling={"enabled": False}), clusters.reconciler)
    deleted = sorted((t, c.kind) for t, c in outcome.changes if c.action == "deleted")
    assert deleted == [
        ("region-a", "HorizontalPodAutoscaler"),
        ("region-b", "HorizontalPodAutoscaler"),
    ]
    assert await clusters.regions["region-a"].get(HPA) is None


async def test_someone_elses_object_is_never_touched(clusters: Clusters) -> None:
    region = clusters.regions["region-a"]
    foreign = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo"}}
    await region.create("/api/v1/namespaces", {"metadata": {"name": "ner"}})
    await region.create("/apis/apps/v1/namespaces/ner/deployments", foreign)
    outcome = await reconcile(_cluster(), clusters.reconciler)
    error = outcome.results["region-a"].error
    assert error is not None and error.reason == "NameConflict"
    assert "delete or rename it" in error.message
    assert outcome.results["region-b"].ok  # the other region is unaffected
    live = await region.get(DEPLOYMENT)
    assert live is not None and "labels" not in live["metadata"]


async def test_an_unreachable_region_fails_alone_and_nothing_is_deleted(clusters: Clusters) -> None:
    await reconcile(_cluster(), clusters.reconciler)
    await clusters.regions["region-b"].stop_serving()
    outcome = await reconcile(_cluster(image="ner-ha/inference:0.2.0"), clusters.reconciler)
    error = outcome.results["region-b"].error
    assert error is not None and (error.reason, error.transient) == ("Unreachable", True)
    assert not outcome.results["region-b"].reachable
    assert outcome.results["region-a"].ok
    assert {c.kind for t, c in outcome.changes if t == "region-a"} == {"Deployment"}
    removal = await remove_all(make_cluster(), clusters.reconciler)
    assert not removal.results["region-b"].ok  # the caller retries; region-a is clean already
    assert await clusters.regions["region-a"].get(DEPLOYMENT) is None


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (None, "KubeconfigSecretNotFound", "does not exist"),
        ({"other": "eA=="}, "KubeconfigInvalid", "has no key 'kubeconfig'"),
        ({"kubeconfig": "!!!"}, "KubeconfigInvalid", "not a usable kubeconfig"),
        ({"kubeconfig": "WzEsIDJd"}, "KubeconfigInvalid", "not a usable kubeconfig"),  # [1, 2]
        ({"kubeconfig": "YTogYg=="}, "KubeconfigInvalid", "not a usable kubeconfig"),  # a: b
    ],
)
async def test_kubeconfig_problems_are_named(
    clusters: Clusters, data: dict[str, str] | None, reason: str, words: str
) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/secrets/region-b-kubeconfig"
    await clusters.management.delete(path)
    if data is not None:
        body = {"metadata": {"name": "region-b-kubeconfig", "namespace": NAMESPACE}, "data": data}
        await clusters.management.create(f"/api/v1/namespaces/{NAMESPACE}/secrets", body)
    outcome = await reconcile(_cluster(), clusters.reconciler)
    error = outcome.results["region-b"].error
    assert error is not None and error.reason == reason and not error.transient
    assert words in error.message and "region-b-kubeconfig" in error.message
    assert outcome.results["region-a"].ok


async def test_clients_are_cached_until_the_secret_changes(clusters: Clusters) -> None:
    cluster = _cluster()
    target = cluster.targets()["region-a"]
    first = await clusters.clients.for_target(target, NAMESPACE)
    assert await clusters.clients.for_target(target, NAMESPACE) is first
    await clusters.management.merge_patch(
        f"/api/v1/namespaces/{NAMESPACE}/secrets/region-a-kubeconfig",
        {"metadata": {"annotations": {"rotated": "yes"}}},
    )
    assert await clusters.clients.for_target(target, NAMESPACE) is not first


def test_desired_objects_are_keyed_by_target() -> None:
    desired = layout.desired_objects(make_cluster())
    assert set(desired) == set(make_cluster().targets()) == {"region-a", "region-b"}
    assert all(o["metadata"]["labels"]["nerha.dev/cluster-uid"] == UID for o in desired["region-a"])


async def _reconcile_twice(clusters: Clusters, first: Cluster, second_spec: dict[str, Any]) -> Any:
    """Reconcile ``first``, then the new spec with the status the first reconcile wrote."""
    report = status.report(await reconcile(first, clusters.reconciler), {})
    second = make_cluster(second_spec, targets=report.fields["targets"])
    return await reconcile(second, clusters.reconciler)


async def test_a_removed_region_is_cleaned_up(clusters: Clusters) -> None:
    both = samples.spec(mode="activeActive")
    only_a = samples.spec(mode="activeActive", regions=both["regions"][:1])
    outcome = await _reconcile_twice(clusters, make_cluster(both), only_a)
    assert set(outcome.results) == {"region-a"}
    removed = outcome.stale["region-b"]
    assert removed.ok and {c.action for c in removed.changes} == {"deleted"}
    assert await clusters.regions["region-b"].get(DEPLOYMENT) is None
    assert await clusters.regions["region-a"].get(DEPLOYMENT) is not None
    patch = status.report(outcome, {}).fields
    assert patch["targets"]["region-b"] is None  # cleaned: forgotten


async def test_a_moved_namespace_is_cleaned_up(clusters: Clusters) -> None:
    moved = samples.spec()
    moved["regions"][0]["namespace"] = "ner-new"
    outcome = await _reconcile_twice(clusters, _cluster(), moved)
    assert outcome.stale["region-a"].ok
    region = clusters.regions["region-a"]
    assert await region.get(DEPLOYMENT) is None
    assert await region.get("/apis/apps/v1/namespaces/ner-new/deployments/demo") is not None
    assert await clusters.regions["region-b"].get(DEPLOYMENT) is not None  # untouched


async def test_a_failed_cleanup_is_kept_for_retry(clusters: Clusters) -> None:
    both = samples.spec(mode="activeActive")
    report = status.report(await reconcile(make_cluster(both), clusters.reconciler), {})
    await clusters.regions["region-b"].stop_serving()
    only_a = samples.spec(mode="activeActive", regions=both["regions"][:1])
    targets = report.fields["targets"]
    outcome = await reconcile(make_cluster(only_a, targets=targets), clusters.reconciler)
    second = status.report(outcome, report.fields)
    assert "region-b" not in second.fields["targets"]  # the old placement stays in status
    degraded = next(c for c in second.conditions if c.type == "Degraded")
    assert degraded.status == "True" and "no longer a target" in degraded.message
    assert second.fields["phase"] == "Degraded"


async def test_scale_sets_deployment_replicas(clusters: Clusters) -> None:
    await reconcile(_cluster(), clusters.reconciler)
    client = await clusters.clients.for_target(_cluster().targets()["region-b"], NAMESPACE)
    scaled = await client.scale("ner", "demo", 3)
    assert scaled["spec"]["replicas"] == 3
    live = await clusters.regions["region-b"].get(DEPLOYMENT)
    assert live is not None and live["spec"]["replicas"] == 3
