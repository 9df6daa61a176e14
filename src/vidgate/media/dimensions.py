"""Output dimensions by resolution and aspect ratio (DESIGN.md's table)."""

from __future__ import annotations

import math
from collections.abc import Sequence

RESOLUTIONS = ("720p", "1080p", "4k")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
DEFAULT_ASPECT_RATIO = "16:9"
# The source's own shape: the default of the modes that have a source (image or video).
AUTO_ASPECT_RATIO = "auto"

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


def nearest_aspect_ratio(width: int, height: int, options: Sequence[str] = ASPECT_RATIOS) -> str:
    """The ratio of `options` closest to a width x height picture's shape (by how many times
    wider or taller, so 2:1 is as far from 1:1 as 1:2).

    >>> nearest_aspect_ratio(3024, 4032)
    '3:4'
    >>> nearest_aspect_ratio(1080, 1920)
    '9:16'
    >>> nearest_aspect_ratio(1000, 1000, ("16:9", "9:16"))
    '16:9'
    """
    shape = math.log(width / height)

    def distance(option: str) -> float:
        w_ratio, h_ratio = (int(part) for part in option.split(":"))
        return abs(math.log(w_ratio / h_ratio) - shape)

    return min(options, key=distance)
