"""The real operator (python -m ner_operator) against three Kubernetes API emulators over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import samples
from tests.support.harness import NAMESPACE, NERCLUSTERS, REGIONS, World, eventually

pytestmark = pytest.mark.integration
KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")


async def _create(world: World, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    body = samples.nercluster(namespace=NAMESPACE, spec_=spec)
    return await world.management.create(NERCLUSTERS, body)


async def _all_objects_present(world: World) -> bool:
    for region in world.regions.values():
        for kind in KINDS:
            if await region.object(kind, "demo") is None:
                return False
    return True


def _condition(nercluster: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    conditions = ((nercluster or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), {})


async def test_apply_creates_every_object_in_both_regions_and_reports(world: World) -> None:
    world.operator()
    created = await _create(world)
    uid = created["metadata"]["uid"]
    await eventually(lambda: _all_objects_present(world))
    for name in REGIONS:
        for kind in KINDS:
            obj = await world.regions[name].object(kind, "demo")
            assert obj is not None
            assert obj["metadata"]["labels"]["nerha.dev/cluster-uid"] == uid
            assert obj["metadata"]["labels"]["nerha.dev/region"] == name
    primary = await world.regions["region-a"].object("Deployment", "demo")
    standby = await world.regions["region-b"].object("Deployment", "demo")
    assert primary is not None and primary["spec"]["replicas"] == 3
    assert standby is not None and standby["spec"]["replicas"] == 1  # warm

    async def reported() -> dict[str, Any] | None:
        nercluster = await world.nercluster()
        status = (nercluster or {}).get("status") or {}
        return nercluster if status.get("observedGeneration") == 1 else None

    nercluster = await eventually(reported)
    status = nercluster["status"]
    assert status["phase"] == "Progressing"  # no pod is ready: no controller in the emulator
    assert status["regions"]["region-a"]["reachable"] is True
    assert status["regions"]["region-a"]["desiredReplicas"] == 3
    assert status["regions"]["region-b"]["desiredReplicas"] == 1
    assert _condition(nercluster, "Degraded")["status"] == "False"
    assert _condition(nercluster, "Ready")["status"] == "False"
    assert _condition(nercluster, "Progressing")["status"] == "True"
    assert "nerha.dev/cleanup" in nercluster["metadata"]["finalizers"]

    # Pods become ready (simulated: there is no Deployment controller here).
    for name, ready in (("region-a", 3), ("region-b", 1)):
        path = "/apis/apps/v1/namespaces/ner/deployments/demo"
        await world.regions[name].merge_patch(path, {"status": {"readyReplicas": ready}})

    async def ready() -> bool:
        nercluster = await world.nercluster()
        return _condition(nercluster, "Ready").get("status") == "True"

    await eventually(ready)
    nercluster = await world.nercluster()
    assert nercluster is not None
    assert nercluster["status"]["phase"] == "Ready"
    assert nercluster["status"]["readySummary"] == "4/4"
