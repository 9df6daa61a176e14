"""What each model family needs of a request, and the models vidgate knows how to run.

Sizes and frame counts are mapped here, before any GPU work: a family makes frames whose
sides are multiples of `size_multiple` (its VAE and patching), and clips of
`frame_step * k + 1` frames (its VAE's time compression). The job reports what it really got.
"""

from __future__ import annotations

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

    def size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        """The (width, height) made for a resolution and aspect ratio: each side the nearest
        multiple of `size_multiple` (halves go down).

        >>> LTX.size("720p", "16:9")
        (1280, 704)
        >>> WAN.size("720p", "9:16")
        (720, 1280)
        """
        return tuple(_nearest_multiple(side, self.size_multiple) for side in output_dimensions(resolution, aspect_ratio))  # type: ignore[return-value]

    def frames(self, duration_seconds: float, fps: int) -> int:
        """The frame count of this family's form nearest `duration_seconds` at `fps` (at least
        one step, at most `max_frames`).

        >>> LTX.frames(5, 30)
        153
        >>> WAN.frames(1, 30)
        29
        """
        wanted = round(duration_seconds * fps)
        steps = max(1, round((wanted - 1) / self.frame_step))
        return min(self.frame_step * steps + 1, self.max_frames)

    def max_duration(self, fps: int) -> float:
        """The longest clip at `fps`, in seconds, to a tenth (down)."""
        return int((self.max_frames - 1) / fps * 10) / 10


def _nearest_multiple(value: int, multiple: int) -> int:
    below = value // multiple * multiple
    return below if value - below <= multiple / 2 else below + multiple


LTX = Family(name="ltx", text_pipeline="LTXPipeline", image_pipeline="LTXImageToVideoPipeline",
             size_multiple=32, frame_step=8, max_frames=257, steps=40, guidance_scale=3.0)
WAN = Family(name="wan", text_pipeline="WanPipeline", image_pipeline="WanImageToVideoPipeline",
             size_multiple=16, frame_step=4, max_frames=81, steps=30, guidance_scale=5.0)
FAMILIES = {family.name: family for family in (LTX, WAN)}
