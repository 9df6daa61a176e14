"""What each model family needs of a request.

Sizes and frame counts are mapped here, before any GPU work: a family makes frames whose
sides are multiples of `size_multiple` (its VAE and patching), clips of `frame_step * k + 1`
frames (its VAE's time compression), at the frame rate it was trained at (its motion is
timed for it). The job reports the size, frame rate and length it really got.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vidgate.media.dimensions import output_dimensions


@dataclass(frozen=True)
class Family:
    name: str
    text_pipeline: str | None  # diffusers class for text to video
    image_pipeline: str | None  # diffusers class for image to video
    size_multiple: int
    frame_step: int
    max_frames: int
    steps: int  # denoising steps by default
    guidance_scale: float
    fps: int  # the frame rate it was trained at: its clips play at it
    passes_frame_rate: bool = False  # its pipeline takes the frame rate (LTX's positions use it)

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        """The (width, height) made for a resolution and aspect ratio: each side the nearest
        multiple of `size_multiple` (halves go down).

        >>> LTX.size("720p", "16:9")
        (1280, 704)
        >>> WAN.size("720p", "9:16")
        (720, 1280)
        """
        return tuple(_nearest_multiple(side, self.size_multiple) for side in output_dimensions(resolution, aspect_ratio))  # type: ignore[return-value]

    def frames(self, duration_seconds: float) -> int:
        """The frame count of this family's form nearest `duration_seconds` at its frame rate
        (at least one step, at most `max_frames`; of two as near, the shorter).

        >>> LTX.frames(5)
        121
        >>> WAN.frames(5)
        81
        """
        wanted = round(duration_seconds * self.fps)
        steps = max(1, math.ceil((wanted - 1) / self.frame_step - 0.5))  # halves go down: fewer frames
        return min(self.frame_step * steps + 1, self.max_frames)

    @property
    def max_duration(self) -> float:
        """The longest clip, in seconds, to a tenth (down)."""
        return int((self.max_frames - 1) / self.fps * 10) / 10


def _nearest_multiple(value: int, multiple: int) -> int:
    below = value // multiple * multiple
    return below if value - below <= multiple / 2 else below + multiple


LTX = Family(name="ltx", text_pipeline="LTXPipeline", image_pipeline="LTXImageToVideoPipeline",
             size_multiple=32, frame_step=8, max_frames=257, steps=40, guidance_scale=3.0, fps=25,
             passes_frame_rate=True)
WAN = Family(name="wan", text_pipeline="WanPipeline", image_pipeline="WanImageToVideoPipeline",
             size_multiple=16, frame_step=4, max_frames=81, steps=30, guidance_scale=5.0, fps=16)
FAMILIES = {family.name: family for family in (LTX, WAN)}
