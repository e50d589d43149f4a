"""Operator latency: a NerCluster is created -> every object exists in both regions.

    python bench/operator.py [--runs 7]

Three Kubernetes API emulators (management, region-a, region-b) on loopback and the real operator
(``python -m ner_operator``) in a subprocess, as in the integration tests. Each run creates a new
NerCluster and polls both regions every 5 ms until its Deployment, Service, HPA and PDB are all
there, then deletes it and waits until the finalizer has removed everything. The first run after
the operator starts is reported separately (cold: kopf's first watch events, client set-up).

Writes bench/results/operator.json. Run it on an idle machine; the load average at the start is
recorded with the result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

import kmock

from tests.support import samples
from tests.support.harness import NAMESPACE, NERCLUSTERS, ApiServer, World

RESULTS = Path(__file__).parent / "results" / "operator.json"
POLL = 0.005


RESOURCES = (
    kmock.resource("apps", "v1", "deployments"),
    kmock.resource("", "v1", "services"),
    kmock.resource("autoscaling", "v2", "horizontalpodautoscalers"),
    kmock.resource("policy", "v1", "poddisruptionbudgets"),
)


async def _present(world: World, name: str) -> bool:
    # Read the emulators' state in memory: polling them over HTTP every few milliseconds would
    # compete with the operator's own requests for this process's event loop.
    for region in world.regions.values():
        objects = region.emulator.objects
        for resource in RESOURCES:
            key = (resource, "ner", name)
            if key not in objects or objects[key].deleted:
                return False
    return True


async def _deployment_in(region: ApiServer, name: str) -> bool:
    key = (RESOURCES[0], "ner", name)
    return key in region.emulator.objects and not region.emulator.objects[key].deleted


async def _until(check: object, limit: float = 30.0) -> float:
    started = time.perf_counter()
    while not await check():  # type: ignore[operator]
        if time.perf_counter() - started > limit:
            raise TimeoutError("the operator did not converge")
        await asyncio.sleep(POLL)
    return time.perf_counter() - started


async def one_run(world: World, name: str) -> tuple[float, float]:
    """(seconds until every object exists, seconds until deletion removed everything)."""
    started = time.perf_counter()
    await world.management.create(NERCLUSTERS, samples.nercluster(name, NAMESPACE))
    await _until(lambda: _present(world, name))
    applied = time.perf_counter() - started

    async def gone() -> bool:
        if await world.management.get(f"{NERCLUSTERS}/{name}") is not None:
            return False
        return not any([await _deployment_in(r, name) for r in world.regions.values()])

    started = time.perf_counter()
    await world.management.delete(f"{NERCLUSTERS}/{name}")
    await _until(gone)
    return applied, time.perf_counter() - started


async def bench(runs: int) -> dict[str, object]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp))
        await world.start()
        try:
            # A long resync: the numbers measure the create handler, not the drift-repair timer.
            world.operator("--standalone", resync=300.0)
            cold, cold_delete = await one_run(world, "bench-cold")
            results = [await one_run(world, f"bench-{i}") for i in range(runs)]
        finally:
            await world.close()
    applied = [a for a, _ in results]
    deleted = [d for _, d in results]
    return {
        "apply_to_objects_s": round(statistics.median(applied), 4),
        "apply_to_objects_max_s": round(max(applied), 4),
        "apply_to_objects_cold_s": round(cold, 4),
        "delete_to_removed_s": round(statistics.median(deleted), 4),
        "delete_to_removed_cold_s": round(cold_delete, 4),
        "runs": runs,
        "objects": len(RESOURCES) * 2,
        "load_average_1m_at_start": round(load, 2),
        "cpus": os.cpu_count(),
        "bar_apply_to_objects_s": 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(bench(max(5, args.runs)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'metric':<28} {'value':>10}")
    for key in (
        "apply_to_objects_s",
        "apply_to_objects_max_s",
        "apply_to_objects_cold_s",
        "delete_to_removed_s",
        "delete_to_removed_cold_s",
    ):
        print(f"{key:<28} {result[key]:>10.3f}")
    print(
        f"median of {result['runs']} runs, {result['objects']} objects in 2 regions, "
        f"load {result['load_average_1m_at_start']} on {result['cpus']} CPUs; bar < 1 s"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
