"""Motion the prompt asks for on a still picture, on top of the camera move.

    "wind", "breeze", "hair", "leaves"     the upper part sways sideways
    "water", "ocean", "lake", "river"      the lower part shimmers
    "flicker", "candle", "fire", "neon"    the light flickers
    "clouds", "sky"                        soft clouds drift across the sky (where the picture has one)
    "pan", "tracking", "drone", "parallax"  parallax: nearer parts slide further than far ones

What is near and what is sky are estimated once from the picture itself (``estimate_depth``,
``sky_mask``). Everything works on the planes of the framed picture with numpy, after the
camera move, moving pixels by fractions of a pixel (linear interpolation), so edges glide
instead of stepping; all motion is periodic over the clip when it loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vidgate.engine import prompt as prompt_words
from vidgate.engine.filters import box_blur

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


def _features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(luma, saturation, local detail) of an (h, w, 3) uint8 picture, each 0..1."""
    pixels = rgb.astype(np.float32) / 255
    luma = pixels @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    radius = max(1, min(rgb.shape[:2]) // 40)
    mean = box_blur(luma, radius)
    detail = np.sqrt(np.clip(box_blur(luma * luma, radius) - mean * mean, 0, None))
    return luma, saturation, detail / (detail.max() + 1e-6)


def estimate_depth(rgb: np.ndarray) -> np.ndarray:
    """Nearness (0 far .. 1 near) of every pixel of a picture, from the cues a single photo
    offers: the lower in the frame, the nearer (a ground plane); fine detail and strong colour
    are near, flat pale haze is far (aerial perspective). Smoothed, so a parallax move warps
    the picture gently instead of tearing it."""
    h, w = rgb.shape[:2]
    _, saturation, detail = _features(rgb)
    rows = (np.arange(h, dtype=np.float32) / max(1, h - 1))[:, None]
    nearness = 0.6 * rows**1.5 + 0.25 * detail + 0.15 * saturation / (saturation.max() + 1e-6)
    nearness = box_blur(nearness, max(1, min(h, w) // 12))
    nearness -= nearness.min()
    return (nearness / (nearness.max() + 1e-6)).astype(np.float32)


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """How much each pixel looks like open sky (0..1): bright, smooth, bluish or pale, and in
    the upper part of the picture, softened at its edges."""
    h = rgb.shape[0]
    luma, saturation, detail = _features(rgb)
    pixels = rgb.astype(np.float32)
    blueish = np.clip((pixels[..., 2] - pixels[..., 0]) / 80 + 0.5, 0, 1)
    pale = 1 - np.clip(saturation * 2.5, 0, 1)
    rows = (np.arange(h, dtype=np.float32) / max(1, h - 1))[:, None]
    sky = (np.clip((luma - 0.35) * 3, 0, 1) * np.clip(1 - detail * 4, 0, 1)
           * np.maximum(blueish, pale) * np.clip((0.7 - rows) / 0.3, 0, 1))
    return np.clip(box_blur(sky, max(1, h // 60)), 0, 1).astype(np.float32)


class _Map:
    """A per-pixel map of the whole picture, read for the part of it a frame shows."""

    def __init__(self, values: np.ndarray) -> None:
        self._image = Image.fromarray(values.astype(np.float32), "F")

    def view(self, box: tuple[float, float, float, float], width: int, height: int) -> np.ndarray:
        """The map over `box` (left, top, right, bottom as fractions of the picture), at
        width x height."""
        w, h = self._image.size
        left, top, right, bottom = box
        scaled = (left * w, top * h, right * w, bottom * h)
        view = self._image.resize((width, height), Image.Resampling.BILINEAR, box=scaled)
        return np.asarray(view, dtype=np.float32)


class MotionEffects:
    """Applies an ImageMotion to Y (and U, V) planes of one frame size. What is near and what
    is sky are read from ``picture`` (RGB, the framed picture at any size: a small one is
    enough and quick) and scaled to the frame."""

    def __init__(
        self, motion: ImageMotion, width: int, height: int, period: float, loop: bool,
        rng: np.random.Generator, picture: np.ndarray,
    ) -> None:
        self.motion = motion
        self.width, self.height = width, height
        self.period, self.loop = period, loop
        rows = np.arange(height, dtype=np.float32) / max(1, height - 1)
        self._upper = np.clip((0.55 - rows) / 0.35, 0, 1)  # 1 at the top, 0 below 55%
        self._lower = np.clip((rows - 0.55) / 0.25, 0, 1)  # 1 near the bottom
        self._sky = _Map(sky_mask(picture)) if motion.clouds else None
        self._row_phase = rows * 2 * math.pi * 3
        self._clouds = _periodic_noise(rng, height // 2 + 1, width) if motion.clouds else None
        self._flicker_phases = rng.uniform(0, 2 * math.pi, size=3)
        self._nearness = _Map(estimate_depth(picture)) if motion.parallax else None

    def apply(
        self, y: np.ndarray, u: np.ndarray, v: np.ndarray, t: float,
        box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
    ) -> None:
        """Change the planes in place for time t; the frame shows `box` of the picture
        (fractions of its width and height)."""
        if self._nearness is not None:
            if self.loop:
                travel = math.sin(self._phase(t, 1 / self.period))
            else:
                travel = 2 * t / self.period - 1
            nearness = self._nearness.view(box, self.width, self.height)
            _displace_yuv(y, u, v, PARALLAX_PIXELS * self.width * travel * nearness)
        if self.motion.sway:
            offsets = SWAY_PIXELS * self.width * self._upper * math.sin(self._phase(t, 0.4))
            _displace_yuv(y, u, v, (offsets * np.cos(self._row_phase * 0.3))[:, None])
        if self.motion.shimmer:
            offsets = SHIMMER_PIXELS * self.width * self._lower * np.sin(
                self._row_phase * 4 + self._phase(t, 1.5)
            )
            _displace(y, offsets[:, None])
        if self._clouds is not None:
            self._add_clouds(y, t, box)
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

    def _add_clouds(self, y: np.ndarray, t: float, box: tuple[float, float, float, float]) -> None:
        assert self._clouds is not None
        band = self._clouds.shape[0]
        drift = t / self.period if self.loop else 0.04 * t  # loops: one full tile per clip
        shift = int(round(drift * self.width)) % self.width
        clouds = np.roll(self._clouds, -shift, axis=1)
        assert self._sky is not None
        weight = self._sky.view(box, self.width, self.height)[:band] * clouds
        top = y[:band].astype(np.float32)
        np.copyto(y[:band], np.clip(top + weight * CLOUD_STRENGTH, 0, 235).astype(np.uint8))


def _displace_yuv(y: np.ndarray, u: np.ndarray, v: np.ndarray, offsets: np.ndarray) -> None:
    """Move the picture sideways by `offsets` luma pixels ((h, 1) per row or (h, w) per
    pixel); the half-size chroma planes follow."""
    _displace(y, offsets)
    half = offsets[::2, ::2] / 2
    _displace(u, half[: u.shape[0], : u.shape[1]])
    _displace(v, half[: v.shape[0], : v.shape[1]])


def _displace(plane: np.ndarray, offsets: np.ndarray) -> None:
    """plane[r, c] = plane[r, c - offset] in place, interpolated linearly between the two
    nearest pixels, edges clamped; `offsets` is (h, 1) or (h, w). Rows that would move by
    less than 1/16 of a pixel are left alone."""
    h, w = plane.shape
    offsets = offsets[:h].astype(np.float32, copy=False)
    moving = np.flatnonzero(np.abs(offsets).max(axis=1) >= 1 / 16)
    if moving.size == 0:
        return
    source = np.arange(w, dtype=np.float32)[None, :] - offsets[moving]
    np.clip(source, 0, w - 1, out=source)
    left = source.astype(np.int32)
    weight = source - left
    flat = left
    flat += (moving.astype(np.int32) * np.int32(w))[:, None]  # indices into the flattened plane
    values = plane.reshape(-1)
    a = values.take(flat).astype(np.float32)
    b = values.take(np.minimum(flat + 1, values.size - 1)).astype(np.float32)
    a += weight * (b - a)
    a += 0.5
    plane[moving] = a.astype(np.uint8)


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
