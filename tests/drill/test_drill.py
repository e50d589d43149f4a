"""The short drill: real servers in two regions, the real gateway nginx, region A lost mid-load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.drill import report
from bench.drill.runner import DrillConfig, Kill, run_drill

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REQUESTS = 3000
# Region A's servers answer during their drain after SIGTERM. On a fast machine the whole run
# could end inside a 1 s drain, and B would never be asked: a short drain keeps the switch to B
# inside the run (the drill itself uses 1 s).
DRAIN_SECONDS = 0.2


@pytest.mark.parametrize("kill", ["sigkill", "sigterm"])
async def test_losing_region_a_under_load_loses_no_request(kill: Kill, tmp_path: Path) -> None:
    config = DrillConfig(
        requests=REQUESTS, concurrency=30, kill=kill, drain_seconds=DRAIN_SECONDS, quiet=True
    )
    run = await run_drill(config, tmp_path)
    summary = report.summarize(run)

    assert summary["requests"] == REQUESTS
    assert summary["lost"] == 0, summary["lost_by_reason"]
    # Both regions answered: A before the loss, B after it (the switch happened).
    assert summary["answered_by_region"]["region-a"] > 0
    assert summary["answered_by_region"]["region-b"] > 0
    assert summary["switch_ms"] is not None
    # The gateway saw every request once, and none ended in an error there either.
    assert summary["nginx_logged"] == REQUESTS
    assert summary["nginx_non_2xx"] == 0
    # Region A came back after the loss.
    assert any(what == "region region-a ready" for what, _ in run.events)
