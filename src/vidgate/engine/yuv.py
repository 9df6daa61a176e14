"""BT.709 limited-range YUV 4:2:0: what the writer encodes, built here from RGB.

Converting a still picture once up front lets each frame resample 1.5 planes of bytes
instead of three RGB channels, and skips the per-frame RGB -> YUV conversion.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

COLORSPACE = Colorspace.ITU709
COLOR_RANGE = ColorRange.MPEG
_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB


def rgb_to_yuv420(image: Image.Image) -> tuple[Image.Image, Image.Image, Image.Image]:
    """Y at full size and U, V at half size (rounded up), as 8-bit "L" images."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = _KR * r + _KG * g + _KB * b
    y = 16 + 219 * luma
    u = 128 + 224 * (b - luma) / (2 * (1 - _KB))
    v = 128 + 224 * (r - luma) / (2 * (1 - _KR))
    half = ((image.width + 1) // 2, (image.height + 1) // 2)
    planes = [Image.fromarray(np.clip(p + 0.5, 0, 255).astype(np.uint8), "L") for p in (y, u, v)]
    return (
        planes[0],
        planes[1].resize(half, Image.Resampling.BOX),
        planes[2].resize(half, Image.Resampling.BOX),
    )


def yuv420_frame(y: Image.Image, u: Image.Image, v: Image.Image) -> av.VideoFrame:
    """A yuv420p frame from its planes (U and V half of Y's even size), tagged so the
    writer's reformatter passes it through untouched."""
    width = y.width
    planes = [np.asarray(plane).ravel() for plane in (y, u, v)]
    frame = av.VideoFrame.from_ndarray(np.concatenate(planes).reshape(-1, width), format="yuv420p")
    frame.colorspace = COLORSPACE
    frame.color_range = COLOR_RANGE
    return frame
