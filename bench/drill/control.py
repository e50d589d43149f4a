"""``--with-operator``: the real operator decides the failover; the drill's gateway follows it.

The operator (``python -m ner_operator``) runs against the API emulators of the operator's tests
(``tests.support.harness``: a management cluster and one per region). Its failover timer probes
each region's endpoint (``/ready`` and the golden inference on the first server of the region),
decides, and records ``status.activeRegion``. The drill polls that field and, on a change,
renders the gateway again with the same renderer (the new active region primary, the other
backup) and reloads nginx, as the gateway pods do when the operator's ConfigMap changes. That
measures the control plane's failover time next to the data plane's.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# Time scaled down 4x from the CRD defaults (2 s probes, 3 failures), ratios kept, as in the
# operator's integration tests; cooldown and flap damping short enough to fail back in one run.
FAILOVER = {
    "probeIntervalSeconds": 0.5,
    "probeTimeoutSeconds": 0.5,
    "failureThreshold": 3,
    "successThreshold": 5,
    "cooldownSeconds": 3,
    "minSwitchIntervalSeconds": 6,
}
CLUSTER = "drill"
DEPLOYMENT = f"/apis/apps/v1/namespaces/ner/deployments/{CLUSTER}"


class ControlPlane:
    def __init__(self, work_dir: Path) -> None:
        # Imported here: only this variant needs the test harness (and the repository checkout).
        from tests.support.harness import World

        work_dir.mkdir(parents=True, exist_ok=True)
        self.world = World(work_dir)

    async def start(self, endpoints: dict[str, str]) -> None:
        from tests.support import samples
        from tests.support.harness import NAMESPACE, NERCLUSTERS

        os.environ.setdefault("NER_OPERATOR_FAILOVER_TICK_SECONDS", "0.1")
        await self.world.start()
        self.world.operator()
        spec = samples.spec(
            failover=FAILOVER,
            gateway={"enabled": True, "serviceType": "ClusterIP"},
            autoscaling={"enabled": False},
        )
        for region in spec["regions"]:
            region["endpoint"] = endpoints[region["name"]]
        body = samples.nercluster(CLUSTER, namespace=NAMESPACE, spec_=spec)
        await self.world.management.create(NERCLUSTERS, body)
        for region in endpoints:
            await self.pods_ready(region)
        await self.wait(lambda s: bool(_healthy(s, "region-a")), within=60)

    async def status(self) -> dict[str, Any]:
        cluster = await self.world.nercluster(CLUSTER) or {}
        status: dict[str, Any] = cluster.get("status") or {}
        return status

    async def active_region(self) -> str | None:
        status = await self.status()
        active = status.get("activeRegion")
        return None if active is None else str(active)

    async def wait(self, check: Callable[[dict[str, Any]], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not check(await self.status()):
            if time.monotonic() > deadline:
                log = self.world.operators[0].log()[-3000:] if self.world.operators else ""
                raise TimeoutError(f"operator not there after {within} s; its log ends:\n{log}")
            await asyncio.sleep(0.1)

    async def pods_ready(self, region: str) -> None:
        """Play the kubelet: the emulator runs no pods, so report the Deployment's pods ready."""
        deployment: dict[str, Any] | None = None
        deadline = time.monotonic() + 60
        while deployment is None:
            deployment = await self.world.regions[region].get(DEPLOYMENT)
            if deployment is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the operator made no Deployment in {region}")
                await asyncio.sleep(0.1)
        await self._report_ready(region, int(deployment["spec"]["replicas"]))

    async def follow(
        self, on_switch: Callable[[str], Awaitable[None]], initial: str, period: float = 0.05
    ) -> None:
        """Await ``on_switch(region)`` when ``status.activeRegion`` changes (until cancelled)."""
        active = initial
        while True:
            current = await self.active_region()
            if current is not None and current != active:
                active = current
                await on_switch(current)
            await asyncio.sleep(period)

    async def kubelet(self, is_up: Callable[[str], bool], period: float = 0.2) -> None:
        """Keep each region's Deployment status in line with its real servers (until cancelled)."""
        while True:
            for region in self.world.regions:
                deployment = await self.world.regions[region].get(DEPLOYMENT)
                if deployment is None:
                    continue
                want = int(deployment["spec"]["replicas"]) if is_up(region) else 0
                if (deployment.get("status") or {}).get("readyReplicas") != want:
                    await self._report_ready(region, want)
            await asyncio.sleep(period)

    async def _report_ready(self, region: str, count: int) -> None:
        ready = {"replicas": count, "readyReplicas": count, "availableReplicas": count}
        status, _ = await self.world.regions[region].request(
            "PATCH", DEPLOYMENT + "/status", {"status": ready}, "application/merge-patch+json"
        )
        if status != 200:  # an emulator without the status subresource keeps it on the object
            await self.world.regions[region].merge_patch(DEPLOYMENT, {"status": ready})

    async def close(self) -> None:
        await self.world.close()


def _healthy(status: dict[str, Any], region: str) -> bool:
    return bool(((status.get("health") or {}).get(region) or {}).get("healthy"))
