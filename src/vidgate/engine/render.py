"""render(): pick the frame source for the mode, stream its frames into the MP4 writer."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import av

from vidgate.engine.encode import Mp4Writer
from vidgate.engine.errors import RenderCancelled
from vidgate.engine.image import open_image_source
from vidgate.engine.poster import save_poster
from vidgate.engine.request import RenderRequest, RenderResult
from vidgate.engine.scenes import Scene, build_scene
from vidgate.engine.video import open_video_source

# Share of the progress bar for producing frames; the rest is the encoder's flush and
# the faststart rewrite, which follow the last frame.
_FRAMES_SHARE = 0.98
_PROGRESS_STEP = 0.01
# Frames made ahead of the encoder, and how much lower the frame maker's priority is than the
# encoder's. libx264's frame threads depend on one another, so it leaves part of the CPUs idle
# even when fed at once; a maker with several frames to do and a lower priority fills that
# idle time instead of taking a core from the encoder thread everything else waits on.
# Measured on 2 cores: 10 to 15% less wall time than one frame ahead at equal priority.
_FRAMES_AHEAD = 4
_MAKER_NICENESS = 10
# glibc malloc settings for the frame loop (mallopt parameter, value). By default glibc maps
# blocks above a threshold that it only raises as it sees them freed, and gives the top of
# the heap back to the kernel once 2x that is free; a frame's float32 temporaries, whose sizes
# vary with what is in view, then fault in fresh pages on every frame (measured: 1,500 page
# faults per frame and 50% more time in a liquid-metal scene in a fresh process). Blocks up to
# 32 MiB come from the heap and up to 128 MiB of freed heap is kept for the next frames.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
_MALLOC_SETTINGS = ((_M_MMAP_THRESHOLD, 32 * 1024 * 1024), (_M_TRIM_THRESHOLD, 128 * 1024 * 1024))


class FrameSource(Protocol):
    def frame(self, t: float) -> av.VideoFrame: ...

    def close(self) -> None: ...


class SceneSource:
    """Adapts a numpy scene to a frame source (the writer upscales its working size)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene

    def frame(self, t: float) -> av.VideoFrame:
        # Planar RGB: a scene draws its channels as planes, so no interleaving copy is made.
        return av.VideoFrame.from_ndarray(self.scene.frame(t), format="gbrp")

    def close(self) -> None:
        pass


def open_source(request: RenderRequest) -> FrameSource:
    """The mode's frame source; source media is opened (and rejected) here."""
    if request.mode == "image_to_video":
        return open_image_source(request)
    if request.mode == "video_to_video":
        return open_video_source(request)
    return SceneSource(build_scene(request))


@functools.cache
def _keep_freed_memory() -> bool:
    """Apply _MALLOC_SETTINGS once per process (glibc only); whether they were applied."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    return all(mallopt(parameter, value) == 1 for parameter, value in _MALLOC_SETTINGS)


def _lower_priority() -> None:
    """Lower the calling thread's priority by _MAKER_NICENESS (Linux, where niceness is per
    thread; elsewhere it would apply to the whole process, so nothing is changed)."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    niceness = min(19, os.getpriority(os.PRIO_PROCESS, thread) + _MAKER_NICENESS)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, niceness)


class _Progress:
    """Forwards rising fractions, at most about 1/_PROGRESS_STEP times."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._last = -1.0

    def __call__(self, fraction: float) -> None:
        if self._callback is None:
            return
        due = fraction >= 1.0 or fraction - self._last >= _PROGRESS_STEP
        if due and fraction > self._last:
            self._last = fraction
            self._callback(fraction)


def render(
    request: RenderRequest,
    out_path: Path,
    *,
    progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    poster_path: Path | None = None,
) -> RenderResult:
    """Render ``request`` into an MP4 at ``out_path``, one frame at a time.

    Frame i shows time i / fps. ``should_cancel`` is polled before every frame; cancelling
    raises ``RenderCancelled``. On any error the partial file is removed (and an existing
    file at ``out_path`` is left as it was). ``progress`` gets rising fractions ending in 1.0.
    With ``poster_path``, the middle frame is also saved there as a JPEG poster.
    Source media problems raise ``SourceMediaError`` before any output is created.
    """
    out_path = Path(out_path)
    frame_count, fps = request.frame_count, request.fps
    _keep_freed_memory()
    report = _Progress(progress)
    source = open_source(request)
    try:
        report(0.0)
        with (
            Mp4Writer(out_path, request.width, request.height, fps) as writer,
            ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="vidgate-frames", initializer=_lower_priority
            ) as maker,
        ):
            # Frames are made and converted while the encoder (which releases the GIL) works.
            # One thread, in order: sources keep state between frames.
            def make(index: int) -> tuple[av.VideoFrame, av.VideoFrame]:
                frame = source.frame(index / fps)
                return frame, writer.convert(frame)

            ahead = deque(maker.submit(make, i) for i in range(min(_FRAMES_AHEAD, frame_count)))
            try:
                for index in range(frame_count):
                    if should_cancel is not None and should_cancel():
                        raise RenderCancelled("render cancelled")
                    frame, converted = ahead.popleft().result()
                    if index + _FRAMES_AHEAD < frame_count:
                        ahead.append(maker.submit(make, index + _FRAMES_AHEAD))
                    writer.write(converted, converted=True)
                    if poster_path is not None and index == frame_count // 2:
                        save_poster(frame, poster_path, request.width, request.height)
                    report(_FRAMES_SHARE * (index + 1) / frame_count)
            except BaseException:
                for pending in ahead:  # frames nobody will encode
                    pending.cancel()
                raise
    except BaseException:
        if poster_path is not None:
            poster_path.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    report(1.0)
    return RenderResult(request.width, request.height, fps, frame_count, request.period)
