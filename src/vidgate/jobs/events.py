"""Wake-ups for long-polls, sync requests and idle workers, inside one process.

Scale-out replaces this with a transport (Redis pub/sub, LISTEN/NOTIFY) behind the same
three methods.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable


class JobEvents:
    def __init__(self, *, on_change: Callable[[str], None] | None = None) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._work_available = asyncio.Event()
        self._on_change = on_change

    def subscribe(self, job_id: str) -> asyncio.Future[None]:
        """A future resolved at the job's next state change. Subscribe before reading the
        job, so a change between the read and the wait is not missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[job_id].add(future)
        return future

    def unsubscribe(self, job_id: str, future: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(job_id)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiters[job_id]

    def job_changed(self, job_id: str) -> None:
        if self._on_change is not None:
            self._on_change(job_id)
        for future in self._waiters.pop(job_id, ()):
            if not future.done():
                future.set_result(None)

    def progress_changed(self, job_id: str) -> None:
        """Progress is no reason to wake anyone; cached copies of the job are stale, though."""
        if self._on_change is not None:
            self._on_change(job_id)

    def work_submitted(self) -> None:
        self._work_available.set()

    async def wait_for_work(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives in the same instant as the event, and the worker would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._work_available.wait()
        self._work_available.clear()
