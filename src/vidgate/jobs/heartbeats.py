"""One heartbeat for all the jobs a process runs: each beat is one UPDATE (in chunks) for
every job that needs one, however many run, so a worker waiting on a thousand fal requests
does not write a thousand times a second.

A job's lease is renewed every `renew_seconds` (a third of the lease), its progress stored
when it moved (at most every BEAT_SECONDS). A job whose cancel was asked for, or which its run
no longer holds (taken over, ended), is told to stop: a cancel also arrives at once as an
event, this is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from vidgate.backends.base import JobContext
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.loops import raise_if_cancelling

log = logging.getLogger(__name__)

BEAT_SECONDS = 1.0


@dataclass
class Beat:
    attempt: int
    ctx: JobContext
    progress: int  # as reported, percent
    stored: int  # as last stored
    renewed_at: float  # loop time of the last write


class Heartbeats:
    def __init__(
        self, sessions: store.Sessions, events: JobEvents, *, lease_seconds: float, renew_seconds: float
    ) -> None:
        self.sessions = sessions
        self.events = events
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self._beats: dict[str, Beat] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, job_id: str, attempt: int, ctx: JobContext, progress: int) -> None:
        now = asyncio.get_running_loop().time()
        self._beats[job_id] = Beat(attempt, ctx, progress, progress, now)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="vidgate-heartbeats")

    def remove(self, job_id: str) -> None:
        self._beats.pop(job_id, None)

    def report(self, job_id: str, fraction: float) -> None:
        """A job's progress (0..1); stored at the next beat. It never goes back, nor reaches
        100 before the job ends."""
        beat = self._beats.get(job_id)
        if beat is not None:
            beat.progress = max(beat.progress, min(99, int(fraction * 100)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while self._beats:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                await self.beat()
            except Exception:  # a busy database must not stop the jobs; the next beat retries
                raise_if_cancelling()
                log.warning("a heartbeat failed", exc_info=True)

    async def beat(self) -> None:
        now = asyncio.get_running_loop().time()
        due = {
            job_id: beat for job_id, beat in self._beats.items()
            if beat.progress != beat.stored or now - beat.renewed_at >= self.renew_seconds
        }
        if not due:
            return
        cancels = await store.heartbeats(
            self.sessions,
            [(job_id, beat.attempt, beat.progress) for job_id, beat in due.items()],
            lease_seconds=self.lease_seconds,
        )
        moved = []
        for job_id, beat in due.items():
            beat.renewed_at = now
            if beat.progress != beat.stored:
                beat.stored = beat.progress
                moved.append(job_id)
            if cancels.get(job_id, True):  # cancel asked for, or the job no longer this run's
                beat.ctx.cancelled.set()
        if moved:
            await self.events.progressed(*moved)
