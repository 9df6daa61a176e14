"""Recent job rows for plain reads of `GET /jobs/{id}`, the request clients repeat most, and
shared reads for the streams that follow a job.

A finished job never changes, so it is kept until evicted. A running one is dropped as soon as
this process changes it (its status through the events that wake long-polls, its progress when
the heartbeat stores it), and after `active_ttl` seconds in any case, for changes made by
other processes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from vidgate.cache import ExpiringCache
from vidgate.jobs.models import Job, JobStatus


def job_cache(*, active_ttl: float) -> ExpiringCache[Job]:
    """Entries by job id."""
    return ExpiringCache(
        lifetime=lambda job: math.inf if JobStatus(job.status).terminal else active_ttl
    )


class SharedReads:
    """Reads of one job that overlap share one query: a thousand streams woken by one event
    make one read. An event for the job drops its read in flight (`forget`), so whoever asks
    after a change gets a read that started after it, never a row read before it."""

    def __init__(self, read: Callable[[str], Awaitable[Job | None]]) -> None:
        self._read = read
        self._reads: dict[str, asyncio.Future[Job | None]] = {}

    async def get(self, job_id: str) -> Job | None:
        read = self._reads.get(job_id)
        if read is None:
            read = asyncio.ensure_future(self._read(job_id))
            self._reads[job_id] = read
            read.add_done_callback(lambda done: self._drop(job_id, done))
        return await asyncio.shield(read)  # one reader going away does not cancel the others' read

    def forget(self, job_id: str) -> None:
        self._reads.pop(job_id, None)

    def _drop(self, job_id: str, done: asyncio.Future[Job | None]) -> None:
        if self._reads.get(job_id) is done:
            del self._reads[job_id]
        if not done.cancelled():
            done.exception()  # retrieved: a failed read is reported to its readers, not logged


class QueuePositions:
    """Pending jobs' places in their lanes' queues, counted for all at once and at most every
    `max_age` seconds however many ask (a place moves with other jobs, which send no event to
    those who follow this one), or sooner for a job made since the last count."""

    def __init__(self, count: Callable[[], Awaitable[dict[str, int]]], *, max_age: float) -> None:
        self._count = count
        self._max_age = max_age
        self._positions: dict[str, int] = {}
        self._counted_at = -math.inf  # monotonic time
        self._counted_since: datetime | None = None  # wall time the last count started
        self._counting: asyncio.Future[None] | None = None

    async def of(self, jobs: Sequence[Job]) -> dict[str, int]:
        pending = [job for job in jobs if job.status == JobStatus.PENDING.value]
        if not pending:
            return {}
        stale = time.monotonic() - self._counted_at > self._max_age
        unseen = self._counted_since is None or any(
            job.id not in self._positions and job.created_at >= self._counted_since for job in pending
        )
        if stale or unseen:
            if self._counting is None:
                self._counting = asyncio.ensure_future(self._recount())
            await asyncio.shield(self._counting)
        return {job.id: self._positions[job.id] for job in pending if job.id in self._positions}

    async def _recount(self) -> None:
        try:
            started = datetime.now(UTC)
            self._positions = await self._count()
            self._counted_at, self._counted_since = time.monotonic(), started
        finally:
            self._counting = None
