"""The dispatch seam: how the API side tells the workers that a job was submitted or that its
cancel was asked for.

`InProcessDispatch` (the embedded default) wakes the lanes of the dispatcher in the same
process. In scale-out, `QueueDispatch` (jobs/queue.py) defers a procrastinate task on the
job's lane. Either way the jobs table stays the source of truth: the queue only carries ids.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from vidgate.jobs.events import JobEvents
from vidgate.jobs.models import Job, JobStatus


class Dispatch(Protocol):
    async def submitted(self, job: Job) -> None:
        """`job` (pending) was stored: have a worker of its lane run it."""

    async def cancel_requested(self, job: Job) -> None:
        """`job`'s cancel was stored: a job cancelled while pending leaves the queue (and a
        provider request it held from an earlier run is cancelled); a processing one is
        stopped by the worker running it."""

    async def check(self) -> None:
        """Raise when the queue cannot be reached (readiness)."""


Abandon = Callable[[Job], Awaitable[None]]


class InProcessDispatch:
    """Wake-ups for the lanes of this process's dispatcher."""

    def __init__(self, events: JobEvents) -> None:
        self.events = events
        self._work: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.abandon: Abandon | None = None  # set by the worker side: its backends' abandon

    async def submitted(self, job: Job) -> None:
        self._work[job.lane].set()

    async def cancel_requested(self, job: Job) -> None:
        if JobStatus(job.status) is JobStatus.PROCESSING:
            await self.events.cancel(job.id)
        elif self.abandon is not None:
            await self.abandon(job)

    async def wait_for_work(self, lane: str, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives in the same instant as the event, and the worker would never stop.
        work = self._work[lane]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await work.wait()
        work.clear()

    async def check(self) -> None:
        pass
