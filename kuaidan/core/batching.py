"""Single-flight micro-batching: callers each submit one item and await its result; while a
batch runs, later items queue, and the next batch takes up to ``max_batch`` of them at once.

Used where many concurrent requests ask the database the same kind of question: the flash-sale
gate grants a hot SKU's claims one batch per transaction, and the sold-out edge asks whether
many Idempotency-Keys were ever placed in one read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# One result or exception per item, in order; raising fails every item of the batch.
RunBatch = Callable[[list[T]], Awaitable[Sequence[R | Exception]]]


class MicroBatcher(Generic[T, R]):
    """Items queue while a batch runs; one task drains them, batch after batch.

    ``after_batch`` runs after each batch has answered its callers, for the owner to act on
    what the batch found (the gate refuses the queue when a SKU sold out).
    """

    def __init__(
        self,
        run: RunBatch[T, R],
        *,
        max_batch: int,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.after_batch = after_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> list[T]:
        """The items waiting for a batch (not the running one)."""
        return [item for item, _ in self._pending]

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    def refuse_pending(self, error_of: Callable[[T], Exception]) -> None:
        """Answer every waiting item with ``error_of(item)`` at once."""
        waited, self._pending = self._pending, []
        for item, future in waited:
            if not future.done():
                future.set_exception(error_of(item))

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results: Sequence[R | Exception] = await self.run([item for item, _ in batch])
            except Exception as exc:  # the whole batch failed: every caller hears why
                results = [exc] * len(batch)
            for (_item, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if self.after_batch is not None:
                self.after_batch()
