"""The embedded dispatcher: in the server process, one loop per lane claims pending jobs while
the lane has a free slot and runs each in a task of its own; the reaper takes back jobs whose
worker died (their lease ran out); retention deletes old outputs, when configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from vidgate.jobs import store
from vidgate.jobs.dispatch import InProcessDispatch
from vidgate.jobs.executor import Executor
from vidgate.jobs.loops import raise_if_cancelling
from vidgate.jobs.models import Job, JobStatus
from vidgate.jobs.retention import delete_old_outputs, retention_interval

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0


class Dispatcher:
    def __init__(self, *, executor: Executor, dispatch: InProcessDispatch, lanes: Mapping[str, int]) -> None:
        """`lanes`: how many jobs of each lane run at once."""
        self.executor = executor
        self.sessions = executor.sessions
        self.settings = executor.settings
        self.dispatch = dispatch
        self.lanes = dict(lanes)
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._reclaim()  # jobs left processing by a server that died
        self._loops = [
            asyncio.create_task(self._lane_loop(lane, slots), name=f"vidgate-{lane}")
            for lane, slots in self.lanes.items()
        ]
        self._loops.append(asyncio.create_task(self._reaper_loop(), name="vidgate-reaper"))
        if self.settings.output_retention_days is not None:
            self._loops.append(asyncio.create_task(self._retention_loop(), name="vidgate-retention"))

    async def stop(self) -> None:
        """Stop claiming, then stop the running jobs (each gives its job back to the queue)."""
        for tasks in (self._loops, list(self._running)):
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loops = []

    async def _lane_loop(self, lane: str, slots: int) -> None:
        free = asyncio.Semaphore(slots)
        while True:
            await free.acquire()
            job = await self._claim(lane)
            if job is None:
                free.release()
                await self.dispatch.wait_for_work(lane, IDLE_POLL_SECONDS)
                continue
            task = asyncio.create_task(self._run(job), name=f"vidgate-job-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _task: free.release())

    async def _claim(self, lane: str) -> Job | None:
        try:
            return await store.claim_next(
                self.sessions,
                lanes=[lane],
                worker_id=self.executor.worker_id,
                lease_seconds=self.settings.job_lease_seconds,
            )
        except Exception:
            raise_if_cancelling()
            log.exception("claiming a job failed")
            await asyncio.sleep(IDLE_POLL_SECONDS)
            return None

    async def _run(self, job: Job) -> None:
        await self.executor.events.changed(job.id)
        try:
            await self.executor.run(job)
        except Exception:  # the job's lease runs out and it is retried
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

    async def _retention_loop(self) -> None:
        assert self.settings.output_retention_days is not None
        interval = retention_interval(self.settings.output_retention_days)
        while True:
            await asyncio.sleep(interval)
            try:
                await delete_old_outputs(self.executor.services)
            except Exception:
                raise_if_cancelling()
                log.exception("deleting outputs past retention failed")

    async def _reclaim(self) -> None:
        job_ids = await store.reclaim_expired(
            self.sessions, max_attempts=self.settings.job_max_attempts
        )
        for job_id in job_ids:
            log.warning("job %s: its worker stopped renewing the lease; taken back", job_id)
            await self.executor.events.changed(job_id)
            job = await store.get(self.sessions, job_id)
            if job is None:
                continue
            if JobStatus(job.status).terminal:  # it will not run again
                await self.executor.abandon(job)
            else:
                await self.dispatch.submitted(job)
