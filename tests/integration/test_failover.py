"""The failover timer of the real operator: emulated regions, real HTTP endpoints per region."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.failover.fake_region import Endpoint
from tests.support import samples
from tests.support.harness import NAMESPACE, NERCLUSTERS, World, eventually

pytestmark = pytest.mark.integration
CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
EVENTS = f"/api/v1/namespaces/{NAMESPACE}/events"
# Time scaled down 4x from the defaults (2 s probes, threshold 3), ratios kept.
FAILOVER = {
    "probeIntervalSeconds": 0.5,
    "probeTimeoutSeconds": 0.5,
    "failureThreshold": 3,
    "successThreshold": 5,
    "cooldownSeconds": 3,
    "minSwitchIntervalSeconds": 6,
}


@pytest.fixture(autouse=True)
def _fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NER_OPERATOR_FAILOVER_TICK_SECONDS", "0.1")


async def _create(world: World, endpoints: dict[str, Endpoint], **failover: Any) -> None:
    spec = samples.spec(
        failover={**FAILOVER, **failover},
        gateway={"enabled": True, "serviceType": "ClusterIP"},
        autoscaling={"enabled": False},
    )
    for region in spec["regions"]:
        region["endpoint"] = endpoints[region["name"]].url
    await world.management.create(NERCLUSTERS, samples.nercluster(namespace=NAMESPACE, spec_=spec))


async def _status(world: World) -> dict[str, Any]:
    return ((await world.nercluster()) or {}).get("status") or {}


async def _replicas(world: World, region: str) -> int | None:
    deployment = await world.regions[region].object("Deployment", "demo")
    return None if deployment is None else int(deployment["spec"]["replicas"])


async def _gateway_primary(world: World, endpoints: dict[str, Endpoint]) -> str | None:
    configmap = await world.management.get(f"{CONFIGMAPS}/demo-gateway")
    if configmap is None:
        return None
    conf = configmap["data"]["nginx.conf"]
    for region, endpoint in endpoints.items():
        server = f"server 127.0.0.1:{endpoint.port} "
        line = next((x for x in conf.splitlines() if server in x), "")
        if line and "backup" not in line:
            return region
    return None


async def _pods_ready(world: World, region: str, ready: int) -> None:
    path = "/apis/apps/v1/namespaces/ner/deployments/demo"
    patch = {"status": {"replicas": ready, "readyReplicas": ready, "availableReplicas": ready}}
    status, _ = await world.regions[region].request(
        "PATCH", path + "/status", patch, "application/merge-patch+json"
    )
    if status != 200:  # an emulator without the status subresource stores it on the object
        await world.regions[region].merge_patch(path, patch)


async def _event_reasons(world: World) -> list[str]:
    listing = await world.management.get(EVENTS) or {}
    return [e.get("reason", "") for e in listing.get("items") or []]


async def _serving(world: World, endpoints: dict[str, Endpoint], region: str) -> bool:
    status = await _status(world)
    other = "region-b" if region == "region-a" else "region-a"
    return (
        status.get("activeRegion") == region
        and (status.get("failover") or {}).get("phase") == "Stable"
        and await _replicas(world, region) == 3
        and await _replicas(world, other) == 1
        and await _gateway_primary(world, endpoints) == region
    )


async def test_primary_killed_fails_over_then_fails_back(
    world: World, endpoints: dict[str, Endpoint]
) -> None:
    world.operator()
    await _create(world, endpoints)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)

    async def healthy() -> dict[str, Any]:
        health = (await _status(world)).get("health") or {}
        assert (health.get("region-a") or {}).get("healthy") is True, health
        return health

    health = await eventually(healthy, within=10)
    assert health["region-b"]["consecutiveSuccesses"] >= 1
    assert health["region-a"]["latencyMs"] > 0

    endpoints["region-a"].kill()
    killed = time.monotonic()
    await eventually(lambda: _serving(world, endpoints, "region-b"), within=15)
    took = time.monotonic() - killed
    # 3 probes 0.5 s apart, then one reconcile; generous for a loaded CI machine.
    assert took < 8, took
    status = await _status(world)
    assert status["lastFailover"]["from"] == "region-a"
    assert status["lastFailover"]["to"] == "region-b"
    assert "failed 3 probes" in status["lastFailover"]["reason"]
    await world.condition("FailedOver", "True")
    assert status["health"]["region-a"]["healthy"] is False
    reasons = await _event_reasons(world)
    assert "FailoverStarted" in reasons
    assert "FailoverCompleted" in reasons

    # Region A comes back: auto failback after the cooldown and the switch interval. The
    # emulator runs no pods, so play the kubelet: region A's pods become ready.
    endpoints["region-a"].start()

    async def a_scaled_up() -> bool:
        return await _replicas(world, "region-a") == 3

    await eventually(a_scaled_up, within=30)
    assert (await _status(world))["activeRegion"] == "region-b"  # capacity before traffic
    assert await _replicas(world, "region-b") == 3
    await _pods_ready(world, "region-a", 3)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    assert "FailbackCompleted" in await _event_reasons(world)


async def test_wrong_answers_trigger_failover(world: World, endpoints: dict[str, Endpoint]) -> None:
    world.operator()
    await _create(world, endpoints)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    # Region A keeps answering 200, with 北京 as an ORG: wrong, so down.
    endpoints["region-a"].kill()
    endpoints["region-a"].start("wrong")
    await eventually(lambda: _serving(world, endpoints, "region-b"), within=15)
    reason = (await _status(world))["lastFailover"]["reason"]
    assert "北京 found as ORG instead of LOC" in reason


async def test_region_api_down_but_endpoint_healthy_does_not_fail_over(
    world: World, endpoints: dict[str, Endpoint]
) -> None:
    world.operator()
    await _create(world, endpoints)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    await world.regions["region-a"].stop_serving()

    async def degraded() -> dict[str, Any]:
        status = await _status(world)
        health = status["health"]["region-a"]
        assert health["controlPlaneOk"] is False, health
        assert "Degraded" in health["reason"]
        assert "ControlPlaneDegraded" in await _event_reasons(world)
        return status

    await eventually(degraded, within=15)
    await asyncio.sleep(3)  # 6 probe rounds: twice the failure threshold
    status = await _status(world)
    assert status["activeRegion"] == "region-a"
    assert status["failover"]["phase"] == "Stable"
    assert "lastFailover" not in status
    assert await _gateway_primary(world, endpoints) == "region-a"
