"""Runs one claimed job through its backend: progress, lease, cancellation, storage, settlement.

The same executor runs in the embedded server and in `vidgate worker` processes; only the way
jobs arrive (jobs/dispatcher.py, jobs/queue.py) and events travel differs. Every state change
of a run is fenced by its attempt number.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from vidgate.backends.base import Backend, BackendResult, JobContext, VideoRequest
from vidgate.backends.errors import BackendCancelled, BackendError, FailureKind, JobLost
from vidgate.db.engine import unreachable
from vidgate.jobs import store
from vidgate.jobs.dispatch import Dispatch
from vidgate.jobs.events import EventKind
from vidgate.jobs.heartbeats import Heartbeats
from vidgate.jobs.loops import cancelling
from vidgate.jobs.models import Job
from vidgate.ops.logs import current_job
from vidgate.ops.metrics import DISPATCH_SECONDS, JOB_SECONDS, JOBS_FINISHED
from vidgate.storage import StorageUnavailable

if TYPE_CHECKING:
    from vidgate.services import Services

log = logging.getLogger(__name__)

T = TypeVar("T")
STORE_PATIENCE_SECONDS = 600.0


class Executor:
    def __init__(
        self,
        *,
        services: Services,
        backends: dict[str, Backend],
        http: httpx.AsyncClient,
        dispatch: Dispatch,
        worker_id: str,
    ) -> None:
        self.services = services
        self.sessions = services.sessions
        self.events = services.events
        self.storage = services.storage
        self.settings = services.settings
        self.backends = backends
        self.http = http
        self.dispatch = dispatch
        self.worker_id = worker_id
        self.running: dict[str, JobContext] = {}
        self.heartbeats = Heartbeats(
            self.sessions, self.events,
            lease_seconds=self.settings.job_lease_seconds, renew_seconds=self.settings.job_heartbeat_seconds,
        )
        self.events.on(EventKind.CANCEL, lambda job_id: self._signal(job_id, "cancelled"))
        self.events.on(EventKind.POKE, lambda job_id: self._signal(job_id, "poked"))

    def _signal(self, job_id: str, event: str) -> None:
        """Set a running job's `cancelled` or `poked` at once (a cancel would otherwise reach
        it at its next heartbeat)."""
        ctx = self.running.get(job_id)
        if ctx is not None:
            getattr(ctx, event).set()

    async def run(self, job: Job) -> None:
        """Run a claimed job (its current attempt: `job.attempts`) to its end."""
        work_dir = self.settings.work_dir / job.id
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        ctx = JobContext(
            job_id=job.id,
            request=VideoRequest.from_params(job.input_params),
            work_dir=work_dir,
            http=self.http,
            report_progress=lambda fraction: self.heartbeats.report(job.id, fraction),
            state=job.provider_state,
            save_state=lambda state: self._save_state(job, state),
        )
        self.running[job.id] = ctx
        self.heartbeats.add(job.id, job.attempts, ctx, job.progress)
        current_job.set(job.id)
        if job.attempts == 1 and job.started_at is not None:
            DISPATCH_SECONDS.labels(job.lane).observe((job.started_at - job.created_at).total_seconds())
        try:
            ended = await self._run_backend(job, ctx)
            if ended is not None:
                _observe_end(job, ended)
        finally:
            self.heartbeats.remove(job.id)
            await asyncio.shield(self.events.changed(job.id))  # before the clean-up: waiters first
            del self.running[job.id]
            shutil.rmtree(work_dir, ignore_errors=True)

    async def abandon(self, job: Job) -> None:
        """A job that ended without running again (cancelled while pending, failed after its
        worker died): its backend stops what the provider may still run for it."""
        backend = self.backends.get(job.provider)
        if backend is not None and job.provider_state:
            await backend.abandon(job.provider_state)

    async def _save_state(self, job: Job, state: dict[str, Any]) -> None:
        if not await store.save_provider_state(self.sessions, job.id, attempt=job.attempts, state=state):
            raise JobLost(job.id)

    async def _run_backend(self, job: Job, ctx: JobContext) -> Job | None:
        """Run the backend and store how the job ended; the job as it ended, or None when this
        attempt no longer had it."""
        backend = self.backends[job.provider]
        try:
            result = await backend.run(ctx)
            if ctx.cancelled.is_set():  # finished in the same instant as the cancel request
                raise BackendCancelled()
            return await self._store_result(job, ctx, result)
        except BackendCancelled:
            return await _patiently(lambda: store.cancel_running(self.sessions, job.id, attempt=job.attempts))
        except JobLost:  # whoever has the job now settles it; nothing is ours to write
            log.warning("job %s is no longer this worker's; stopped running it", job.id)
            return None
        except BackendError as exc:
            error, kind = str(exc), exc.kind
            return await _patiently(
                lambda: store.fail(self.sessions, job.id, error=error, attempt=job.attempts, kind=kind)
            )
        except asyncio.CancelledError:  # the server is shutting down: the job runs again later
            await self._requeue(job)
            raise
        except Exception as exc:
            if cancelling():  # a shutdown that surfaced as another error (see loops.py)
                await self._requeue(job)
                raise asyncio.CancelledError() from exc
            log.exception("job %s failed in backend %s", job.id, backend.name)
            error = f"Internal error while generating the video ({exc.__class__.__name__})"
            return await _patiently(
                lambda: store.fail(
                    self.sessions, job.id, error=error, attempt=job.attempts, kind=FailureKind.INTERNAL
                )
            )

    async def _requeue(self, job: Job) -> None:
        """Give the job back (this worker is stopping): another worker runs it from the start."""
        await asyncio.shield(self._give_back(job))

    async def _give_back(self, job: Job) -> None:
        if await store.requeue(self.sessions, job.id, attempt=job.attempts):
            await self.dispatch.submitted(job)
        # (Not waited out when the database is unreachable: the process is stopping. The job
        # stays processing under a dead worker, and is taken back like one.)

    async def _store_result(self, job: Job, ctx: JobContext, result: BackendResult) -> Job | None:
        files = {"video.mp4": result.video_path}
        if result.poster_path is not None and result.poster_path.is_file():
            files["poster.jpg"] = result.poster_path
        keys = await _patiently(lambda: self.storage.put(job.id, files))
        output: dict[str, Any] = {
            "video": {
                "key": keys["video.mp4"],
                "poster_key": keys.get("poster.jpg"),
                "width": result.width,
                "height": result.height,
                "duration_seconds": round(result.duration_seconds, 3),
                "fps": result.fps,
            },
            "seed": ctx.request.seed,
            "provider": job.provider,
        }
        if result.optimized_prompt is not None:
            output["optimized_prompt"] = result.optimized_prompt
        spec = self.services.catalog.get(job.model)
        assert spec is not None, f"job {job.id} names a model missing from the catalog"
        charged = spec.price(min(result.duration_seconds, float(ctx.request.duration_seconds)))
        return await _patiently(
            lambda: store.complete(self.sessions, job.id, attempt=job.attempts, output_data=output, charged=charged)
        )

async def _patiently(store_it: Callable[[], Awaitable[T]]) -> T:
    """Store a run's outputs or its end, waiting out a database or a storage that cannot be
    reached (a restart, a failover, a network fault) for up to STORE_PATIENCE_SECONDS: the
    video made must not be lost to it."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(STORE_PATIENCE_SECONDS),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception(lambda exc: unreachable(exc) or isinstance(exc, StorageUnavailable)),
        before_sleep=lambda state: log.warning("storing the job's result again: %s", state.outcome.exception()),
        reraise=True,
    ):
        with attempt:
            return await store_it()
    raise AssertionError("unreachable: AsyncRetrying returns or raises")


def _observe_end(job: Job, ended: Job) -> None:
    JOBS_FINISHED.labels(ended.status, job.model, job.lane).inc()
    if job.started_at is not None and ended.completed_at is not None:
        seconds = (ended.completed_at - job.started_at).total_seconds()
        JOB_SECONDS.labels(job.lane, job.model, ended.status).observe(seconds)
