from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.failover.fake_region import Endpoint
from tests.support.harness import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = World(tmp_path)
    await world.start()
    try:
        yield world
    finally:
        await world.close()
        for operator in world.operators:
            print(f"---- {operator.log_path.name} ----\n{operator.log()[-20000:]}")


@pytest.fixture
def endpoints() -> Iterator[dict[str, Endpoint]]:
    """Both regions' endpoints, real HTTP servers answering correctly until told otherwise."""
    found = {"region-a": Endpoint("a"), "region-b": Endpoint("b")}
    for endpoint in found.values():
        endpoint.start()
    try:
        yield found
    finally:
        for endpoint in found.values():
            endpoint.kill()
