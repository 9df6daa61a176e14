"""Countryside layers: a forest edge on the horizon, a meadow to the horizon, a rainbow."""

from __future__ import annotations

import numpy as np

from vidgate.engine.scenery.core import (
    F32,
    Frame,
    GroundCover,
    col,
    mix,
    rgb,
    sample1,
    sample_tex,
    smoothstep,
)
from vidgate.engine.scenery.env import Env

PROFILE_SIZE = 1024  # samples in one tile of a treeline profile (a power of two)
_RAINBOW = np.array(  # outer (red) to inner (violet) edge
    [[0.9, 0.15, 0.1], [0.95, 0.55, 0.1], [0.95, 0.9, 0.2], [0.2, 0.8, 0.25], [0.2, 0.45, 0.95],
     [0.45, 0.2, 0.8]], F32,
)  # fmt: skip


def treeline(rng: np.random.Generator, count: int, pines: bool) -> np.ndarray:
    """A tileable treeline: the height (0..1) of the canopy's top edge along one tile, made of
    `count` crowns, pointed (pines) or round."""
    n = PROFILE_SIZE
    xs = np.arange(n, dtype=F32)
    profile = np.zeros(n, F32)
    for _ in range(count):
        centre, half = float(rng.uniform(0, n)), float(rng.uniform(0.6, 1.4)) * n / count
        height = float(rng.uniform(0.55, 1.0))
        d = np.abs((xs - centre + n / 2) % n - n / 2) / half  # periodic distance, in half-widths
        crown = np.clip(1 - d, 0, 1) if pines else np.sqrt(np.clip(1 - d * d, 0, 1))
        profile = np.maximum(profile, height * (crown if pines else 0.35 + 0.65 * crown) * (d < 1))
    return profile


class Trees:
    """Rows of trees standing on the horizon, hazier with distance, lit along the canopy's top
    and swaying in the wind; pines where it is cold or mountainous."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        light = env.light
        pines = env.has("mountains") or env.has("snow") or env.word(
            "pine", "fir", "spruce", "conifer", "winter", "alpine", "snowy", "taiga")
        autumn = env.word("autumn", "fall", "orange")
        leaf = rgb(0.5, 0.28, 0.08) if autumn else rgb(0.1, 0.26, 0.1)
        if env.has("snow"):
            leaf = rgb(0.16, 0.24, 0.2)
        self.rows = []
        for i, depth in enumerate((0.3, 0.5, 0.72)):
            haze = (0.5, 0.28, 0.1)[i]
            colour = np.clip(leaf * light.ambient * (1 - haze) + light.horizon * haze, 0, 1)
            # (crowns per tile, samples per world unit): crowns about 0.05, 0.1, 0.2 wide
            count, freq = ((48, 400.0), (36, 300.0), (26, 220.0))[i]
            self.rows.append((depth, treeline(rng, count, pines), (0.1, 0.17, 0.28)[i], freq,
                              colour.astype(F32)))
        self.lit = col(np.clip(light.sun * light.ambient * 0.45, 0, 1))
        self.wind = 1.0 if env.word("wind", "windy", "breeze", "storm", "gust") else 0.35
        self.tex = env.noise(2)

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        px = env.pixel
        n = self.tex.shape[0]
        for depth, profile, height, freq, colour in self.rows:
            x, y_all = fr.view(depth)
            sway = 0.006 * self.wind * np.sin(env.clock.angle(fr.t, 1.3) + 4 * depth)
            top = fr.horizon - height * sample1(profile, x[0] + sway, freq)  # (w,)
            r0 = int(np.searchsorted(y_all[:, 0], float(top.min()) - px))
            r1 = int(np.searchsorted(y_all[:, 0], fr.horizon + 2 * px))
            if r0 >= r1:
                continue
            y = y_all[r0:r1]
            below = y - top[None, :]
            mask = np.clip(below / px + 0.5, 0, 1)
            leaves = sample_tex(self.tex, y * 6.0, x * 6.0, n / 4)
            shade = (0.7 + 0.5 * leaves) * (1.0 - 0.35 * np.clip(below / 0.25, 0, 1))
            crest = np.exp(-np.clip(below, 0, None) / 0.02) * 0.8
            surface = col(colour) * shade[None] + crest[None] * self.lit
            mix(img[:, r0:r1], mask[None], np.minimum(surface, 1.0))


class Meadow(GroundCover):
    """Grass to the horizon, hazier far off, with the wind's waves rolling through it."""

    def __init__(self, env: Env) -> None:
        self.env = env
        light = env.light
        if env.has("snow"):
            near = rgb(0.88, 0.9, 0.95)
        elif env.word("wheat", "savanna", "prairie", "autumn", "dry"):
            near = rgb(0.62, 0.5, 0.22)
        else:
            near = rgb(0.24, 0.46, 0.14)
        self.near = np.clip(near * light.ambient, 0, 1)
        self.far = np.clip(0.5 * self.near + 0.5 * light.horizon * 0.8, 0, 1)
        self.tex = env.noise(1)

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        r0, z, u = fr.ground(env.ground_height)
        if r0 >= env.h:
            return
        n = self.tex.shape[0]
        fwd = fr.cam.forward
        far = np.clip(z / 6.0, 0, 1) ** 0.5  # (rows, 1)
        base = col(self.near) + far[None] * col(self.far - self.near)
        blades = sample_tex(self.tex, (z + fwd) * 4.0, u * 6.0, n / 8)
        gust = 0.5 + 0.5 * np.sin(1.6 * (z + fwd) + 0.4 * u - env.clock.angle(fr.t, 1.4))
        near = np.exp(-z / 3.0)
        light = 0.78 + 0.32 * blades * (0.3 + near) + 0.16 * smoothstep(0.4, 1.0, gust) * (1 - far)
        img[:, r0:] = base * light[None]


class Rainbow:
    """A faint arc of colour across the sky, opposite the sun."""

    def __init__(self, env: Env) -> None:
        self.env = env
        sun_x = env.sun_x if env.sun_x is not None else float(env.rng.uniform(-0.4, 0.4))
        self.cx = -0.6 * sun_x
        self.radius, self.width = 1.05, 0.09

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        r1 = fr.horizon_row()
        if r1 <= 0:
            return
        x, y = fr.view(0.03)
        y = y[:r1]
        cy = fr.horizon + 0.25
        band = (self.radius - np.sqrt((x - self.cx) ** 2 + (y - cy) ** 2)) / self.width  # 0 outer, 1 inner
        inside = (band > -0.2) & (band < 1.2)
        if not inside.any():
            return
        position = np.clip(band, 0, 1) * (len(_RAINBOW) - 1)
        colour = np.stack([np.interp(position, np.arange(len(_RAINBOW)), _RAINBOW[:, c]) for c in range(3)])
        fade = smoothstep(0.0, 0.35, fr.horizon - y)  # thinner towards the ground
        alpha = (smoothstep(-0.2, 0.15, band) * smoothstep(1.2, 0.85, band) * 0.32 * fade).astype(F32)
        mix(img[:, :r1], alpha[None], colour.astype(F32))
