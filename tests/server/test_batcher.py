"""The micro-batcher with the real model: concurrent requests share forward passes,
and every caller gets exactly the answer for its own texts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from ner_inference.builtin import BuiltinModel, load, msra
from ner_inference.entities import Entity
from ner_inference.server.batcher import MicroBatcher


@pytest.fixture(scope="module")
def model() -> BuiltinModel:
    return load()


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return [text for text, _ in msra.read("test")[:120]]


async def test_concurrent_requests_share_batches_and_keep_their_answers(
    model: BuiltinModel, sentences: list[str]
) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(
        model.predict, max_texts=32, max_wait=0.005, on_batch=lambda n, _: sizes.append(n)
    )
    batcher.start()
    try:
        requests = [sentences[i : i + 1 + i % 3] for i in range(0, 100, 2)]  # 1 to 3 texts each
        answers = await asyncio.gather(*(batcher.predict(texts) for texts in requests))
    finally:
        await batcher.stop()
    expected = [model.predict(texts) for texts in requests]
    assert answers == expected
    assert sum(sizes) == sum(len(texts) for texts in requests)
    assert max(sizes) <= 32
    assert len(sizes) < len(requests) / 4  # batched, not one pass per request


async def test_a_request_larger_than_the_batch_runs_alone(
    model: BuiltinModel, sentences: list[str]
) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(
        model.predict, max_texts=8, max_wait=0.001, on_batch=lambda n, _: sizes.append(n)
    )
    batcher.start()
    try:
        big, small = sentences[:20], sentences[20:21]
        answers = await asyncio.gather(batcher.predict(big), batcher.predict(small))
    finally:
        await batcher.stop()
    assert answers == [model.predict(big), model.predict(small)]
    assert sizes == [20, 1]


async def test_a_failing_batch_fails_its_requests_and_the_next_batch_runs() -> None:
    def predict(texts: Sequence[str]) -> list[list[Entity]]:
        if "boom" in texts:
            raise RuntimeError("model error")
        return [[] for _ in texts]

    batcher = MicroBatcher(predict, max_texts=4, max_wait=0.01)
    batcher.start()
    try:
        results = await asyncio.gather(
            batcher.predict(["a"]), batcher.predict(["boom"]), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        assert await batcher.predict(["c"]) == [[]]
    finally:
        await batcher.stop()


async def test_stop_fails_waiting_requests_instead_of_leaving_them_hanging() -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(texts: Sequence[str]) -> list[list[Entity]]:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(5)
        return [[] for _ in texts]

    batcher = MicroBatcher(slow, max_texts=1, max_wait=0)
    batcher.start()
    running = asyncio.ensure_future(batcher.predict(["a"]))
    waiting = asyncio.ensure_future(batcher.predict(["b"]))
    await asyncio.sleep(0.05)
    stopping = asyncio.ensure_future(batcher.stop())
    await asyncio.sleep(0.05)
    release.set()
    await stopping
    for request in (running, waiting):
        with pytest.raises(RuntimeError, match="shutting down"):
            await request


async def test_with_two_slots_a_second_batch_runs_while_the_first_is_busy() -> None:
    """Both batches must be inside the model at once to pass the barrier; with one slot
    the second would wait for the first and the barrier would break."""
    barrier = threading.Barrier(2, timeout=5)

    def meet(texts: Sequence[str]) -> list[list[Entity]]:
        barrier.wait()
        return [[] for _ in texts]

    batcher = MicroBatcher(meet, max_texts=1, max_wait=0, concurrency=2)
    batcher.start()
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(batcher.predict(["a"]), batcher.predict(["b"])), 10
        )
    finally:
        await batcher.stop()
    assert answers == [[[]], [[]]]
    assert batcher.busy_since is None
