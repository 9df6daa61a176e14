"""Runs one claimed job through its backend: progress, lease, cancellation, storage, settlement.

The same function runs in the embedded server and (later) in remote workers; only the way jobs
arrive and wake-ups travel differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from typing import Any

import httpx

from vidgate.backends.base import Backend, BackendResult, JobContext, VideoRequest
from vidgate.backends.errors import BackendCancelled, BackendError, FailureKind, JobLost
from vidgate.catalog import get_model
from vidgate.config import Settings
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.loops import cancelling, raise_if_cancelling
from vidgate.jobs.models import Job
from vidgate.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    value: int
    stored: int = -1


class Executor:
    def __init__(
        self,
        *,
        sessions: store.Sessions,
        events: JobEvents,
        storage: Storage,
        backends: dict[str, Backend],
        http: httpx.AsyncClient,
        settings: Settings,
        worker_id: str,
    ) -> None:
        self.sessions = sessions
        self.events = events
        self.storage = storage
        self.backends = backends
        self.http = http
        self.settings = settings
        self.worker_id = worker_id
        self.running: dict[str, JobContext] = {}

    def cancel_if_running(self, job_id: str) -> None:
        """Stop a job this process is running at once (the heartbeat would within a tick)."""
        ctx = self.running.get(job_id)
        if ctx is not None:
            ctx.cancelled.set()

    async def run(self, job: Job) -> None:
        work_dir = self.settings.work_dir / job.id
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        progress = _Progress(job.progress)
        ctx = JobContext(
            job_id=job.id,
            request=VideoRequest.from_params(job.input_params),
            work_dir=work_dir,
            http=self.http,
            report_progress=lambda fraction: _advance(progress, fraction),
            state=job.provider_state,
            save_state=lambda state: self._save_state(job.id, state),
        )
        self.running[job.id] = ctx
        heartbeat = asyncio.create_task(self._heartbeat(job.id, ctx, progress))
        try:
            await self._run_backend(job, ctx)
        finally:
            self.events.job_changed(job.id)  # first: waiters should not wait for the clean-up
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            del self.running[job.id]
            shutil.rmtree(work_dir, ignore_errors=True)

    async def abandon(self, job: Job) -> None:
        """A job that ended without running again (cancelled while pending, failed after its
        worker died): its backend stops what the provider may still run for it."""
        backend = self.backends.get(job.provider)
        if backend is not None and job.provider_state:
            await backend.abandon(job.provider_state)

    async def _save_state(self, job_id: str, state: dict[str, Any]) -> None:
        if not await store.save_provider_state(
            self.sessions, job_id, worker_id=self.worker_id, state=state
        ):
            raise JobLost(job_id)

    async def _run_backend(self, job: Job, ctx: JobContext) -> None:
        backend = self.backends[job.provider]
        try:
            result = await backend.run(ctx)
            if ctx.cancelled.is_set():  # finished in the same instant as the cancel request
                raise BackendCancelled()
            await self._store_result(job, ctx, result)
        except BackendCancelled:
            await store.cancel_running(self.sessions, job.id, worker_id=self.worker_id)
        except JobLost:  # whoever has the job now settles it; nothing is ours to write
            log.warning("job %s is no longer this worker's; stopped running it", job.id)
        except BackendError as exc:
            await store.fail(
                self.sessions, job.id, error=str(exc), worker_id=self.worker_id, kind=exc.kind
            )
        except asyncio.CancelledError:  # the server is shutting down: the job runs again later
            await self._requeue(job)
            raise
        except Exception as exc:
            if cancelling():  # a shutdown that surfaced as another error (see loops.py)
                await self._requeue(job)
                raise asyncio.CancelledError() from exc
            log.exception("job %s failed in backend %s", job.id, backend.name)
            await store.fail(
                self.sessions,
                job.id,
                error=f"Internal error while generating the video ({exc.__class__.__name__})",
                worker_id=self.worker_id,
                kind=FailureKind.INTERNAL,
            )

    async def _requeue(self, job: Job) -> None:
        await asyncio.shield(store.requeue(self.sessions, job.id, worker_id=self.worker_id))

    async def _store_result(self, job: Job, ctx: JobContext, result: BackendResult) -> None:
        files = {"video.mp4": result.video_path}
        if result.poster_path is not None and result.poster_path.is_file():
            files["poster.jpg"] = result.poster_path
        keys = await self.storage.put(job.id, files)
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
        spec = get_model(job.model)
        assert spec is not None, f"job {job.id} names a model missing from the catalog"
        charged = spec.price(min(result.duration_seconds, float(ctx.request.duration_seconds)))
        await store.complete(
            self.sessions, job.id, worker_id=self.worker_id, output_data=output, charged=charged
        )

    async def _heartbeat(self, job_id: str, ctx: JobContext, progress: _Progress) -> None:
        lease = self.settings.job_lease_seconds
        interval = min(0.5, lease / 3)
        while True:
            await asyncio.sleep(interval)
            changed = progress.value if progress.value != progress.stored else None
            try:
                cancel = await store.heartbeat(
                    self.sessions, job_id, worker_id=self.worker_id, lease_seconds=lease, progress=changed
                )
            except Exception:  # a busy database must not kill the job; the next beat retries
                raise_if_cancelling()
                log.warning("heartbeat of job %s failed", job_id, exc_info=True)
                continue
            if changed is not None:
                progress.stored = changed
                self.events.progress_changed(job_id)
            if cancel is None or cancel:  # taken from us, or cancellation asked for
                ctx.cancelled.set()


def _advance(progress: _Progress, fraction: float) -> None:
    progress.value = max(progress.value, min(99, int(fraction * 100)))
