"""What to render and what was rendered."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vidgate.media.limits import SourceLimits

MODES = ("text_to_video", "image_to_video", "video_to_video")
MAX_SEED = 2**32 - 1


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RenderRequest:
    """One render. Invalid field values raise ``ValueError`` on construction.

    ``source_image``/``source_video`` are local files (``str`` is accepted and turned into a
    ``Path``); whether they decode, and fit ``source_limits``, is only known at render time
    (``SourceMediaError``).
    """

    mode: str
    prompt: str
    width: int
    height: int
    fps: int
    duration_seconds: float
    seed: int
    loop: bool = False
    negative_prompt: str | None = None
    source_image: Path | None = None
    source_video: Path | None = None
    source_limits: SourceLimits = SourceLimits()  # larger sources are refused before decoding

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            # yuv420p subsamples chroma 2x2, so libx264 needs even dimensions.
            if not _is_int(value) or value <= 0 or value % 2:
                raise ValueError(f"{name} must be a positive even integer, not {value!r}")
        if not _is_int(self.fps) or self.fps <= 0:
            raise ValueError(f"fps must be a positive integer, not {self.fps!r}")
        duration = self.duration_seconds
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise ValueError(f"duration_seconds must be a number, not {duration!r}")
        if not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"duration_seconds must be positive and finite, not {duration!r}")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer in 0..{MAX_SEED}, not {self.seed!r}")
        for name in ("source_image", "source_video"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        if self.mode == "image_to_video" and self.source_image is None:
            raise ValueError("image_to_video needs source_image")
        if self.mode == "video_to_video" and self.source_video is None:
            raise ValueError("video_to_video needs source_video")

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_seconds * self.fps))

    @property
    def period(self) -> float:
        """The clip's exact length in seconds: ``frame_count / fps``."""
        return self.frame_count / self.fps


@dataclass(frozen=True)
class RenderResult:
    width: int
    height: int
    fps: int
    frame_count: int
    duration_seconds: float
