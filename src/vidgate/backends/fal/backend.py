"""fal.ai as a backend: one queue request per job, resumable after a restart."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import av
import httpx

from vidgate.backends.base import Backend, BackendResult, JobContext
from vidgate.backends.errors import BackendCancelled, BackendError
from vidgate.backends.fal.inputs import model_input
from vidgate.backends.fal.queue import (
    DEFAULT_REST_URL,
    FalAccount,
    FalError,
    FalQueue,
    FalRejected,
    Handle,
)
from vidgate.backends.fal.webhooks import DEFAULT_JWKS_URL, WebhookVerifier
from vidgate.engine.poster import save_poster
from vidgate.media.fetch import SOURCE_FIELDS
from vidgate.storage import LocalStorage, media_type

log = logging.getLogger(__name__)

DEFAULT_QUEUE_URL = "https://queue.fal.run"
POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 5.0
QUEUED_PROGRESS = 0.02
# While fal runs the model it says nothing of how far it is: progress creeps towards this.
RUNNING_PROGRESS_CEILING = 0.9
RUNNING_HALF_LIFE_SECONDS = 30.0
DOWNLOADED_PROGRESS = 0.97


class FalBackend(Backend):
    name = "fal"

    def __init__(
        self, *, key: str, queue_url: str = DEFAULT_QUEUE_URL, max_download_bytes: int,
        http: httpx.AsyncClient | None = None, poll_first_seconds: float = POLL_FIRST_SECONDS,
        webhook_url: str | None = None, jwks_url: str = DEFAULT_JWKS_URL,
        rest_url: str = DEFAULT_REST_URL, storage: LocalStorage | None = None,
    ) -> None:
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(120, connect=30))
        self.queue = FalQueue(self.http, key=key, base_url=queue_url, rest_url=rest_url)
        self.storage = storage
        self.max_download_bytes = max_download_bytes
        self.poll_first_seconds = poll_first_seconds
        self.webhook_url = webhook_url
        self.webhooks = WebhookVerifier(self.http, jwks_url=jwks_url)
        self._finished: dict[str, asyncio.Event] = {}

    def request_finished(self, request_id: str) -> None:
        """fal said (by webhook) that a request is done: its job stops waiting and checks now.
        The job itself still completes it, so a webhook and a poll can never both do so."""
        event = self._finished.get(request_id)
        if event is not None:
            event.set()

    async def run(self, ctx: JobContext) -> BackendResult:
        try:
            handle = await self._handle(ctx)
            await self._wait(handle, ctx)
            return await self._fetch(handle, ctx)
        except FalRejected as exc:
            raise BackendError(str(exc), status=400) from exc
        except FalAccount as exc:
            raise BackendError(str(exc), status=503) from exc
        except FalError as exc:
            raise BackendError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def _handle(self, ctx: JobContext) -> Handle:
        """The job's fal request: the one stored with the job (a restart resumes it), or a new
        one, stored before anything else happens."""
        if ctx.state and "request_id" in ctx.state:
            return Handle.from_state(ctx.state)
        if ctx.cancelled.is_set():
            raise BackendCancelled()
        params = await self._reachable_sources(ctx.params)
        handle = await self.queue.submit(
            ctx.model, model_input(ctx.model, params), webhook_url=self.webhook_url
        )
        if ctx.save_state is not None:
            await ctx.save_state(handle.as_state())
        return handle

    async def _reachable_sources(self, params: dict[str, Any]) -> dict[str, Any]:
        """fal fetches sources by URL: a source that is one of vidgate's own outputs (which fal
        may not be able to reach) is put on fal's CDN first; other URLs go as they are."""
        reachable = dict(params)
        for field in SOURCE_FIELDS:
            path = self._own_file(params.get(field))
            if path is not None:
                reachable[field] = await self.queue.upload(
                    await asyncio.to_thread(path.read_bytes),
                    content_type=media_type(path),
                    file_name=path.name,
                )
        return reachable

    def _own_file(self, url: object) -> Path | None:
        return None if self.storage is None else self.storage.path_for_url(url)

    async def _wait(self, handle: Handle, ctx: JobContext) -> None:
        finished = self._finished.setdefault(handle.request_id, asyncio.Event())
        try:
            await self._poll(handle, ctx, finished)
        finally:
            self._finished.pop(handle.request_id, None)

    async def _poll(self, handle: Handle, ctx: JobContext, finished: asyncio.Event) -> None:
        delay = self.poll_first_seconds
        loop = asyncio.get_running_loop()
        running_since: float | None = None
        while True:
            status = await self.queue.status(handle)
            state = status.get("status")
            if state == "COMPLETED":
                if status.get("error"):
                    raise BackendError(f"fal.ai could not make the video: {status['error']}")
                return
            if state == "IN_PROGRESS":
                running_since = running_since or loop.time()
                ctx.report_progress(_running_progress(status, loop.time() - running_since))
            else:
                position = int(status.get("queue_position") or 0)
                ctx.report_progress(QUEUED_PROGRESS * (0.2 + 0.8 / (1 + position)))
            waits = [asyncio.ensure_future(ctx.cancelled.wait()), asyncio.ensure_future(finished.wait())]
            try:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            finished.clear()  # a webhook buys one immediate check, not a burst of them
            if ctx.cancelled.is_set():
                await self.queue.cancel(handle)
                raise BackendCancelled()
            delay = min(POLL_MAX_SECONDS, delay * 1.5)

    async def _fetch(self, handle: Handle, ctx: JobContext) -> BackendResult:
        result = await self.queue.result(handle)
        video = result.get("video")
        if not isinstance(video, dict) or not video.get("url"):
            raise BackendError("fal.ai finished without a video")
        path = ctx.work_dir / "video.mp4"
        await self.queue.download(str(video["url"]), path, max_bytes=self.max_download_bytes)
        ctx.report_progress(DOWNLOADED_PROGRESS)
        poster = ctx.work_dir / "poster.jpg"
        width, height, fps, duration = await asyncio.to_thread(_probe, path, poster)
        return BackendResult(
            video_path=path, width=width, height=height, fps=fps, duration_seconds=duration,
            poster_path=poster,
        )


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


def _probe(path: Path, poster: Path) -> tuple[int, int, float, float]:
    """Size, fps and duration of the file itself (most fal models do not report them), and its
    middle frame as the poster."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = float((container.duration or 0) / av.time_base)
            container.seek(int(duration / 2 / float(stream.time_base)) if stream.time_base else 0,
                           stream=stream)
            for frame in container.decode(stream):
                save_poster(frame, poster, width, height)
                break
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise BackendError("the file fal.ai returned is not a readable video") from exc
    return width, height, round(fps, 3), round(duration, 3)


