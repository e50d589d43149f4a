"""More failover scenarios of the real operator: manual failback, a flapping region, and an
operator killed in the middle of a switch. Same world as ``test_failover``: emulated regions,
real HTTP endpoints per region, time scaled down from the defaults with the ratios kept."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.failover.fake_region import Endpoint
from tests.integration.test_failover import (
    _create,
    _event_reasons,
    _pods_ready,
    _replicas,
    _serving,
    _status,
)
from tests.support.harness import NAMESPACE, NERCLUSTERS, World, eventually

pytestmark = pytest.mark.integration
SWITCH_TO = "nerha.dev/switch-to"


@pytest.fixture(autouse=True)
def _fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NER_OPERATOR_FAILOVER_TICK_SECONDS", "0.1")


async def _annotate(world: World, region: str) -> None:
    """What ``kubectl annotate nerc demo nerha.dev/switch-to=<region> --overwrite`` sends."""
    patch = {"metadata": {"annotations": {SWITCH_TO: region}}}
    await world.management.merge_patch(f"{NERCLUSTERS}/demo", patch)


async def _fail_over_to_b(world: World, endpoints: dict[str, Endpoint]) -> None:
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    endpoints["region-a"].kill()
    await eventually(lambda: _serving(world, endpoints, "region-b"), within=15)


async def test_manual_failback_waits_for_the_annotation(
    world: World,
    endpoints: dict[str, Endpoint],
) -> None:
    world.operator()
    await _create(world, endpoints, failback="manual")
    await _fail_over_to_b(world, endpoints)

    # A switch to a region that is down is refused, and says why.
    await _annotate(world, "region-a")

    async def refused() -> bool:
        return "SwitchoverRefused" in await _event_reasons(world)

    await eventually(refused, within=10)
    assert (await _status(world))["activeRegion"] == "region-b"

    # Region A is healthy again. Well past cooldown (3 s) and switch interval (6 s), nothing
    # moves by itself in manual mode, even with the refused annotation still in place: a
    # request is honoured when it is made, not later behind the user's back.
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo", {"metadata": {"annotations": {SWITCH_TO: None}}}
    )
    endpoints["region-a"].start()

    async def a_healthy() -> bool:
        health = (await _status(world)).get("health") or {}
        return bool((health.get("region-a") or {}).get("healthy"))

    await eventually(a_healthy, within=15)
    await asyncio.sleep(10)
    status = await _status(world)
    assert status["activeRegion"] == "region-b"
    assert await _replicas(world, "region-a") == 1
    assert "FailbackStarted" not in await _event_reasons(world)

    # The user asks for it: capacity first in region A, then traffic, then region B down to warm.
    await _annotate(world, "region-a")

    async def a_scaled_up() -> bool:
        return await _replicas(world, "region-a") == 3

    await eventually(a_scaled_up, within=15)
    await _pods_ready(world, "region-a", 3)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=20)
    assert "FailbackCompleted" in await _event_reasons(world)


async def test_a_region_flapping_for_a_minute_causes_at_most_one_failover(
    world: World,
    endpoints: dict[str, Endpoint],
) -> None:
    # Defaults / 4: probes every 0.5 s, cooldown 15 s, at most one switch per 30 s; the flap
    # lasts 15 s (a minute at the defaults): down 2 s (4 probes), up 1.5 s, over and over.
    world.operator()
    await _create(world, endpoints, cooldownSeconds=15, minSwitchIntervalSeconds=30)
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    flap_ends = time.monotonic() + 15
    while time.monotonic() < flap_ends:
        endpoints["region-a"].kill()
        await asyncio.sleep(2)
        endpoints["region-a"].start()
        await asyncio.sleep(1.5)
    await asyncio.sleep(2)  # the last probes of the flap are decided

    reasons = await _event_reasons(world)
    assert reasons.count("FailoverStarted") <= 1, reasons
    assert "FailbackStarted" not in reasons
    status = await _status(world)
    # It did fail over once (the first 2 s outage is 4 bad probes), and stayed there.
    assert status["activeRegion"] == "region-b"
    assert status["lastFailover"]["to"] == "region-b"


async def test_an_operator_killed_mid_switch_is_finished_by_the_next_one(
    world: World,
    endpoints: dict[str, Endpoint],
) -> None:
    first = world.operator(name="first")
    await _create(world, endpoints)
    await _fail_over_to_b(world, endpoints)

    # Auto failback starts: region A is scaled up and the switch waits for its pods. The
    # operator dies right there, with the switch half done.
    endpoints["region-a"].start()

    async def scaling_up() -> dict[str, Any]:
        status = await _status(world)
        assert (status.get("failover") or {}).get("phase") == "ScalingUp", status.get("failover")
        assert await _replicas(world, "region-a") == 3
        return status

    await eventually(scaling_up, within=30)
    first.stop(kill=True)
    assert (await _status(world))["activeRegion"] == "region-b"

    await _pods_ready(world, "region-a", 3)
    world.operator(name="second")
    await eventually(lambda: _serving(world, endpoints, "region-a"), within=30)
    reasons = await _event_reasons(world)
    assert reasons.count("FailbackStarted") == 1, reasons
    assert reasons.count("FailbackCompleted") == 1, reasons
    await asyncio.sleep(2)  # and it stays done: no second switch
    assert (await _status(world))["activeRegion"] == "region-a"
    assert await _replicas(world, "region-b") == 1
    events = await world.management.get(f"/api/v1/namespaces/{NAMESPACE}/events") or {}
    assert events.get("items"), "the operators wrote no events"
