"""Procedural text-to-video scenes: each is a pure function of time t (seconds) -> RGB frame.

Scenes draw at a small working resolution with the output's aspect ratio (384 pixels on the
long side; 768 when the negative prompt rules out blur); their content is soft (gradients,
blurred shapes), so the encoder's bicubic upscale keeps the per-frame cost small next to
libx264's, at the price of soft edges at 1080p and 4k. To add a scene, write a class with
``frame(t) -> ndarray`` and choose it in ``build_scene``.

A prompt that names subjects (``prompt.parse``: sky, ocean, flower, fire, a road with a car...)
becomes a ``ComposedScene`` of layers from ``vidgate.engine.scenery`` under one light, camera
move and tempo; a prompt with none gets the abstract ``DriftScene``, coloured by its words.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vidgate.engine import prompt as prompt_words
from vidgate.engine.request import RenderRequest
from vidgate.engine.scenery.compose import ComposedScene
from vidgate.engine.scenery.core import TAU, Clock

WORK_LONG_SIDE = 384
# A negative prompt that rules out blur ("blurry") gets twice the working size: edges stay
# crisp after the upscale, for about four times the (still small) drawing cost.
SHARP_LONG_SIDE = 768


class Scene(Protocol):
    def frame(self, t: float) -> np.ndarray:
        """The frame at time ``t``: (h, w, 3) uint8 RGB at the scene's working size."""
        ...


def working_size(width: int, height: int, long_side: int = WORK_LONG_SIDE) -> tuple[int, int]:
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def hsv(hue_degrees: float, saturation: float, value: float) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb((hue_degrees % 360) / 360, min(1.0, saturation), min(1.0, value))
    return np.array(rgb, dtype=np.float32)


def make_palette(
    rng: np.random.Generator, hues: list[float], saturation: float, brightness: float
) -> np.ndarray:
    """Four colours (deep, mid, accent, highlight); prompt hues win over seeded ones."""
    base = hues[0] if hues else float(rng.uniform(0, 360))
    # analogous, complementary or triadic, by seed
    spread = float(rng.choice([35.0, 180.0, 120.0]))
    accent = hues[1] if len(hues) > 1 else base + spread * float(rng.choice([-1.0, 1.0]))
    highlight = hues[2] if len(hues) > 2 else (base + accent) / 2 + float(rng.uniform(-20, 20))
    return np.stack(
        [
            hsv(base + rng.uniform(-12, 12), 0.8 * saturation, 0.22 * brightness),
            hsv(base + rng.uniform(-25, 25), 0.7 * saturation, 0.58 * brightness),
            hsv(accent, 0.75 * saturation, 0.95 * brightness),
            hsv(highlight, 0.45 * saturation, 1.0 * brightness),
        ]
    )


@dataclass(frozen=True)
class _Blob:
    colour: np.ndarray  # (3, 1, 1) float32
    centre: tuple[float, float]
    reach: tuple[float, float]
    speeds: tuple[float, float, float]
    phases: tuple[float, float, float]
    radius: float
    alpha: float


class DriftScene:
    """A slowly turning, waving two-colour gradient with soft glowing shapes drifting over it.

    Parameters are kept as Python floats: a numpy float64 scalar would silently promote the
    float32 frame maths to float64.
    """

    def __init__(
        self, width: int, height: int, rng: np.random.Generator, motion: Clock, palette: np.ndarray
    ) -> None:
        self.motion = motion
        self.size = working_size(width, height)
        w, h = self.size
        # Coordinates with the short side spanning [-1, 1], so shapes stay round in any aspect.
        unit = min(w, h) / 2
        self._x = ((np.arange(w, dtype=np.float32) + 0.5 - w / 2) / unit)[None, :]
        self._y = ((np.arange(h, dtype=np.float32) + 0.5 - h / 2) / unit)[:, None]
        # Planar (3, h, w) maths: broadcasting over a trailing axis of 3 is several times slower.
        self._deep = palette[0][:, None, None]
        self._mid = palette[1][:, None, None]
        self._theta0 = float(rng.uniform(0, TAU))
        self._waves = rng.uniform(1.0, 2.2, size=2).tolist()
        self._wave_speeds = (rng.uniform(0.25, 0.5, size=3) * rng.choice([-1, 1], size=3)).tolist()
        xr, yr = float(self._x[0, -1]), float(self._y[-1, 0])
        self._blobs = []
        for _ in range(int(rng.integers(5, 9))):
            mix = float(rng.uniform(0, 1))
            self._blobs.append(
                _Blob(
                    colour=(palette[2] * (1 - mix) + palette[3] * mix)[:, None, None],
                    centre=(float(rng.uniform(-0.7, 0.7)) * xr, float(rng.uniform(-0.7, 0.7)) * yr),
                    reach=(float(rng.uniform(0.15, 0.5)) * xr, float(rng.uniform(0.15, 0.5)) * yr),
                    speeds=tuple((rng.uniform(0.15, 0.55, 3) * rng.choice([-1, 1], 3)).tolist()),
                    phases=tuple(rng.uniform(0, TAU, 3).tolist()),
                    radius=float(rng.uniform(0.22, 0.6)),
                    alpha=float(rng.uniform(0.35, 0.75)),
                )
            )
        r2 = self._x**2 + self._y**2
        self._vignette = (255 * (1 - 0.3 * r2 / r2.max())).astype(np.float32)

    def frame(self, t: float) -> np.ndarray:
        angle = self.motion.angle
        x, y = self._x, self._y
        theta = self._theta0 + 0.5 * math.sin(angle(t, self._wave_speeds[0]))
        c, s = math.cos(theta), math.sin(theta)
        g = np.sin((x * c + y * s) * self._waves[0] + angle(t, self._wave_speeds[1]))
        g += 0.6 * np.sin((y * c - x * s) * self._waves[1] + angle(t, self._wave_speeds[2]))
        g = g * (0.5 / 1.6) + 0.5
        img = self._deep + g * (self._mid - self._deep)
        for blob in self._blobs:
            (sx, sy, sr), (px, py, pr) = blob.speeds, blob.phases
            cx = blob.centre[0] + blob.reach[0] * math.sin(angle(t, sx) + px)
            cy = blob.centre[1] + blob.reach[1] * math.cos(angle(t, sy) + py)
            radius = blob.radius * (1 + 0.2 * math.sin(angle(t, sr) + pr))
            # Only the box where the Gaussian exceeds e^-9 is touched: faster, and it keeps
            # float32 denormals (very slow arithmetic) out of the far tails.
            x0, x1 = np.searchsorted(x[0], (cx - 3 * radius, cx + 3 * radius))
            y0, y1 = np.searchsorted(y[:, 0], (cy - 3 * radius, cy + 3 * radius))
            if x0 >= x1 or y0 >= y1:
                continue
            # A Gaussian is separable: two 1-D profiles and an outer product instead of a 2-D exp.
            gx = np.exp(-(((x[0, x0:x1] - cx) / radius) ** 2))
            gy = np.exp(-(((y[y0:y1, 0] - cy) / radius) ** 2)) * blob.alpha
            patch = img[:, y0:y1, x0:x1]
            patch += np.outer(gy, gx) * (blob.colour - patch)
        img *= self._vignette
        np.clip(img, 0, 255, out=img)
        img += 0.5
        return np.ascontiguousarray(img.astype(np.uint8).transpose(1, 2, 0))


def build_scene(request: RenderRequest) -> Scene:
    """The text-to-video scene for a request; its look follows the seed and the prompt."""
    rng = prompt_words.make_rng(request.seed, request.prompt)
    saturation, brightness = prompt_words.tone(request.prompt)
    hues = prompt_words.hues(request.prompt, request.negative_prompt)
    palette = make_palette(rng, hues, saturation, brightness)
    spec = prompt_words.parse(request.prompt, request.negative_prompt)
    if not spec.subjects:
        # No subject we know: the calm abstract scene, steered by the prompt's words.
        tempo = spec.tempo if spec.camera == "static" else spec.tempo * 1.3
        motion = Clock(request.period, request.loop, tempo)
        return DriftScene(request.width, request.height, rng, motion, palette)
    clock = Clock(request.period, request.loop, spec.tempo)
    size = working_size(request.width, request.height, SHARP_LONG_SIDE if spec.sharp else WORK_LONG_SIDE)
    return ComposedScene(size, spec, clock, rng, palette)
