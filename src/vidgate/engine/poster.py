"""The poster image of a clip: one frame as a JPEG, at the clip's aspect ratio."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

# Posters are previews: a 4k clip gets a 1280-pixel-wide (or tall) poster, not a 4k one.
MAX_POSTER_SIDE = 1280
JPEG_QUALITY = 85


def poster_size(width: int, height: int) -> tuple[int, int]:
    """The clip's size, scaled down so the long side is at most MAX_POSTER_SIDE.

    >>> poster_size(3840, 2160)
    (1280, 720)
    >>> poster_size(720, 1280)
    (720, 1280)
    """
    scale = min(1.0, MAX_POSTER_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def save_poster(frame: av.VideoFrame, path: Path, width: int, height: int) -> None:
    """Write `frame` (any size or pixel format) as the poster of a width x height clip."""
    image = frame.to_image().convert("RGB")
    image = image.resize(poster_size(width, height), Image.Resampling.BICUBIC)
    image.save(path, format="JPEG", quality=JPEG_QUALITY, optimize=True)
