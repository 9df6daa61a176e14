"""The scene for a prompt that names nothing the engine can draw: a slowly turning, waving
gradient in the prompt's colours with soft glowing shapes drifting over it, and the accents its
mood words ask for (sparkles for a dream, out-of-focus lights for a memory, wisps for a
mystery); a prompt without such words gets the accent its words hash to."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidgate.engine import prompt as prompt_words
from vidgate.engine.scenery.core import F32, TAU, Clock, Frame
from vidgate.engine.scenery.env import Env

# Mood words -> the accent layer they bring (a subject name the composer knows).
ACCENT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("particles", ("dream", "dreamy", "magic", "magical", "fairy", "sparkling", "wish",
                   "celebration", "party", "festive", "joy", "joyful", "happy", "wonder")),
    ("bokeh", ("love", "romantic", "wedding", "christmas", "holiday", "memory", "memories",
               "nostalgia", "nostalgic", "music", "concert", "piano", "jazz")),
    ("smoke", ("mystery", "mysterious", "ghost", "haunted", "spirit", "meditation", "zen",
               "sad", "lonely", "melancholy", "thought", "silence", "quiet")),
)  # fmt: skip
_HASHED_ACCENTS = ("particles", "bokeh", "smoke", None)


def accent_for(prompt: str) -> str | None:
    """The accent layer of an abstract scene: named by the prompt's mood, else its words' hash."""
    for subject, phrases in ACCENT_WORDS:
        if prompt_words.has_any(prompt, *phrases):
            return subject
    return _HASHED_ACCENTS[prompt_words.prompt_key(prompt) % len(_HASHED_ACCENTS)]


@dataclass(frozen=True)
class _Blob:
    colour: np.ndarray  # (3, 1, 1) float32
    centre: tuple[float, float]
    reach: tuple[float, float]
    speeds: tuple[float, float, float]
    phases: tuple[float, float, float]
    radius: float
    alpha: float


class Drift:
    """The abstract backdrop. Parameters are Python floats: a numpy float64 scalar would
    silently promote the float32 frame maths to float64."""

    def __init__(self, env: Env) -> None:
        rng, palette = env.rng, env.palette
        clock = env.clock
        moving = env.spec.camera != "static"
        self.clock = Clock(clock.period, clock.loop, clock.tempo * (1.3 if moving else 1.0))
        self._x, self._y = env.sx[None, :], env.sy[:, None]
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

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        angle, t = self.clock.angle, fr.t
        x, y = self._x, self._y
        theta = self._theta0 + 0.5 * math.sin(angle(t, self._wave_speeds[0]))
        c, s = math.cos(theta), math.sin(theta)
        g = np.sin((x * c + y * s) * self._waves[0] + angle(t, self._wave_speeds[1]))
        g += 0.6 * np.sin((y * c - x * s) * self._waves[1] + angle(t, self._wave_speeds[2]))
        g = g * (0.5 / 1.6) + 0.5
        img[:] = self._deep + g * (self._mid - self._deep)
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
            patch += np.outer(gy, gx).astype(F32) * (blob.colour - patch)
