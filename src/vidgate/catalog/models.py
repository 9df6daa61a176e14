"""What the catalog knows about one model, and the checks a request must pass for it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vidgate.media.dimensions import ASPECT_RATIOS, AUTO_ASPECT_RATIO

MODES = ("text_to_video", "image_to_video", "video_to_video")
FPS_VALUES = (30, 60)
MIN_DURATION_SECONDS = 1.0

# Credits per second of video, by tier. The seed's example: the default model (standard),
# 5 s, costs 500 credits.
TIER_CREDITS_PER_SECOND = {"basic": 50, "standard": 100, "powerful": 200}


def nearest(value: float, options: Sequence[float]) -> float:
    """The option closest to value; ties go to the smaller (it costs less).

    >>> nearest(5, [4, 6, 8])
    4
    >>> nearest(7.5, [5, 10])
    5
    >>> nearest(8, [5, 10])
    10
    """
    return min(options, key=lambda option: (abs(option - value), option))


@dataclass(frozen=True)
class Limit:
    """A combination a model does not make: with `param` at one of `values`, it makes only
    clips of `lengths` seconds (Pixverse: 1080p only 5 or 8 s)."""

    param: str
    values: tuple[Any, ...]
    lengths: tuple[int, ...]

    def describe(self) -> dict[str, Any]:
        return {"when": {self.param: list(self.values)}, "output_durations": list(self.lengths)}


@dataclass(frozen=True)
class ModelSpec:
    id: str
    title: str
    provider: str  # which backend serves it for live keys: "fal" or "local"
    tier: str
    modes: tuple[str, ...]
    max_duration: float
    best_for: str = ""
    resolutions: tuple[str, ...] = ("720p", "1080p")
    aspect_ratios: tuple[str, ...] = ASPECT_RATIOS
    fps: tuple[int, ...] = FPS_VALUES
    credits_per_second_override: int | None = None
    # Request parameters the model has no control for: accepted, and without effect (the job
    # reports what the output really has).
    ignores: tuple[str, ...] = ()
    # The clip lengths (s) the model makes; a request is snapped to the nearest. None: any
    # length from MIN_DURATION_SECONDS to max_duration, exactly as asked.
    output_durations: tuple[int, ...] | None = None
    limits: tuple[Limit, ...] = ()

    def output_duration(self, requested: float) -> float:
        """The length of the clip the model makes for a request of `requested` seconds."""
        if self.output_durations is None:
            return requested
        return nearest(requested, self.output_durations)

    @property
    def credits_per_second(self) -> int:
        if self.credits_per_second_override is not None:
            return self.credits_per_second_override
        return TIER_CREDITS_PER_SECOND[self.tier]

    @property
    def quota_multiplier(self) -> float:
        """The price relative to the basic tier's (standard 2.0): NovaKit's `quota_multiplier`."""
        return self.credits_per_second / TIER_CREDITS_PER_SECOND["basic"]

    def price(self, duration_seconds: float) -> tuple[int, int]:
        """(credits, video seconds) for a clip; billed per started second."""
        seconds = math.ceil(duration_seconds - 1e-9)
        return seconds * self.credits_per_second, seconds

    def check(self, *, mode: str, duration: float, resolution: str, fps: int, aspect: str) -> None:
        """Raise ValueError naming what this model allows when a value is outside it."""
        if mode not in self.modes:
            raise ValueError(
                f"model {self.id} does not support mode {mode}; it supports: {', '.join(self.modes)}"
            )
        if not MIN_DURATION_SECONDS <= duration <= self.max_duration:
            raise ValueError(
                f"duration_seconds must be between {_num(MIN_DURATION_SECONDS)} and "
                f"{_num(self.max_duration)} for model {self.id}"
            )
        for name, value, allowed in (
            ("resolution", resolution, self.resolutions),
            ("aspect_ratio", aspect, self.aspect_ratios),
            ("fps", fps, self.fps),
        ):
            # auto: the source's shape, matched by the backend to what the model makes
            if value not in allowed and value != AUTO_ASPECT_RATIO:
                raise ValueError(
                    f"{name} {value} is not available for model {self.id}; "
                    f"allowed: {', '.join(str(v) for v in allowed)}"
                )
        self._check_limits(duration, {"resolution": resolution, "fps": fps, "aspect_ratio": aspect})

    def _check_limits(self, duration: float, settings: dict[str, Any]) -> None:
        """Refuse a combination the model does not make. Snapping fills the gaps between a
        model's lengths; it never trades away what was asked for to fit a combination."""
        length = self.output_duration(duration)
        for limit in self.limits:
            value = settings[limit.param]
            if value in limit.values and length not in limit.lengths:
                raise ValueError(
                    f"model {self.id} makes only {_choices(limit.lengths)} s clips with "
                    f"{limit.param} {value}, and duration_seconds {_num(duration)} would be a "
                    f"{_num(length)} s clip; ask for at most {limit.lengths[-1]} s, or another "
                    f"{limit.param}"
                )

    def describe(self) -> dict[str, Any]:
        """The model as `GET /models` shows it."""
        return {
            "id": self.id,
            "object": "model",
            "title": self.title,
            "best_for": self.best_for,
            "provider": self.provider,
            "tier": self.tier,
            "modes": list(self.modes),
            "duration_seconds": {"min": MIN_DURATION_SECONDS, "max": self.max_duration},
            "resolutions": list(self.resolutions),
            "fps": list(self.fps),
            "aspect_ratios": list(self.aspect_ratios),
            "ignores": list(self.ignores),
            "output_durations": None if self.output_durations is None else list(self.output_durations),
            "limits": [limit.describe() for limit in self.limits],
            "pricing": {
                "credits_per_second": self.credits_per_second,
                "quota_multiplier": self.quota_multiplier,
                "billing": "per started second",
            },
        }

def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _choices(values: Sequence[int]) -> str:
    """'5 or 8', '6, 8 or 10'."""
    *rest, last = (str(v) for v in values)
    return f"{', '.join(rest)} or {last}" if rest else last
