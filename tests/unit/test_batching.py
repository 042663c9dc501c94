"""The one micro-batching primitive: while a batch runs, later items queue and go together."""

from __future__ import annotations

import asyncio

import pytest

from kuaidan.core.batching import MicroBatcher


async def test_items_go_in_batches_of_at_most_max_batch_in_order() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        await asyncio.sleep(0.01)
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=2)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert batches == [[0, 1], [2, 3], [4]]  # all five queued before the first batch ran
    assert results[:3] == [0, 10, 20] and results[4] == 40
    assert isinstance(results[3], ValueError)
    batches.clear()
    first = asyncio.create_task(batcher.submit(7))
    await asyncio.sleep(0)  # its batch is running now
    assert list(await asyncio.gather(batcher.submit(8), batcher.submit(9), first)) == [80, 90, 70]
    assert batches == [[7], [8, 9]]


async def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_runs() -> None:
    calls = 0

    async def run(items: list[str]) -> list[bool | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return [True for _ in items]

    batcher: MicroBatcher[str, bool] = MicroBatcher(run, max_batch=10)
    with pytest.raises(ConnectionError):
        await batcher.submit("a")
    assert await batcher.submit("b") is True


async def test_refusing_the_queue_answers_every_waiting_item_at_once() -> None:
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int | Exception]:
        await release.wait()
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=1)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    assert batcher.pending == [2, 3]
    batcher.refuse_pending(lambda i: LookupError(i))
    release.set()
    assert await first == 1
    for task in queued:
        with pytest.raises(LookupError):
            await task
