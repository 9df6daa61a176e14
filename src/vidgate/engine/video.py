"""video_to_video: a source video re-timed to the output fps and duration, cover-cropped to
the output size and colour graded. Frames are decoded lazily; at most a few are held."""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image

from vidgate.engine.errors import SourceMediaError
from vidgate.engine.framing import cover_box
from vidgate.engine.grade import Grader, choose_grade
from vidgate.engine.prompt import make_rng
from vidgate.engine.request import RenderRequest

LOOP_FADE_SECONDS = 1.0
# Output times and source timestamps are floats from different time bases.
_TIME_EPSILON = 1e-4

TimedFrame = tuple[float, int, av.VideoFrame]


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise SourceMediaError(f"source_video not found: {path}")
    try:
        container = av.open(str(path))
    except Exception as exc:
        raise SourceMediaError("source_video could not be opened as a video") from exc
    if not container.streams.video:
        container.close()
        raise SourceMediaError("source_video has no video stream")
    return container


def timeline(path: Path) -> Generator[TimedFrame, None, None]:
    """The source's frames, restarting at its end forever, as (time, frame number, frame).

    Times start at 0 and keep growing across restarts; a restart comes one frame interval
    after the last frame. The frame number counts within one pass of the source.
    """
    offset = 0.0
    while True:
        container = _open(path)
        last = 0.0
        count = 0
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            step = 1 / float(rate) if rate else 1 / 30
            first: float | None = None
            for frame in container.decode(stream):
                if frame.time is None:
                    t = count * step
                else:
                    first = frame.time if first is None else first
                    t = frame.time - first
                t = max(t, last)
                yield offset + t, count, frame
                last = t
                count += 1
        except av.FFmpegError as exc:
            raise SourceMediaError("source_video could not be decoded") from exc
        finally:
            container.close()
        if count == 0:
            raise SourceMediaError("source_video has no decodable frames")
        offset += last + step


class Sampler:
    """The source picture on screen at a given time, cover-cropped to the output's aspect.

    Times must not decrease between calls. The picture shown at t is the last source frame
    that starts at or before t, so a faster output rate repeats frames and a slower one
    skips them. A source larger than the output is scaled down to it here; a smaller one
    keeps its own size (grading fewer pixels) and the encoder's scaler enlarges it.
    """

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._frames = timeline(path)
        self._current = next(self._frames)
        self._next = next(self._frames)
        self._number = -1
        self._image: Image.Image | None = None

    def image_at(self, t: float) -> tuple[int, Image.Image]:
        while self._next[0] <= t + _TIME_EPSILON:
            self._current, self._next = self._next, next(self._frames)
        _, number, frame = self._current
        if number != self._number or self._image is None:
            self._image = self._crop(frame)
            self._number = number
        return number, self._image

    def _crop(self, frame: av.VideoFrame) -> Image.Image:
        # One swscale pass scales the whole frame (so its cover-crop is at most the output
        # size) and converts it to RGB; the crop is then a slice.
        left, top, right, _ = cover_box(frame.width, frame.height, self.width, self.height)
        scale = min(1.0, self.width / (right - left))
        crop_w = min(round(self.width * scale), round(frame.width * scale))
        crop_h = min(round(self.height * scale), round(frame.height * scale))
        rgb = frame.to_ndarray(
            width=round(frame.width * scale),
            height=round(frame.height * scale),
            format="rgb24",
            interpolation=Interpolation.BILINEAR,
        )
        x, y = round(left * scale), round(top * scale)
        return Image.fromarray(rgb[y : y + crop_h, x : x + crop_w])

    def close(self) -> None:
        self._frames.close()


class VideoToVideo:
    """Re-timed, graded frames of the source. With ``loop``, the first second (at most a
    quarter of the clip) cross-fades from the source just past the clip's end back to its
    start, so the last frame flows into the first."""

    def __init__(self, request: RenderRequest) -> None:
        assert request.source_video is not None
        self._path = request.source_video
        self.width, self.height = request.width, request.height
        self.period = request.period
        self._fade = min(LOOP_FADE_SECONDS, self.period / 4) if request.loop else 0.0
        self._main = Sampler(self._path, self.width, self.height)
        self._tail: Sampler | None = None
        self._grade = choose_grade(request.prompt, make_rng(request.seed, request.prompt))
        self._grader: Grader | None = None
        self._key: tuple[float, ...] = ()
        self._frame: av.VideoFrame | None = None

    def frame(self, t: float) -> av.VideoFrame:
        number, image = self._main.image_at(t)
        key: tuple[float, ...] = (number,)
        if t < self._fade:
            if self._tail is None:
                self._tail = Sampler(self._path, self.width, self.height)
            tail_number, tail = self._tail.image_at(self.period + t)
            weight = 0.5 + 0.5 * math.cos(math.pi * t / self._fade)
            image = Image.blend(image, tail, weight)
            key = (number, tail_number, weight)
        elif self._tail is not None:
            self._tail.close()
            self._tail = None
        if key != self._key or self._frame is None:
            if self._grader is None or self._grader.size != image.size:
                self._grader = Grader(self._grade, *image.size)
            graded = np.asarray(self._grader.apply(image))
            self._frame = av.VideoFrame.from_ndarray(graded, format="rgb24")
            self._key = key
        return self._frame

    def close(self) -> None:
        self._main.close()
        if self._tail is not None:
            self._tail.close()
