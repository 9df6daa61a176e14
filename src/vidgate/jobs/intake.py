"""Group commit for submissions: the ones waiting at the same moment share one transaction.

SQLite has a single writer, and a submission's transaction is short but made of several round
trips; committing many at once lets throughput grow with load instead of queueing on the lock.
Each submission keeps its own guarded reservation, so one key's shortfall never affects another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vidgate.jobs import store
from vidgate.jobs.loops import raise_if_cancelling

log = logging.getLogger(__name__)

MAX_BATCH = 256


class SubmissionWriter:
    def __init__(self, sessions: store.Sessions) -> None:
        self.sessions = sessions
        self._waiting: list[tuple[store.NewJob, asyncio.Future[store.Submitted]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vidgate-intake")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _new, future in self._waiting:
            if not future.done():
                future.set_exception(RuntimeError("the server is shutting down"))

    async def submit(self, new: store.NewJob) -> store.Submitted:
        future: asyncio.Future[store.Submitted] = asyncio.get_running_loop().create_future()
        self._waiting.append((new, future))
        self._wake.set()
        # shield: a client that goes away does not take its submission out of a batch
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._write(batch)

    async def _write(
        self, batch: list[tuple[store.NewJob, asyncio.Future[store.Submitted]]]
    ) -> None:
        try:
            results = await store.submit_batch(self.sessions, [new for new, _future in batch])
        except Exception as exc:  # nothing of the batch was stored; each request reports it
            raise_if_cancelling()
            log.exception("storing %d submissions failed", len(batch))
            for _new, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_new, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
