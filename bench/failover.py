"""Operator failover speed: the real operator, emulated regions, real HTTP endpoints.

    python bench/failover.py [--runs 5]

Per run: three Kubernetes API emulators and ``python -m ner_operator`` (tests.support.harness),
region endpoints are small real HTTP servers (tests.failover.fake_region) that answer the golden
inference correctly. The primary's server is SIGKILLed; measured:

* ``detect_s``: kill -> the operator decided to fail over (``status.failover.lastSwitch.startedAt``)
* ``failover_s``: kill -> the standby's Deployment at full replicas, the gateway ConfigMap naming
  it primary, ``status.activeRegion`` switched and the switch complete (``FailedOver``).

Default settings (probe interval 2 s, failure threshold 3). Then the flap scenario at 4x time
scale (0.5 s probes, 15 s cooldown... ratios of the defaults kept): region A's server bounces for
60 s scaled (15 s) and ``failovers_during_flap`` counts the failovers. Writes
bench/results/failover.json. The emulators have no kubelet, so "full replicas" is the
Deployment's spec; a real cluster adds pod start-up (the image's readiness, ~2 s for builtin).
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_failover import (  # noqa: E402
    Endpoint,
    _create,
    _serving,
    _status,
)
from tests.support.harness import World, eventually  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "failover.json"
DEFAULTS = {
    "probeIntervalSeconds": 2,
    "probeTimeoutSeconds": 2,
    "failureThreshold": 3,
    "successThreshold": 5,
    "cooldownSeconds": 60,
    "minSwitchIntervalSeconds": 120,
}
SCALED = {
    "probeIntervalSeconds": 0.5,
    "probeTimeoutSeconds": 0.5,
    "failureThreshold": 3,
    "successThreshold": 5,
    "cooldownSeconds": 15,
    "minSwitchIntervalSeconds": 30,
}


async def one_run(tmp: Path) -> dict[str, float]:
    endpoints = {"region-a": Endpoint("a"), "region-b": Endpoint("b")}
    for endpoint in endpoints.values():
        endpoint.start()
    world = World(tmp)
    await world.start()
    try:
        world.operator()
        await _create(world, endpoints, **DEFAULTS)
        await eventually(lambda: _serving(world, endpoints, "region-a"), within=60)

        async def healthy() -> bool:
            health = (await _status(world)).get("health") or {}
            return all((health.get(r) or {}).get("healthy") for r in endpoints)

        await eventually(healthy, within=30)
        killed = time.time()
        endpoints["region-a"].kill()
        await eventually(lambda: _serving(world, endpoints, "region-b"), within=60, interval=0.05)
        done = time.time()
        last = (await _status(world))["failover"]["lastSwitch"]
        return {"detect_s": last["startedAt"] - killed, "failover_s": done - killed}
    finally:
        for operator in world.operators:
            operator.stop()
        await world.close()
        for endpoint in endpoints.values():
            endpoint.kill()


async def flap_run(tmp: Path) -> int:
    os.environ["NER_OPERATOR_FAILOVER_TICK_SECONDS"] = "0.1"
    endpoints = {"region-a": Endpoint("a"), "region-b": Endpoint("b")}
    for endpoint in endpoints.values():
        endpoint.start()
    world = World(tmp)
    await world.start()
    try:
        world.operator()
        await _create(world, endpoints, **SCALED)
        await eventually(lambda: _serving(world, endpoints, "region-a"), within=60)
        a = endpoints["region-a"]
        deadline = time.monotonic() + 15  # 60 s at the default scale
        up = True
        while time.monotonic() < deadline:
            # Down long enough to cross the threshold, up too briefly for the cooldown.
            if up:
                a.kill()
            else:
                a.start()
            up = not up
            await asyncio.sleep(2.0 if not up else 1.0)
        a.kill()
        a.start()
        await asyncio.sleep(2)
        failovers: int = (await _status(world))["failover"]["failovers"]
        return failovers
    finally:
        for operator in world.operators:
            operator.stop()
        await world.close()
        for endpoint in endpoints.values():
            endpoint.kill()
        os.environ.pop("NER_OPERATOR_FAILOVER_TICK_SECONDS", None)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            run_dir = Path(tmp) / f"run{i}"
            run_dir.mkdir()
            runs.append(await one_run(run_dir))
            print(
                f"run {i + 1}: detect {runs[-1]['detect_s']:.2f} s, "
                f"failover {runs[-1]['failover_s']:.2f} s",
                file=sys.stderr,
            )
        flap_dir = Path(tmp) / "flap"
        flap_dir.mkdir()
        flaps = await flap_run(flap_dir)
    result: dict[str, Any] = {
        "detect_s": round(statistics.median(r["detect_s"] for r in runs), 2),
        "failover_s": round(statistics.median(r["failover_s"] for r in runs), 2),
        "failovers_during_flap": flaps,
        "runs": runs,
        "settings": {"default": DEFAULTS, "flap (time / 4)": SCALED},
        "load": os.getloadavg(),
        "bar": {"failover_s": "< 10", "failovers_during_flap": "<= 1"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'metric':<24}{'value':>10}  bar")
    print(f"{'detect_s (median)':<24}{result['detect_s']:>10.2f}")
    print(f"{'failover_s (median)':<24}{result['failover_s']:>10.2f}  < 10")
    print(f"{'failovers_during_flap':<24}{flaps:>10d}  <= 1")
    print(f"load average {result['load']}; wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
