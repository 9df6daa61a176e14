"""What every layer gets when it is built: sizes, clock, light, palette, seeded randomness."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

from vidgate.engine.prompt import SceneSpec
from vidgate.engine.scenery.core import F32, Clock, Light, noise_texture


@dataclass
class Env:
    w: int
    h: int
    sx: np.ndarray  # (w,) screen x, short side spans [-1, 1]
    sy: np.ndarray  # (h,) screen y
    clock: Clock
    light: Light
    palette: np.ndarray  # (4, 3): deep, mid, accent, highlight
    rng: np.random.Generator
    spec: SceneSpec
    horizon: float
    ground_height: float
    _noise: list[np.ndarray] = field(default_factory=list)
    # Shared between layers: the sun's world x, and where smoke should rise from this frame.
    sun_x: float | None = None
    anchor: tuple[float, float, float] | None = None

    @property
    def xr(self) -> float:
        return float(self.sx[-1])

    @property
    def pixel(self) -> float:
        """One working pixel in screen units."""
        return float(self.sy[1] - self.sy[0]) if self.h > 1 else 1.0

    def noise(self, index: int = 0) -> np.ndarray:
        """Shared tileable noise textures (512 x 512), made on first use."""
        while len(self._noise) <= index:
            self._noise.append(noise_texture(self.rng, 512))
        return self._noise[index]

    def has(self, subject: str) -> bool:
        return subject in self.spec.subjects

    def word(self, *names: str) -> bool:
        return any(n in self.spec.words for n in names)

    def named(self, fallback: np.ndarray, index: int = 0) -> np.ndarray:
        """The colour the prompt names (its ``index``-th colour word), else ``fallback``."""
        hues = self.spec.hues
        if len(hues) <= index:
            return np.asarray(fallback, F32)
        r, g, b = colorsys.hsv_to_rgb((hues[index] % 360) / 360, 0.78, 0.95)
        return np.array([r, g, b], F32)

    def tint(self, colour: np.ndarray) -> np.ndarray:
        """A surface colour under the scene's light."""
        return np.clip(np.asarray(colour, F32) * self.light.ambient, 0, 1).astype(F32)
