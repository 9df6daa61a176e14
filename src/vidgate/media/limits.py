"""How large a source may be before it is refused unread: the server's settings and the
engine's defaults."""

from __future__ import annotations

from dataclasses import dataclass

# Sized for 4k work: a 4k frame is 8.3 million pixels (11 million at the image mode's closest
# zoom), 8K video 33 million. A source image at this size takes about 120 MB per RGB copy.
DEFAULT_MAX_SOURCE_PIXELS = 40_000_000
DEFAULT_MAX_SOURCE_SECONDS = 600.0


@dataclass(frozen=True)
class SourceLimits:
    """`max_pixels` bounds a source image as decoded and each frame of a source video;
    `max_video_seconds` bounds a source video's declared length."""

    max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS
    max_video_seconds: float = DEFAULT_MAX_SOURCE_SECONDS
