from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
