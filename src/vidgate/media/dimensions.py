"""Output dimensions by resolution and aspect ratio (DESIGN.md's table)."""

from __future__ import annotations

RESOLUTIONS = ("720p", "1080p", "4k")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")

# The short side of each resolution; the long side follows the aspect ratio.
_SHORT_SIDE = {"720p": 720, "1080p": 1080, "4k": 2160}


def output_dimensions(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Return (width, height) for a resolution and aspect ratio.

    >>> output_dimensions("720p", "16:9")
    (1280, 720)
    >>> output_dimensions("4k", "3:4")
    (2160, 2880)
    """
    short = _SHORT_SIDE[resolution]
    w_ratio, h_ratio = (int(part) for part in aspect_ratio.split(":"))
    if w_ratio >= h_ratio:
        return short * w_ratio // h_ratio, short
    return short, short * h_ratio // w_ratio
