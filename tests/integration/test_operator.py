"""The real operator (python -m ner_operator) against three Kubernetes API emulators over HTTP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from tests.support import samples
from tests.support.harness import (
    NAMESPACE,
    NERCLUSTERS,
    REGIONS,
    World,
    condition_of,
    eventually,
)

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
    assert condition_of(nercluster, "Degraded")["status"] == "False"
    assert condition_of(nercluster, "Ready")["status"] == "False"
    assert condition_of(nercluster, "Progressing")["status"] == "True"
    assert "nerha.dev/cleanup" in nercluster["metadata"]["finalizers"]

    # Pods become ready (simulated: there is no Deployment controller here).
    for name, ready in (("region-a", 3), ("region-b", 1)):
        path = "/apis/apps/v1/namespaces/ner/deployments/demo"
        await world.regions[name].merge_patch(path, {"status": {"readyReplicas": ready}})

    async def ready() -> bool:
        nercluster = await world.nercluster()
        return condition_of(nercluster, "Ready").get("status") == "True"

    await eventually(ready)
    nercluster = await world.nercluster()
    assert nercluster is not None
    assert nercluster["status"]["phase"] == "Ready"
    assert nercluster["status"]["readySummary"] == "4/4"


DEPLOYMENT = "/apis/apps/v1/namespaces/ner/deployments/demo"
SERVICE = "/api/v1/namespaces/ner/services/demo"


async def _deployment(world: World, region: str) -> dict[str, Any]:
    deployment = await world.regions[region].object("Deployment", "demo")
    assert deployment is not None, f"no Deployment in {region}"
    return deployment


def _image(deployment: dict[str, Any]) -> str:
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


async def _observed(world: World, generation: int) -> dict[str, Any] | None:
    nercluster = await world.nercluster()
    status = (nercluster or {}).get("status") or {}
    return nercluster if status.get("observedGeneration") == generation else None


async def test_spec_update_propagates_to_both_regions(world: World) -> None:
    world.operator()
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    regions = samples.spec()["regions"]
    regions[1]["warmReplicas"] = 2
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo", {"spec": {"image": "ner-ha/inference:0.2.0", "regions": regions}}
    )

    async def updated() -> bool:
        a, b = await _deployment(world, "region-a"), await _deployment(world, "region-b")
        images = {_image(a), _image(b)}
        return images == {"ner-ha/inference:0.2.0"} and b["spec"]["replicas"] == 2

    await eventually(updated)
    hpa = await world.regions["region-b"].object("HorizontalPodAutoscaler", "demo")
    assert hpa is not None and hpa["spec"]["minReplicas"] == 2
    await eventually(lambda: _observed(world, 2))


async def test_objects_deleted_or_edited_in_a_region_are_restored(world: World) -> None:
    world.operator()
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    region = world.regions["region-b"]
    original_uid = (await _deployment(world, "region-b"))["metadata"]["uid"]
    assert await region.delete(DEPLOYMENT) == 200
    await region.merge_patch(SERVICE, {"spec": {"type": "NodePort"}})

    async def restored() -> bool:
        deployment = await region.object("Deployment", "demo")
        service = await region.object("Service", "demo")
        return (
            deployment is not None
            and deployment["metadata"]["uid"] != original_uid
            and service is not None
            and service["spec"]["type"] == "LoadBalancer"
        )

    await eventually(restored, within=10)


async def test_standby_down_primary_still_reconciled_and_nothing_deleted(world: World) -> None:
    world.operator()
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    standby = world.regions["region-b"]
    await standby.stop_serving()
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo", {"spec": {"image": "ner-ha/inference:0.2.0"}}
    )

    async def primary_updated_and_degraded() -> dict[str, Any] | None:
        primary = await _deployment(world, "region-a")
        nercluster = await world.nercluster()
        degraded = condition_of(nercluster, "Degraded")
        if _image(primary) == "ner-ha/inference:0.2.0" and degraded.get("status") == "True":
            return nercluster
        return None

    nercluster = await eventually(primary_updated_and_degraded)
    degraded = condition_of(nercluster, "Degraded")
    assert degraded["reason"] == "Unreachable"
    assert "region-b" in degraded["message"] and "unreachable" in degraded["message"]
    assert nercluster["status"]["phase"] == "Degraded"
    assert nercluster["status"]["regions"]["region-b"]["reachable"] is False
    assert nercluster["status"]["regions"]["region-a"]["reachable"] is True
    for kind in KINDS:  # nothing was deleted in the primary
        assert await world.regions["region-a"].object(kind, "demo") is not None

    events = await world.management.get(f"/api/v1/namespaces/{NAMESPACE}/events")
    warnings = [
        e
        for e in (events or {}).get("items", [])
        if e["type"] == "Warning" and e["message"].startswith("region-b: ")
    ]
    assert [e["reason"] for e in warnings] == ["Unreachable"]  # once, not once per retry
    assert warnings[0]["involvedObject"]["name"] == "demo"

    await standby.start()  # same port, same objects

    async def recovered() -> bool:
        nercluster = await world.nercluster()
        deployment = await _deployment(world, "region-b")
        return (
            condition_of(nercluster, "Degraded").get("status") == "False"
            and _image(deployment) == "ner-ha/inference:0.2.0"
        )

    await eventually(recovered)
    events = await world.management.get(f"/api/v1/namespaces/{NAMESPACE}/events")
    reasons = {e["reason"] for e in (events or {}).get("items", [])}
    assert {"Reconciled", "Recovered"} <= reasons
    assert not any("succeeded" in e["message"] for e in (events or {}).get("items", []))


async def test_bad_kubeconfig_secret_becomes_a_condition_not_a_crash(world: World) -> None:
    operator = world.operator()
    await world.put_secret("region-b-kubeconfig", "this: [is not a kubeconfig")
    await _create(world)

    async def degraded() -> dict[str, Any]:
        condition = condition_of(await world.nercluster(), "Degraded")
        return condition if condition.get("reason") == "KubeconfigInvalid" else {}

    condition = await eventually(degraded)
    assert "region-b-kubeconfig" in condition["message"]
    assert await world.regions["region-a"].object("Deployment", "demo") is not None
    assert operator.running

    await world.put_secret("region-b-kubeconfig", world.regions["region-b"].kubeconfig())

    async def fixed() -> bool:
        nercluster = await world.nercluster()
        return condition_of(nercluster, "Degraded").get("status") == "False"

    await eventually(fixed)
    assert await world.regions["region-b"].object("Deployment", "demo") is not None


async def test_invalid_spec_becomes_a_condition_not_a_crash(world: World) -> None:
    operator = world.operator()
    # The emulator has no admission validation: the operator sees what a real server would reject.
    spec = samples.spec(regions=[{**r, "role": "primary"} for r in samples.spec()["regions"]])
    await _create(world, spec)

    async def error() -> dict[str, Any] | None:
        nercluster = await world.nercluster()
        return nercluster if ((nercluster or {}).get("status") or {}).get("phase") else None

    nercluster = await eventually(error)
    assert nercluster["status"]["phase"] == "Error"
    degraded = condition_of(nercluster, "Degraded")
    assert degraded["reason"] == "InvalidSpec"
    assert "exactly one region must have role: primary" in degraded["message"]
    assert await world.regions["region-a"].object("Deployment", "demo") is None
    assert operator.running
    await world.management.merge_patch(f"{NERCLUSTERS}/demo", {"spec": samples.spec()})
    await eventually(lambda: _all_objects_present(world))


async def test_delete_removes_everything_in_both_regions(world: World) -> None:
    world.operator()
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    assert await world.management.delete(f"{NERCLUSTERS}/demo") == 200

    async def gone() -> bool:
        if await world.nercluster() is not None:
            return False
        for region in world.regions.values():
            for kind in KINDS:
                if await region.objects(kind):
                    return False
        return True

    await eventually(gone)


async def test_delete_waits_for_an_unreachable_region_unless_told_to_skip(world: World) -> None:
    world.operator()
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    await world.regions["region-b"].stop_serving()
    await world.management.delete(f"{NERCLUSTERS}/demo")

    async def primary_cleaned() -> bool:
        return not await world.regions["region-a"].objects("Deployment")

    await eventually(primary_cleaned)
    await asyncio.sleep(2)  # several retries
    assert await world.nercluster() is not None  # the finalizer holds it while region-b is down
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo",
        {"metadata": {"annotations": {"nerha.dev/skip-region-cleanup": "true"}}},
    )

    async def deleted() -> bool:
        return await world.nercluster() is None

    await eventually(deleted)


async def test_restarted_operator_converges_without_duplicates(world: World) -> None:
    first = world.operator(name="first")
    await _create(world)

    async def started() -> bool:
        return await world.regions["region-a"].object("Deployment", "demo") is not None

    await eventually(started)
    first.stop(kill=True)  # mid-way: killed, no cleanup
    # Changes while no operator runs: a spec edit and a deleted object.
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo", {"spec": {"image": "ner-ha/inference:0.3.0"}}
    )
    await world.regions["region-a"].delete(SERVICE)
    world.operator(name="second")

    async def converged() -> bool:
        if not await _all_objects_present(world):
            return False
        images = {_image(await _deployment(world, r)) for r in REGIONS}
        return images == {"ner-ha/inference:0.3.0"}

    await eventually(converged)
    await eventually(lambda: _observed(world, 2))
    for region in world.regions.values():
        for kind in KINDS:
            assert [o["metadata"]["name"] for o in await region.objects(kind)] == ["demo"]


async def test_two_replicas_with_peering_only_one_acts(world: World) -> None:
    peering = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": "ner-operator", "namespace": NAMESPACE},
    }
    await world.management.create(f"/apis/kopf.dev/v1/namespaces/{NAMESPACE}/kopfpeerings", peering)
    active = world.operator("--peering", "ner-operator", "--priority", "200", name="active")
    passive = world.operator("--peering", "ner-operator", "--priority", "100", name="passive")

    peering_path = f"/apis/kopf.dev/v1/namespaces/{NAMESPACE}/kopfpeerings/ner-operator"

    async def both_peers_known() -> bool:
        peers = (await world.management.get(peering_path) or {}).get("status") or {}
        return sorted(p["priority"] for p in peers.values()) == [100, 200]

    await eventually(both_peers_known)
    await _create(world)
    await eventually(lambda: _all_objects_present(world))
    await asyncio.sleep(1.5)  # a resync interval: the passive one would have acted by now
    assert "Handler 'apply' succeeded" in active.log()
    assert "Handler 'apply'" not in passive.log()
    assert "Timer 'resync'" not in passive.log()

    # SIGTERM: kopf removes the replica from the peering object, the passive one takes over.
    active.terminate()
    await world.regions["region-a"].delete(DEPLOYMENT)

    async def taken_over() -> bool:
        return await world.regions["region-a"].object("Deployment", "demo") is not None

    await eventually(taken_over)

    async def exited() -> bool:
        return not active.running

    await eventually(exited, within=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_metrics_and_liveness_endpoints(world: World) -> None:
    port, liveness = _free_port(), _free_port()
    world.operator(
        "--standalone",
        "--metrics-port",
        str(port),
        "--liveness",
        f"http://127.0.0.1:{liveness}/healthz",
    )
    await _create(world)
    await eventually(lambda: _all_objects_present(world))

    async def scraped() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
        ok = 'ner_operator_reconcile_total{nercluster="ner-system/demo",result="ok",target="%s"}'
        return text if all(ok % r in text for r in REGIONS) else ""

    text = await eventually(scraped)
    assert 'ner_operator_object_changes_total{action="created",kind="Deployment"' in text
    assert "ner_operator_reconcile_duration_seconds_bucket" in text
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{liveness}/healthz") as response,
    ):
        assert response.status == 200
