"""video_to_video: a source video re-timed to the output fps and duration (and to the speed
and direction the prompt asks for), cover-cropped to the output size, colour graded and
stylised (see styles.py). Frames are decoded lazily; at most a few are held in memory (a
reversed clip is spooled to a compressed temporary file first)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Generator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image

from vidgate.engine.errors import SourceMediaError
from vidgate.engine.framing import cover_box
from vidgate.engine.grade import Grader
from vidgate.engine.prompt import make_rng
from vidgate.engine.request import RenderRequest
from vidgate.engine.styles import Grain, Look, choose_look, stylise
from vidgate.media.limits import SourceLimits

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


def declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """A video's length in seconds as its file declares it (the stream's, else the
    container's); 0 when it declares none."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return float((container.duration or 0) / av.time_base)


def check_source_size(path: Path, limits: SourceLimits) -> None:
    """Refuse a source video whose frames or length exceed `limits`, from what its file
    declares, before a frame is decoded. A file that declares no length is not refused for
    it: only as much of a source is decoded as the output needs."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = declared_duration(container, stream)
    finally:
        container.close()
    if width * height > limits.max_pixels:
        raise SourceMediaError(
            f"source_video is {width}x{height} pixels, more than this server decodes: frames of at "
            f"most {limits.max_pixels / 1e6:g} million pixels"
        )
    if duration > limits.max_video_seconds:
        raise SourceMediaError(
            f"source_video is {duration:.1f} s long; this server accepts source videos of at most "
            f"{limits.max_video_seconds:g} s"
        )


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
        left, top, right, bottom = cover_box(frame.width, frame.height, self.width, self.height)
        scale = min(1.0, self.width / (right - left))
        scaled_w, scaled_h = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
        rgb = frame.to_ndarray(
            width=scaled_w, height=scaled_h, format="rgb24", interpolation=Interpolation.BILINEAR
        )
        x, y = round(left * scale), round(top * scale)
        crop_w = max(1, min(round((right - left) * scale), scaled_w - x))
        crop_h = max(1, min(round((bottom - top) * scale), scaled_h - y))
        return Image.fromarray(rgb[y : y + crop_h, x : x + crop_w])

    def close(self) -> None:
        self._frames.close()


def open_video_source(request: RenderRequest) -> VideoToVideo | Reversed:
    assert request.source_video is not None
    check_source_size(request.source_video, request.source_limits)
    rng = make_rng(request.seed, request.prompt)
    look = choose_look(request.prompt, rng, request.negative_prompt)
    forward = VideoToVideo(request, look, rng)
    return Reversed(forward, request) if look.reverse else forward


class VideoToVideo:
    """Re-timed, graded, stylised frames of the source. With ``loop``, the first second (at
    most a quarter of the clip) cross-fades from the source just past the clip's end back to
    its start, so the last frame flows into the first."""

    def __init__(self, request: RenderRequest, look: Look, rng: np.random.Generator) -> None:
        assert request.source_video is not None
        self._path = request.source_video
        self.width, self.height = request.width, request.height
        self.period = request.period
        self.fps = request.fps
        self._look = look
        self._fade = min(LOOP_FADE_SECONDS, self.period / 4) if request.loop else 0.0
        self._main = Sampler(self._path, self.width, self.height)
        self._tail: Sampler | None = None
        self._grade = look.grade
        self.grain = Grain(look.grain, rng) if look.grain else None
        self._grader: Grader | None = None
        self._key: tuple[float, ...] = ()
        self._image: Image.Image | None = None
        self._frame: av.VideoFrame | None = None
        self._frame_of: Image.Image | None = None

    def frame(self, t: float) -> av.VideoFrame:
        image = self.image(t)
        if self.grain is not None:
            grained = self.grain.apply(image, round(t * self.fps))
            return av.VideoFrame.from_ndarray(np.asarray(grained), format="rgb24")
        if self._frame is None or self._frame_of is not image:
            self._frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            self._frame_of = image
        return self._frame

    def image(self, t: float) -> Image.Image:
        """The graded, stylised picture at output time t (without grain)."""
        speed = self._look.speed
        number, image = self._main.image_at(t * speed)
        key: tuple[float, ...] = (number,)
        if t < self._fade:
            if self._tail is None:
                self._tail = Sampler(self._path, self.width, self.height)
            tail_number, tail = self._tail.image_at((self.period + t) * speed)
            weight = 0.5 + 0.5 * math.cos(math.pi * t / self._fade)
            image = Image.blend(image, tail, weight)
            key = (number, tail_number, weight)
        elif self._tail is not None:
            self._tail.close()
            self._tail = None
        if key != self._key or self._image is None:
            if self._grader is None or self._grader.size != image.size:
                self._grader = Grader(self._grade, *image.size)
            self._image = stylise(self._grader.apply(image), self._look.style)
            self._key = key
        return self._image

    def close(self) -> None:
        self._main.close()
        if self._tail is not None:
            self._tail.close()


# Frames per keyframe interval of a reversed clip's spool: the most pictures held in memory.
REVERSE_CHUNK = 12
_SPOOL_OPTIONS = {
    "preset": "ultrafast",
    "crf": "6",  # visually lossless: the spool is encoded once more for the output
    "x264-params": f"keyint={REVERSE_CHUNK}:min-keyint={REVERSE_CHUNK}:scenecut=0:bframes=0",
}


class Reversed:
    """The forward clip played backwards.

    The forward pictures are first encoded, in order, into a temporary RGB H.264 file with a
    keyframe every ``REVERSE_CHUNK`` frames (one pass over the source). That file is then read
    back from its end one keyframe interval at a time, so memory holds one interval of
    pictures and the disk a compressed copy, whatever the clip's length and size.
    """

    def __init__(self, forward: VideoToVideo, request: RenderRequest) -> None:
        self._forward = forward
        self._count = request.frame_count
        self.fps = request.fps
        self._folder = tempfile.TemporaryDirectory(prefix="vidgate-reverse-")
        self._spool_path = Path(self._folder.name) / "forward.mp4"
        self._spool: av.container.InputContainer | None = None
        self._chunk_start = -1
        self._chunk: list[np.ndarray] = []

    def frame(self, t: float) -> av.VideoFrame:
        if self._spool is None:
            self._spool = self._write_spool()
        index = self._count - 1 - min(self._count - 1, round(t * self.fps))
        picture = self._picture(index)
        if self._forward.grain is not None:
            grained = self._forward.grain.apply(Image.fromarray(picture), round(t * self.fps))
            picture = np.asarray(grained)
        return av.VideoFrame.from_ndarray(picture, format="rgb24")

    def _write_spool(self) -> av.container.InputContainer:
        with av.open(str(self._spool_path), "w", format="mp4") as container:
            stream = container.add_stream("libx264rgb", rate=self.fps)
            first = self._forward.image(0.0)
            stream.width, stream.height, stream.pix_fmt = first.width, first.height, "rgb24"
            stream.options = _SPOOL_OPTIONS
            for index in range(self._count):
                image = first if index == 0 else self._forward.image(index / self.fps)
                frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
                frame.pts = index
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        self._forward.close()
        return av.open(str(self._spool_path))

    def _picture(self, index: int) -> np.ndarray:
        """Forward picture number ``index``, decoding its keyframe interval when needed."""
        start = index - index % REVERSE_CHUNK
        if start != self._chunk_start:
            self._chunk = self._decode_chunk(start)
            self._chunk_start = start
        return self._chunk[min(index - start, len(self._chunk) - 1)]

    def _decode_chunk(self, start: int) -> list[np.ndarray]:
        assert self._spool is not None
        stream = self._spool.streams.video[0]
        self._spool.seek(int(start / self.fps / stream.time_base), stream=stream, backward=True)
        pictures: list[np.ndarray] = []
        for frame in self._spool.decode(stream):
            number = round(float(frame.time) * self.fps)
            if number < start:
                continue
            pictures.append(frame.to_ndarray(format="rgb24"))
            if number + 1 >= start + REVERSE_CHUNK:
                break
        return pictures

    def close(self) -> None:
        self._forward.close()
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._chunk = []
        self._folder.cleanup()
