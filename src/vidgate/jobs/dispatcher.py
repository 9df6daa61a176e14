"""The embedded dispatcher: a bounded pool of worker loops in the server process, plus the
reaper that takes back jobs whose worker died."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vidgate.config import Settings
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.executor import Executor
from vidgate.jobs.loops import raise_if_cancelling
from vidgate.jobs.models import JobStatus

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0


class Dispatcher:
    def __init__(
        self, *, executor: Executor, sessions: store.Sessions, events: JobEvents, settings: Settings
    ) -> None:
        self.executor = executor
        self.sessions = sessions
        self.events = events
        self.settings = settings
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._reclaim()  # jobs left processing by a server that died
        self._tasks = [
            asyncio.create_task(self._worker_loop(), name=f"vidgate-worker-{n}")
            for n in range(self.settings.workers)
        ]
        self._tasks.append(asyncio.create_task(self._reaper_loop(), name="vidgate-reaper"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _worker_loop(self) -> None:
        while True:
            try:
                job = await store.claim_next(
                    self.sessions,
                    worker_id=self.executor.worker_id,
                    lease_seconds=self.settings.job_lease_seconds,
                )
            except Exception:
                raise_if_cancelling()
                log.exception("claiming a job failed")
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            if job is None:
                await self.events.wait_for_work(IDLE_POLL_SECONDS)
                continue
            self.events.job_changed(job.id)
            try:
                await self.executor.run(job)
            except Exception:  # the job's lease runs out and it is retried; the loop goes on
                raise_if_cancelling()
                log.exception("running job %s failed", job.id)

    async def _reaper_loop(self) -> None:
        interval = min(self.settings.job_lease_seconds / 2, 5.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._reclaim()
            except Exception:
                raise_if_cancelling()
                log.exception("reclaiming expired jobs failed")

    async def _reclaim(self) -> None:
        job_ids = await store.reclaim_expired(
            self.sessions, max_attempts=self.settings.job_max_attempts
        )
        for job_id in job_ids:
            log.warning("job %s: its worker stopped renewing the lease; taken back", job_id)
            self.events.job_changed(job_id)
            job = await store.get(self.sessions, job_id)
            if job is not None and JobStatus(job.status).terminal:  # it will not run again
                await self.executor.abandon(job)
        if job_ids:
            self.events.work_submitted()
