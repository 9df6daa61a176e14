"""What a video file really has: size, fps and duration, read from the file itself."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import ExifTags, Image, UnidentifiedImageError

from vidgate.engine.image import QUARTER_TURNS
from vidgate.engine.poster import save_poster
from vidgate.engine.video import declared_duration


class UnreadableVideo(Exception):
    """The file is not a video PyAV can read."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration_seconds: float


def probe_video(path: Path, *, poster: Path | None = None) -> VideoInfo:
    """Size, fps and duration of the file's first video stream; with `poster`, its middle
    frame is saved there as the clip's poster."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            duration = declared_duration(container, stream)
            if poster is not None:
                middle = int(duration / 2 / float(stream.time_base)) if stream.time_base else 0
                container.seek(middle, stream=stream)
                for frame in container.decode(stream):
                    save_poster(frame, poster, width, height)
                    break
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise UnreadableVideo(str(path)) from exc
    return VideoInfo(width, height, round(fps, 3), round(duration, 3))


def source_size(path: Path) -> tuple[int, int] | None:
    """Width and height of a source image (as shown: EXIF rotation applied) or video, read
    from its header without decoding pictures; None when the file is neither (its render
    then says why)."""
    try:
        with warnings.catch_warnings():  # a size past Pillow's warning is refused by the render
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(path)
        with opened as image:
            width, height = image.size
            if image.getexif().get(ExifTags.Base.Orientation, 1) in QUARTER_TURNS:
                width, height = height, width
            return width, height
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        pass
    try:
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            return (context.width, context.height) if context.width and context.height else None
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None
