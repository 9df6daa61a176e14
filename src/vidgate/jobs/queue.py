"""Scale-out dispatch on procrastinate, on the PostgreSQL that holds the jobs table.

One procrastinate queue per lane (`local` renders, `fal` waits on a provider, `gpu`), plus
`maintenance`, which every worker process serves, for the periodic tasks and for cancelling a
provider request of a job that ended while it waited (a busy lane never holds those up). A task carries a job id
only: the jobs table stays the source of truth for state and credits, and every state change
of a run is fenced by its attempt number, so a task delivered twice, or a run finished late by
a worker presumed dead, changes nothing.

- A job's task is deferred with `lock` and `queueing_lock` set to the job id: at most one task
  per job waits, and at most one runs.
- A worker that stops heartbeating (killed, partitioned) has its tasks retried by
  `retry_stalled`, every few seconds on some worker; the next run takes the job over with the
  next attempt number.
- A pending job without a waiting or running task (its API process died between the commit
  and the defer, or its task was aborted by a worker's shutdown) is deferred again by
  `dispatch_orphans`.
- `delete_old_outputs` applies output retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text

from vidgate.db.base import utcnow
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.loops import raise_if_cancelling
from vidgate.jobs.models import Job, JobStatus
from vidgate.jobs.pg_events import libpq_url

log = logging.getLogger(__name__)

MAINTENANCE = "maintenance"
NAMESPACE = "vidgate"
RUN_JOB = f"{NAMESPACE}:run_job"
ABANDON_REQUEST = f"{NAMESPACE}:abandon_request"
# A pending job younger than this is left to the defer that follows its submit.
ORPHAN_AFTER_SECONDS = 5
RESTART_SECONDS = 1.0
STOP_SECONDS = 2.0


class QueuedWork(Protocol):
    """What a worker process does with the tasks it is handed (jobs/worker.py)."""

    async def run_queued(self, job_id: str) -> None: ...

    async def abandon_request(self, job_id: str) -> None: ...

    async def retry_stalled(self) -> None: ...

    async def dispatch_orphans(self) -> None: ...

    async def delete_old_outputs(self) -> None: ...


def _work(context: procrastinate.JobContext) -> QueuedWork:
    work: QueuedWork = context.additional_context["vidgate"]
    return work


async def run_job(context: procrastinate.JobContext, job_id: str) -> None:
    await _work(context).run_queued(job_id)


async def abandon_request(context: procrastinate.JobContext, job_id: str) -> None:
    await _work(context).abandon_request(job_id)


async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> None:
    await _work(context).retry_stalled()


async def dispatch_orphans(context: procrastinate.JobContext, timestamp: int) -> None:
    await _work(context).dispatch_orphans()


async def delete_old_outputs(context: procrastinate.JobContext, timestamp: int) -> None:
    await _work(context).delete_old_outputs()


EVERY_5_SECONDS = "* * * * * */5"  # cron, with a sixth field for seconds


def queue_app(database_url: str, *, workers: int = 0) -> procrastinate.App:
    """The procrastinate app on the jobs database, with vidgate's tasks, for a process that
    runs `workers` procrastinate workers (each holds a connection to listen on, and takes
    others for a moment to fetch, finish and heartbeat); open it (`open_async`) before use."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(database_url), min_size=1, max_size=2 + 2 * workers
    )
    app = procrastinate.App(connector=connector)
    app.task(name=RUN_JOB, pass_context=True)(run_job)
    app.task(name=ABANDON_REQUEST, pass_context=True)(abandon_request)
    for periodic in (retry_stalled, dispatch_orphans, delete_old_outputs):
        task = app.task(name=f"{NAMESPACE}:{periodic.__name__}", queue=MAINTENANCE, pass_context=True)(periodic)
        app.periodic(cron=EVERY_5_SECONDS, periodic_id=periodic.__name__)(task)
    return app


class QueueDispatch:
    """The dispatch seam on procrastinate: defers the job's task on its lane's queue."""

    def __init__(self, app: procrastinate.App, events: JobEvents) -> None:
        self.app = app
        self.events = events

    async def submitted(self, job: Job) -> None:
        try:
            await self.app.configure_task(
                RUN_JOB, queue=job.lane, lock=job.id, queueing_lock=job.id
            ).defer_async(job_id=job.id)
        except AlreadyEnqueued:
            pass  # a task for it already waits
        except Exception:  # the job is stored: dispatch_orphans defers it in a few seconds
            log.exception("job %s: deferring its task failed", job.id)

    async def cancel_requested(self, job: Job) -> None:
        if JobStatus(job.status) is JobStatus.PROCESSING:
            await self.events.cancel(job.id)
            return
        waiting = await self.app.job_manager.list_jobs_async(queueing_lock=job.id, status="todo")
        for task in waiting:
            assert task.id is not None
            await self.app.job_manager.cancel_job_by_id_async(task.id)
        if job.provider_state:  # a request at its provider from an earlier run: a worker cancels it
            await self.app.configure_task(ABANDON_REQUEST, queue=MAINTENANCE).defer_async(job_id=job.id)

    async def check(self) -> None:
        if not await self.app.check_connection_async():
            raise ConnectionError("the procrastinate schema is missing; run `vidgate db upgrade`")


class QueueRunner:
    """procrastinate workers in this process: one per lane, each with its lane's concurrency,
    and one for the maintenance tasks."""

    def __init__(
        self, app: procrastinate.App, work: QueuedWork, *, lanes: Mapping[str, int], heartbeat_seconds: float
    ) -> None:
        self.app = app
        self.work = work
        self.lanes = {**lanes, MAINTENANCE: 1}
        self.heartbeat_seconds = heartbeat_seconds
        self._tasks: list[asyncio.Task[None]] = []

    @staticmethod
    def workers_for(lanes: Mapping[str, int]) -> int:
        """procrastinate workers a runner of `lanes` starts: one per lane, one for maintenance."""
        return len(lanes) + 1

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._supervise(queue, slots), name=f"vidgate-{queue}")
            for queue, slots in self.lanes.items()
        ]

    async def _supervise(self, queue: str, slots: int) -> None:
        """Run the queue's procrastinate worker, and again should it stop on its own (it stops
        when it loses the database): a worker process rides out a database outage."""
        while True:
            try:
                await self.app.run_worker_async(**self._options(queue, slots))
                log.warning("the %s worker stopped; starting it again", queue)
            except Exception:
                raise_if_cancelling()
                log.exception("the %s worker failed; starting it again", queue)
            await asyncio.sleep(RESTART_SECONDS)

    def _options(self, queue: str, slots: int) -> Any:
        return {
            "queues": [queue],
            "name": f"vidgate-{queue}",
            "concurrency": slots,
            "additional_context": {"vidgate": self.work},
            "install_signal_handlers": False,  # the process stops the runner itself
            "shutdown_graceful_timeout": 0,  # running jobs are given back at once
            "delete_jobs": "always",  # the jobs table keeps the history
            "update_heartbeat_interval": self.heartbeat_seconds,
            "stalled_worker_timeout": 3 * self.heartbeat_seconds,
            "fetch_job_polling_interval": 2.0,
        }

    async def stop(self) -> None:
        """Cancel the workers, and again each STOP_SECONDS until they end: a cancel that lands
        in a worker's start-up queries can be swallowed on its way through the driver, and
        procrastinate's worker would then wait on its own loop for good."""
        pending = list(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=STOP_SECONDS)
            pending = [task for task in pending if not task.done()]
        self._tasks = []


async def stalled_tasks(app: procrastinate.App, *, heartbeat_seconds: float) -> list[Any]:
    """Tasks left running by workers silent for three heartbeats."""
    return list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=3 * heartbeat_seconds))


_ORPHANS = text(
    """
    SELECT jobs.id FROM jobs
     WHERE jobs.status = 'pending'
       AND jobs.created_at < :before
       AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs task
                        WHERE task.queueing_lock = jobs.id AND task.status = 'todo')
       AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs task
                        WHERE task.lock = jobs.id AND task.status = 'doing')
    """
)


async def orphans(sessions: store.Sessions) -> list[Job]:
    """Pending jobs that no task waits for or runs."""
    async with sessions() as session:
        ids = (await session.scalars(_ORPHANS, {"before": utcnow() - timedelta(seconds=ORPHAN_AFTER_SECONDS)})).all()
    found = [await store.get(sessions, job_id) for job_id in ids]
    return [job for job in found if job is not None]
