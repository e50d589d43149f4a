"""Micro-batching: concurrent requests share one forward pass on one worker thread.

A forward pass over 32 sentences costs far less than 32 passes over one, so the event
loop queues each request's texts, and a single collector hands the worker everything
that is waiting (up to ``max_texts``) as one batch. A batch waits at most ``max_wait``
seconds for company; requests that arrive while the worker is busy form the next batch,
so under load batches fill up by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ner_inference.entities import Entity

Predict = Callable[[Sequence[str]], list[list[Entity]]]
OnBatch = Callable[[int, float], None]


@dataclass(slots=True)
class _Job:
    texts: Sequence[str]
    future: asyncio.Future[list[list[Entity]]]


class MicroBatcher:
    def __init__(
        self,
        predict: Predict,
        max_texts: int,
        max_wait: float,
        on_batch: OnBatch | None = None,
        concurrency: int = 1,
    ) -> None:
        self._predict = predict
        self._max_texts = max_texts
        self._max_wait = max_wait
        self._on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._queued_texts = 0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        # With two slots, one batch is collected (and its HTTP work done on the event loop)
        # while the other runs: the model does not sit idle between batches.
        self._slots = asyncio.Semaphore(concurrency)
        self._worker = ThreadPoolExecutor(concurrency, thread_name_prefix="ner-inference")
        self._collector: asyncio.Task[None] | None = None
        self._running: dict[asyncio.Task[None], tuple[float, list[_Job]]] = {}

    @property
    def busy_since(self) -> float | None:
        """Monotonic start of the oldest running batch; None when the model is idle."""
        return min((started for started, _ in self._running.values()), default=None)

    def start(self) -> None:
        self._collector = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        """Fail whatever is queued or running: by now the server has finished its requests."""
        unanswered = [job for _, jobs in self._running.values() for job in jobs]
        unanswered.extend(self._jobs)
        running = list(self._running)
        if self._collector is not None:
            self._collector.cancel()
        for task in running:
            task.cancel()
        for task in [t for t in (self._collector, *running) if t is not None]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for job in unanswered:
            if not job.future.done():
                job.future.set_exception(RuntimeError("server shutting down"))
        self._jobs.clear()
        self._worker.shutdown(wait=False, cancel_futures=True)

    async def predict(self, texts: Sequence[str]) -> list[list[Entity]]:
        future: asyncio.Future[list[list[Entity]]] = asyncio.get_running_loop().create_future()
        self._jobs.append(_Job(texts, future))
        self._queued_texts += len(texts)
        self._arrived.set()
        if self._queued_texts >= self._max_texts:
            self._full.set()
        return await future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                self._arrived.clear()
                await self._arrived.wait()
            if self._max_wait > 0 and self._queued_texts < self._max_texts:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._max_wait):
                        await self._full.wait()
            # Whatever arrives while all slots are busy joins this batch.
            await self._slots.acquire()
            batch, started = self._take(), time.monotonic()
            task = loop.create_task(self._run(batch, started))
            self._running[task] = (started, batch)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slots.release()

    async def _run(self, batch: list[_Job], started: float) -> None:
        texts = [text for job in batch for text in job.texts]
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._worker, self._predict, texts
            )
        except Exception as error:  # the model failed: fail these requests, serve on
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        if self._on_batch is not None:
            self._on_batch(len(texts), time.monotonic() - started)
        first = 0
        for job in batch:
            last = first + len(job.texts)
            if not job.future.done():  # done: the client went away
                job.future.set_result(results[first:last])
            first = last

    def _take(self) -> list[_Job]:
        """Waiting jobs in arrival order, at least one, at most ``max_texts`` texts in all."""
        batch = [self._jobs.popleft()]
        count = len(batch[0].texts)
        while self._jobs and count + len(self._jobs[0].texts) <= self._max_texts:
            job = self._jobs.popleft()
            batch.append(job)
            count += len(job.texts)
        self._queued_texts -= count
        if self._queued_texts < self._max_texts:
            self._full.clear()
        return batch
