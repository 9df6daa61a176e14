"""Procedural text-to-video scenes: each is a pure function of time t (seconds) -> RGB frame.

Scenes draw at a small working resolution with the output's aspect ratio (384 pixels on the
long side; 768 when the negative prompt rules out blur); their content is soft (gradients,
blurred shapes), so the encoder's bicubic upscale keeps the per-frame cost small next to
libx264's, at the price of soft edges at 1080p and 4k.

A prompt becomes a ``ComposedScene`` of layers from ``vidgate.engine.scenery`` under one light,
camera move and tempo: the subjects it names (``prompt.parse``: sky, ocean, flower, fire, a
road with a car...), or, when it names none, an abstract scene in its colours with the accent
its mood words ask for (``scenery.abstract``).
"""

from __future__ import annotations

import colorsys
from typing import Protocol

import numpy as np

from vidgate.engine import prompt as prompt_words
from vidgate.engine.request import RenderRequest
from vidgate.engine.scenery.compose import ComposedScene
from vidgate.engine.scenery.core import Clock

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


def build_scene(request: RenderRequest) -> Scene:
    """The text-to-video scene for a request; its look follows the seed and the prompt."""
    rng = prompt_words.make_rng(request.seed, request.prompt)
    spec = prompt_words.parse(request.prompt, request.negative_prompt)
    # Saturation words act on the finished frame (ComposedScene), not twice through the palette.
    palette = make_palette(rng, list(spec.hues), 1.0, spec.brightness)
    clock = Clock(request.period, request.loop, spec.tempo)
    size = working_size(request.width, request.height, SHARP_LONG_SIDE if spec.sharp else WORK_LONG_SIDE)
    return ComposedScene(size, spec, clock, rng, palette)
