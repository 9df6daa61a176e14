"""The local engine as a backend: renders in a child process so the API stays responsive,
with progress and cancellation over a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vidgate.backends.base import Backend, BackendResult, JobContext, VideoRequest
from vidgate.backends.errors import BackendCancelled, BackendError, FailureKind
from vidgate.backends.registry import BackendPlugin
from vidgate.backends.sources import source_file
from vidgate.catalog import LOCAL_MODEL_ID, ModelSpec
from vidgate.config import Settings
from vidgate.engine import RenderCancelled, RenderRequest, SourceMediaError, optimize_prompt, render
from vidgate.media.dimensions import (
    AUTO_ASPECT_RATIO,
    DEFAULT_ASPECT_RATIO,
    RESOLUTIONS,
    nearest_aspect_ratio,
    output_dimensions,
)
from vidgate.media.limits import SourceLimits
from vidgate.media.probe import source_size
from vidgate.storage import Storage

# Scheduling priority of render processes, below the server's own (0).
RENDER_NICENESS = 10
# How long a render may take to stop after being asked before it is killed.
CANCEL_GRACE_SECONDS = 5.0
# forkserver: the server process has threads (database drivers, the event loop), so a plain
# fork is unsafe, and spawn would re-import everything for every job.
_MP = multiprocessing.get_context("forkserver")
_MP.set_forkserver_preload(["vidgate.engine"])


def rendered_prompt(request: VideoRequest) -> str:
    """The prompt the engine renders: expanded with camera and light defaults when the
    request keeps `prompt_optimizer` on (the seed's default)."""
    if request.prompt_optimizer:
        return optimize_prompt(request.prompt, request.mode, request.negative_prompt)
    return request.prompt


def render_request(
    request: VideoRequest,
    source: Path | None = None,
    limits: SourceLimits = SourceLimits(),
    source_shape: tuple[int, int] | None = None,
) -> RenderRequest:
    """What the engine renders for a job's request, with the mode's source media at `source`
    on local disk, refused past `limits`. Aspect ratio auto takes the ratio nearest the
    source's `source_shape` (width, height), 16:9 when it is unknown (the source is then
    refused by the render, which says why)."""
    aspect = request.aspect_ratio
    if aspect == AUTO_ASPECT_RATIO:
        aspect = nearest_aspect_ratio(*source_shape) if source_shape else DEFAULT_ASPECT_RATIO
    width, height = output_dimensions(request.resolution, aspect)
    return RenderRequest(
        mode=request.mode,
        prompt=rendered_prompt(request),
        negative_prompt=request.negative_prompt,
        width=width,
        height=height,
        fps=request.fps,
        duration_seconds=float(request.duration_seconds),
        seed=request.seed,
        loop=request.loop,
        source_limits=limits,
        source_image=source if request.source_field == "source_image" else None,
        source_video=source if request.source_field == "source_video" else None,
    )


LOCAL_MODEL = ModelSpec(
    id=LOCAL_MODEL_ID,
    title="vidgate local engine",
    best_for="Offline renders on this machine; free of any provider account",
    provider="local",
    tier="basic",
    modes=("text_to_video", "image_to_video", "video_to_video"),
    max_duration=60,
    resolutions=RESOLUTIONS,
    credits_per_second_override=10,
)


def plugin(settings: Settings) -> BackendPlugin:
    """The local engine: always configured; `VIDGATE_WORKERS` renders at once per worker
    process. It also renders every sandbox job, whatever model it names."""
    return BackendPlugin(
        name="local",
        lane="local",
        models=(LOCAL_MODEL,),
        create=lambda services: LocalBackend(
            max_source_bytes=services.settings.max_source_bytes,
            source_limits=services.source_limits,
            storage=services.storage,
        ),
        concurrency=settings.workers,
    )


class LocalBackend(Backend):
    name = "local"

    def __init__(
        self, *, max_source_bytes: int, source_limits: SourceLimits, storage: Storage
    ) -> None:
        self.max_source_bytes = max_source_bytes
        self.source_limits = source_limits
        self.storage = storage

    async def run(self, ctx: JobContext) -> BackendResult:
        request = await self._render_request(ctx)
        out_path = ctx.work_dir / "video.mp4"
        poster_path = ctx.work_dir / "poster.jpg"
        result = await _render_in_child_process(request, out_path, poster_path, ctx)
        return BackendResult(
            video_path=out_path,
            poster_path=poster_path,
            optimized_prompt=request.prompt if ctx.request.prompt_optimizer else None,
            width=result["width"],
            height=result["height"],
            fps=result["fps"],
            duration_seconds=result["duration_seconds"],
        )

    async def _render_request(self, ctx: JobContext) -> RenderRequest:
        field = ctx.request.source_field
        if field is None:
            return render_request(ctx.request, limits=self.source_limits)
        source = await source_file(ctx, field, storage=self.storage, max_bytes=self.max_source_bytes)
        shape = None
        if ctx.request.aspect_ratio == AUTO_ASPECT_RATIO:
            shape = await asyncio.to_thread(source_size, source)
        return render_request(ctx.request, source, self.source_limits, shape)


async def _render_in_child_process(
    request: RenderRequest, out_path: Path, poster_path: Path, ctx: JobContext
) -> dict[str, Any]:
    parent_end, child_end = _MP.Pipe()
    process = _MP.Process(
        target=_child_main, args=(child_end, request, out_path, poster_path), daemon=True
    )
    process.start()
    child_end.close()
    messages: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    fd = parent_end.fileno()

    def on_readable() -> None:
        try:
            messages.put_nowait(parent_end.recv())
        except (EOFError, OSError):
            loop.remove_reader(fd)
            messages.put_nowait(("exited",))

    loop.add_reader(fd, on_readable)
    try:
        return await _follow(messages, parent_end, process, ctx)
    finally:
        loop.remove_reader(fd)
        if process.is_alive():  # cancelled from outside (shutdown): ask the render to stop
            with contextlib.suppress(OSError):
                parent_end.send("cancel")
        parent_end.close()
        await _reap(process)


async def _follow(
    messages: asyncio.Queue[tuple[Any, ...]],
    conn: Connection,
    process: Any,
    ctx: JobContext,
) -> dict[str, Any]:
    cancel_sent = False
    cancel_wait = asyncio.ensure_future(ctx.cancelled.wait())
    try:
        while True:
            next_message = asyncio.ensure_future(messages.get())
            waiting = {next_message} if cancel_sent else {next_message, cancel_wait}
            done, _ = await asyncio.wait(
                waiting,
                timeout=CANCEL_GRACE_SECONDS if cancel_sent else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:  # asked to stop, did not: _reap kills it
                next_message.cancel()
                raise BackendCancelled()
            if next_message not in done:
                next_message.cancel()
                with contextlib.suppress(OSError):  # the child has just exited
                    conn.send("cancel")
                cancel_sent = True
                continue
            kind, *payload = next_message.result()
            if kind == "progress":
                ctx.report_progress(payload[0])
            elif kind == "done":
                return dict(payload[0])
            elif kind == "cancelled":
                raise BackendCancelled()
            elif kind == "refused":  # the client's source media
                raise BackendError(payload[0], kind=FailureKind.INPUT)
            elif kind == "error":
                raise BackendError(payload[0])
            else:  # the child exited without a word
                raise BackendError(
                    f"The local engine stopped unexpectedly (exit code {process.exitcode})"
                )
    finally:
        cancel_wait.cancel()


async def _reap(process: Any) -> None:
    await asyncio.to_thread(process.join, CANCEL_GRACE_SECONDS)
    if process.is_alive():
        process.kill()
        await asyncio.to_thread(process.join, CANCEL_GRACE_SECONDS)


def _child_main(
    conn: Connection, request: RenderRequest, out_path: Path, poster_path: Path
) -> None:
    """Runs in the render process."""
    # A stop signal sent to the server's whole process group (Ctrl-C in a terminal, most
    # service managers) is the server's to handle: it asks each render to stop through the
    # pipe and gives the job back, and kills a render that does not stop in time.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Rendering is batch work: when the CPUs are busy, API requests go first.
    os.nice(RENDER_NICENESS)
    stop = False

    def should_cancel() -> bool:
        nonlocal stop
        try:
            if not stop and conn.poll():
                conn.recv()
                stop = True
        except (EOFError, OSError):  # the server is gone: nobody wants this video any more
            stop = True
        return stop

    def progress(fraction: float) -> None:
        nonlocal stop
        try:
            conn.send(("progress", fraction))
        except OSError:  # as in should_cancel: the server is gone
            stop = True

    try:
        result = render(
            request, out_path, progress=progress, should_cancel=should_cancel,
            poster_path=poster_path,
        )
        outcome: tuple[Any, ...] = ("done", dataclasses.asdict(result))
    except RenderCancelled:
        outcome = ("cancelled",)
    except SourceMediaError as exc:
        outcome = ("refused", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the job, the process ends anyway
        outcome = ("error", f"The local engine failed: {exc.__class__.__name__}: {exc}")
    with contextlib.suppress(OSError):  # a server that asked this render to stop has stopped listening
        conn.send(outcome)
    conn.close()
