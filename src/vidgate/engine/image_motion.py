"""Motion the prompt asks for on a still picture, on top of the camera move.

    "wind", "breeze", "hair", "leaves"     the upper part sways sideways
    "water", "ocean", "lake", "river"      the lower part shimmers
    "flicker", "candle", "fire", "neon"    the light flickers
    "clouds", "sky"                        soft clouds drift across the top
    "pan", "tracking", "drone", "parallax"  parallax: nearer parts slide further than far ones

Everything works on the luma plane of the framed picture (sway moves the chroma planes too),
with numpy, after the camera move; all motion is periodic over the clip when it loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidgate.engine import prompt as prompt_words

SWAY_PIXELS = 0.006  # of the frame width
PARALLAX_PIXELS = 0.02  # sideways travel of the nearest row relative to the farthest
SHIMMER_PIXELS = 0.004
FLICKER_DEPTH = 0.08
CLOUD_STRENGTH = 60.0  # luma levels added at the densest cloud


@dataclass(frozen=True)
class ImageMotion:
    sway: bool
    shimmer: bool
    flicker: bool
    clouds: bool
    parallax: bool = False

    @property
    def any(self) -> bool:
        return self.sway or self.shimmer or self.flicker or self.clouds or self.parallax


def choose_motion(prompt: str, negative_prompt: str | None = None) -> ImageMotion:
    def asked(*words: str) -> bool:
        return prompt_words.has_any(prompt, *words) and not (
            negative_prompt and prompt_words.has_any(negative_prompt, *words)
        )

    return ImageMotion(
        sway=asked("wind", "windy", "breeze", "hair", "leaves", "sway", "swaying", "grass"),
        shimmer=asked("water", "ocean", "sea", "lake", "river", "waves", "reflection", "shimmer"),
        flicker=asked("flicker", "flickering", "candle", "candlelight", "fire", "firelight", "neon"),
        clouds=asked("cloud", "clouds", "cloudy", "sky"),
        parallax=asked("pan", "pans", "panning", "tracking", "drone", "aerial", "parallax", "dolly"),
    )


class MotionEffects:
    """Applies an ImageMotion to Y (and U, V) planes of one frame size."""

    def __init__(
        self, motion: ImageMotion, width: int, height: int, period: float, loop: bool,
        rng: np.random.Generator,
    ) -> None:
        self.motion = motion
        self.width, self.height = width, height
        self.period, self.loop = period, loop
        rows = np.arange(height, dtype=np.float32) / max(1, height - 1)
        self._upper = np.clip((0.55 - rows) / 0.35, 0, 1)  # 1 at the top, 0 below 55%
        self._lower = np.clip((rows - 0.55) / 0.25, 0, 1)  # 1 near the bottom
        self._sky = np.clip((0.4 - rows) / 0.25, 0, 1)  # the top, fading out by 40%
        self._row_phase = rows * 2 * math.pi * 3
        self._columns = np.arange(width)
        self._clouds = _periodic_noise(rng, height // 2 + 1, width) if motion.clouds else None
        self._flicker_phases = rng.uniform(0, 2 * math.pi, size=3)
        # Depth estimated from a ground plane: the lower a row, the nearer it is.
        self._nearness = rows**2

    def apply(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, t: float) -> None:
        """Change the planes in place for time t."""
        if self.motion.parallax:
            if self.loop:
                travel = math.sin(self._phase(t, 1 / self.period))
            else:
                travel = 2 * t / self.period - 1
            offsets = PARALLAX_PIXELS * self.width * self._nearness * travel
            _shift_rows(y, offsets)
            _shift_rows(u, offsets[::2][: u.shape[0]] / 2)
            _shift_rows(v, offsets[::2][: v.shape[0]] / 2)
        if self.motion.sway:
            offsets = SWAY_PIXELS * self.width * self._upper * math.sin(self._phase(t, 0.4))
            offsets = offsets * np.cos(self._row_phase * 0.3)
            _shift_rows(y, offsets)
            _shift_rows(u, offsets[::2][: u.shape[0]] / 2)
            _shift_rows(v, offsets[::2][: v.shape[0]] / 2)
        if self.motion.shimmer:
            offsets = SHIMMER_PIXELS * self.width * self._lower * np.sin(
                self._row_phase * 4 + self._phase(t, 1.5)
            )
            _shift_rows(y, offsets)
        if self.motion.clouds and self._clouds is not None:
            self._add_clouds(y, t)
        if self.motion.flicker:
            a, b, c = self._flicker_phases
            wobble = (
                math.sin(self._phase(t, 3.1) + a) + 0.6 * math.sin(self._phase(t, 7.3) + b)
                + 0.3 * math.sin(self._phase(t, 13.7) + c)
            ) / 1.9
            gain = 1 + FLICKER_DEPTH * wobble
            np.copyto(y, np.clip(16 + (y.astype(np.float32) - 16) * gain, 16, 235).astype(np.uint8))

    def _phase(self, t: float, hertz: float) -> float:
        """2π·f·t, with f rounded to whole cycles per clip when it loops."""
        if self.loop:
            return 2 * math.pi * max(1, round(hertz * self.period)) * t / self.period
        return 2 * math.pi * hertz * t

    def _add_clouds(self, y: np.ndarray, t: float) -> None:
        assert self._clouds is not None
        band = self._clouds.shape[0]
        drift = t / self.period if self.loop else 0.04 * t  # loops: one full tile per clip
        shift = int(round(drift * self.width)) % self.width
        clouds = np.roll(self._clouds, -shift, axis=1)
        weight = self._sky[:band, None] * clouds
        top = y[:band].astype(np.float32)
        np.copyto(y[:band], np.clip(top + weight * CLOUD_STRENGTH, 0, 235).astype(np.uint8))


def _shift_rows(plane: np.ndarray, offsets: np.ndarray) -> None:
    """Move each row sideways by its (rounded) offset, edges clamped, in place."""
    shifts = np.round(offsets[: plane.shape[0]]).astype(np.int32)
    moving = np.flatnonzero(shifts)
    if moving.size == 0:
        return
    columns = np.clip(np.arange(plane.shape[1])[None, :] - shifts[moving, None], 0, plane.shape[1] - 1)
    plane[moving] = np.take_along_axis(plane[moving], columns, axis=1)


def _periodic_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Soft cloud-like noise in 0..1 that tiles seamlessly left to right (low-pass filtered
    white noise through the FFT is periodic by construction)."""
    white = rng.standard_normal((height, width)).astype(np.float32)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    falloff = 1 / (1 + ((fx * width / 6) ** 2 + (fy * height / 3) ** 2) ** 1.2)
    smooth = np.fft.irfft2(np.fft.rfft2(white) * falloff, s=(height, width))
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-6)
    return np.clip(smooth * 0.5, 0, 1).astype(np.float32)
