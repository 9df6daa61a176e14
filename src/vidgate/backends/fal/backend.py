"""fal.ai as a backend: one queue request per job, resumable after a restart.

The job's provider state records, before the submit is sent, that a submit is under way, and
then the request's handle: a restarted server resumes polling the request, and a job whose
submit was interrupted (its outcome unknown) is failed instead of submitted a second time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import mimetypes
import re
import time
from typing import Any

import httpx

from vidgate.backends.base import Backend, BackendResult, JobContext, VideoRequest
from vidgate.backends.errors import BackendCancelled, BackendError, FailureKind, JobLost
from vidgate.backends.fal.inputs import RATIO_FROM_SOURCE, model_input
from vidgate.backends.fal.models import FAL_CATALOG
from vidgate.backends.fal.queue import (
    CONNECTIONS,
    DEFAULT_REST_URL,
    FalAccount,
    FalError,
    FalQueue,
    FalRejected,
    FalUnavailable,
    Handle,
    Patience,
)
from vidgate.backends.sources import source_file
from vidgate.media.dimensions import AUTO_ASPECT_RATIO, nearest_aspect_ratio
from vidgate.media.fetch import SOURCE_FIELDS, FetchError, data_uri_media_type, decode_data_uri
from vidgate.media.probe import UnreadableVideo, probe_video, source_size
from vidgate.storage import LinkRefused, Storage, media_type

log = logging.getLogger(__name__)

DEFAULT_QUEUE_URL = "https://queue.fal.run"
DEFAULT_TIMEOUT_SECONDS = 3600.0
POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 5.0
# fal keeps a result an hour after the request completes (6 minutes when it is 10 KB or more):
# fetching it, and the video it names, goes on through outages that long.
RESULT_KEPT_SECONDS = 3600.0
QUEUED_PROGRESS = 0.02
# While fal runs the model it says nothing of how far it is: progress creeps towards this.
RUNNING_PROGRESS_CEILING = 0.9
RUNNING_HALF_LIFE_SECONDS = 30.0
DOWNLOADED_PROGRESS = 0.97
# fal's own code knows only IN_QUEUE, IN_PROGRESS and COMPLETED; others have been seen.
FINISHED_STATUSES = ("COMPLETED", "FAILED", "CANCELED", "CANCELLED", "ERROR")
SUBMITTING = "submitting"
SUBMIT_INTERRUPTED = (
    "vidgate stopped while submitting this job to fal.ai, so whether fal.ai received it is "
    "unknown; it was not submitted again, to avoid a second charge"
)


class FalBackend(Backend):
    name = "fal"

    def __init__(
        self, *, key: str, queue_url: str = DEFAULT_QUEUE_URL, max_download_bytes: int,
        http: httpx.AsyncClient | None = None, poll_first_seconds: float = POLL_FIRST_SECONDS,
        webhook_url: str | None = None,
        rest_url: str = DEFAULT_REST_URL, storage: Storage | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(120, connect=30),
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        )
        self.queue = FalQueue(self.http, key=key, base_url=queue_url, rest_url=rest_url)
        self.storage = storage
        self.max_download_bytes = max_download_bytes
        self.poll_first_seconds = poll_first_seconds
        self.timeout_seconds = timeout_seconds
        self.webhook_url = webhook_url
        self._abandoning: set[asyncio.Task[None]] = set()

    async def run(self, ctx: JobContext) -> BackendResult:
        try:
            return await self._run(ctx)
        except FalError as exc:
            if ctx.cancelled.is_set():
                raise BackendCancelled() from exc
            raise BackendError(str(exc), kind=_failure_kind(exc)) from exc

    async def abandon(self, state: dict[str, Any]) -> None:
        """Cancel the job's fal request in the background, so fal stops running (and billing)
        a request nobody will collect."""
        if "request_id" not in state:
            return
        task = asyncio.create_task(self._cancel_abandoned(Handle.from_state(state)))
        self._abandoning.add(task)
        task.add_done_callback(self._abandoning.discard)

    async def _cancel_abandoned(self, handle: Handle) -> None:
        if not await self.queue.cancel(handle):
            log.warning("fal.ai request %s of a job that ended could not be cancelled; fal.ai "
                        "may still run it", handle.request_id)

    async def aclose(self) -> None:
        if self._abandoning:
            await asyncio.wait(self._abandoning, timeout=5)
        for task in self._abandoning:
            task.cancel()
        if self._own_http:
            await self.http.aclose()

    async def _run(self, ctx: JobContext) -> BackendResult:
        handle, patience = await self._request(ctx)
        status = await self._wait(handle, ctx, patience)
        if status.get("status") != "COMPLETED" or status.get("error") or status.get("error_type"):
            raise await self.queue.failure(handle, status)
        return await self._fetch(handle, ctx)

    async def _request(self, ctx: JobContext) -> tuple[Handle, Patience]:
        """The job's fal request and how long to wait for it: the request stored with the
        job (a restart resumes it), or a new one, stored before anything else happens."""
        state = ctx.state or {}
        if "request_id" in state:
            return Handle.from_state(state), self._patience(ctx, state.get("submitted_at"))
        if state.get(SUBMITTING):
            raise BackendError(SUBMIT_INTERRUPTED)
        if ctx.cancelled.is_set():
            raise BackendCancelled()
        request = await self._ratio_for_auto(ctx)
        body = model_input(await self._reachable_sources(ctx, request))
        submitted_at = time.time()
        await _save(ctx, {SUBMITTING: True, "submitted_at": submitted_at})
        handle = await self.queue.submit(ctx.request.model, body, webhook_url=self.webhook_url)
        try:
            await _save(ctx, {**handle.as_state(), "submitted_at": submitted_at})
        except JobLost:
            await self.queue.cancel(handle)  # nobody will collect this request now
            raise
        return handle, self._patience(ctx, submitted_at)

    def _patience(self, ctx: JobContext, submitted_at: object) -> Patience:
        """Until `timeout_seconds` after the submit (kept with the job, so a restart does not
        start the clock again), or until the job is cancelled."""
        started = float(submitted_at) if isinstance(submitted_at, int | float) else time.time()
        left = started + self.timeout_seconds - time.time()
        return Patience.for_seconds(left, stop=ctx.cancelled)

    async def _ratio_for_auto(self, ctx: JobContext) -> VideoRequest:
        """The job's request, where aspect ratio auto meets a model that needs a ratio and has
        no auto of its own: with the ratio it makes nearest the source image's shape (the
        image is read here for that; fal fetches it again)."""
        request = ctx.request
        if request.aspect_ratio != AUTO_ASPECT_RATIO or request.model not in RATIO_FROM_SOURCE:
            return request
        path = await source_file(ctx, "source_image", storage=self.storage, max_bytes=self.max_download_bytes)
        shape = await asyncio.to_thread(source_size, path)
        if shape is None:
            raise BackendError("source_image could not be decoded as an image", kind=FailureKind.INPUT)
        ratios = FAL_CATALOG[request.model].aspect_ratios
        return dataclasses.replace(request, aspect_ratio=nearest_aspect_ratio(*shape, ratios))

    async def _reachable_sources(self, ctx: JobContext, request: VideoRequest) -> VideoRequest:
        """fal fetches sources by URL: a source that is one of vidgate's own outputs (which fal
        may not be able to reach) or a data: URI is put on fal's CDN first; other URLs go as
        they are."""
        reachable: dict[str, str] = {}
        for field in SOURCE_FIELDS:
            upload = await self._upload_for(field, getattr(request, field), ctx)
            if upload is not None:
                data, content_type, file_name = upload
                reachable[field] = await self.queue.upload(
                    data, content_type=content_type, file_name=file_name
                )
        return dataclasses.replace(request, **reachable)

    async def _upload_for(self, field: str, url: object, ctx: JobContext) -> tuple[bytes, str, str] | None:
        """(bytes, media type, file name) of a source that must go through fal's CDN."""
        if isinstance(url, str) and url.startswith("data:"):
            try:
                data = decode_data_uri(url, field=field, max_bytes=self.max_download_bytes)
            except FetchError as exc:
                raise BackendError(str(exc), kind=FailureKind.INPUT) from exc
            content_type = data_uri_media_type(url)
            return data, content_type, f"{field}{mimetypes.guess_extension(content_type) or ''}"
        if not isinstance(url, str) or self.storage is None:
            return None
        try:
            path = await self.storage.local_copy(url, ctx.work_dir)
        except LinkRefused as exc:
            raise BackendError(f"{field}: {exc}", kind=FailureKind.INPUT) from exc
        if path is None:
            return None
        return await asyncio.to_thread(path.read_bytes), media_type(path), path.name

    async def _wait(self, handle: Handle, ctx: JobContext, patience: Patience) -> dict[str, Any]:
        """Poll until fal says the request is finished; the status it last reported. fal's
        webhook (on any API process) pokes the job, which checks at once instead of at its
        next poll; the job itself still completes the request, so a webhook and a poll can
        never both do so."""
        delay = self.poll_first_seconds
        running_since: float | None = None
        unknown: set[str] = set()
        while True:
            status = await self._status(handle, patience)
            state = str(status.get("status"))
            if state in FINISHED_STATUSES:
                return status
            await self._stop_if_over(handle, ctx, patience)
            if state == "IN_PROGRESS":
                running_since = running_since or time.monotonic()
                ctx.report_progress(_running_progress(status, time.monotonic() - running_since))
            elif state == "IN_QUEUE":
                position = int(status.get("queue_position") or 0)
                ctx.report_progress(QUEUED_PROGRESS * (0.2 + 0.8 / (1 + position)))
            elif status and state not in unknown:
                unknown.add(state)
                log.warning("fal.ai request %s reports an unknown status %r; still polling",
                            handle.request_id, state)
            await _pause(delay, ctx, patience)
            ctx.poked.clear()  # a webhook buys one immediate check, not a burst of them
            delay = min(POLL_MAX_SECONDS, delay * 1.5)

    async def _status(self, handle: Handle, patience: Patience) -> dict[str, Any]:
        """The request's status; {} when fal stayed unreachable until the deadline or a
        cancel (the caller says which)."""
        try:
            return await self.queue.status(handle, patience)
        except FalUnavailable:
            if not patience.over():
                raise
            return {}

    async def _stop_if_over(self, handle: Handle, ctx: JobContext, patience: Patience) -> None:
        if ctx.cancelled.is_set():
            await self.queue.cancel(handle)
            raise BackendCancelled()
        if patience.over():
            await self.queue.cancel(handle)
            raise BackendError(
                f"fal.ai did not finish the video within {self.timeout_seconds:g} s; the request "
                "was cancelled at fal.ai"
            )

    async def _fetch(self, handle: Handle, ctx: JobContext) -> BackendResult:
        patience = Patience.for_seconds(RESULT_KEPT_SECONDS, stop=ctx.cancelled)
        result = await self.queue.result(handle, patience)
        video = result.get("video")
        if not isinstance(video, dict) or not video.get("url"):
            raise BackendError("fal.ai finished without a video")
        path = ctx.work_dir / "video.mp4"
        await self.queue.download(
            str(video["url"]), path, max_bytes=self.max_download_bytes, patience=patience
        )
        ctx.report_progress(DOWNLOADED_PROGRESS)
        poster = ctx.work_dir / "poster.jpg"
        try:
            info = await asyncio.to_thread(probe_video, path, poster=poster)
        except UnreadableVideo as exc:
            raise BackendError("the file fal.ai returned is not a readable video") from exc
        return BackendResult(
            video_path=path, width=info.width, height=info.height, fps=info.fps,
            duration_seconds=info.duration_seconds, poster_path=poster,
        )


def _failure_kind(error: FalError) -> FailureKind:
    if isinstance(error, FalRejected):
        return FailureKind.INPUT
    return FailureKind.ACCOUNT if isinstance(error, FalAccount) else FailureKind.PROVIDER


async def _save(ctx: JobContext, state: dict[str, Any]) -> None:
    if ctx.save_state is not None:
        await ctx.save_state(state)


async def _pause(delay: float, ctx: JobContext, patience: Patience) -> None:
    """Wait for the next poll: `delay`, or less when the job is cancelled, a webhook says the
    request is done, or the deadline comes first."""
    waits = [asyncio.ensure_future(ctx.cancelled.wait()), asyncio.ensure_future(ctx.poked.wait())]
    try:
        await asyncio.wait(waits, timeout=min(delay, patience.remaining()),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def _running_progress(status: dict[str, Any], elapsed: float) -> float:
    """How far a running request is: what the model's own logs say ("45%", "step 9/20"),
    else a share of the way that grows with time and never reaches the end."""
    share = 1 - 0.5 ** (elapsed / RUNNING_HALF_LIFE_SECONDS)
    for entry in reversed(status.get("logs") or []):
        message = str(entry.get("message", "")) if isinstance(entry, dict) else ""
        if found := _PERCENT.search(message):
            share = max(share, min(1.0, float(found.group(1)) / 100))
            break
        if (found := _STEPS.search(message)) and int(found.group(2)) > 0:
            share = max(share, min(1.0, int(found.group(1)) / int(found.group(2))))
            break
    return QUEUED_PROGRESS + (RUNNING_PROGRESS_CEILING - QUEUED_PROGRESS) * share


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_STEPS = re.compile(r"(\d+)\s*/\s*(\d+)")
