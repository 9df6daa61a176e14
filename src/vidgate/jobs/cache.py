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
from collections.abc import Awaitable, Callable

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
