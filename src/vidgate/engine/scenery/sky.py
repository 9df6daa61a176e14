"""Sky layers: gradient sky, sun or moon, clouds, stars, galaxy, aurora, mountain ridges."""

from __future__ import annotations

import math

import numpy as np

from vidgate.engine.scenery.core import (
    F32,
    TAU,
    Frame,
    PanCache,
    StripPainter,
    col,
    dot_texture,
    mix,
    noise_1d,
    rgb,
    sample1,
    sample_tex,
    smoothstep,
    tex_index,
    texels,
)
from vidgate.engine.scenery.env import Env


class Sky:
    """Zenith-to-horizon gradient; the lower rows keep the horizon colour."""

    def __init__(self, env: Env) -> None:
        self.env = env
        light = env.light
        self.zenith = light.zenith[:, None, None]
        self.horizon = light.horizon[:, None, None]

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        _, y = fr.view(0.0)
        end = fr.drawn_end(img.shape[1])
        a = np.clip((fr.horizon - y[:end]) / 1.4, 0, 1) ** 0.7  # (rows, 1)
        img[:, :end] = self.horizon + a[None] * (self.zenith - self.horizon)


class Sun:
    """A sun (or a moon at night) with a wide soft glow; it sinks a little over the clip."""

    def __init__(self, env: Env) -> None:
        self.env = env
        light = env.light
        self.x = float(env.rng.uniform(-0.45, 0.45)) * env.xr
        self.height = light.sun_height if not env.has("sun") else min(light.sun_height, 0.3)
        self.colour = col(light.sun)
        self.moon = light.night
        self.radius = 0.07 if self.moon else 0.1
        env.sun_x = self.x

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        x, y = fr.view(0.02)
        cy = fr.horizon - self.height + 0.08 * env.clock.progress(fr.t)
        dx, dy = x - self.x, y - cy
        strength = 0.25 if self.moon else 0.55
        end = fr.drawn_end(img.shape[1])
        for reach, amount in ((0.9, 0.5 * strength), (0.28, strength)):
            glow = np.exp(-((dy[:end] / reach) ** 2)) * np.exp(-((dx / reach) ** 2))
            img[:, :end] += glow[None] * (self.colour * amount)
        # The disc, drawn only in its box.
        px = env.pixel
        r = self.radius
        cols = np.nonzero(np.abs(dx[0]) < r + 2 * px)[0]
        rows = np.nonzero(np.abs(dy[:, 0]) < r + 2 * px)[0]
        if cols.size and rows.size:
            c0, c1, r0, r1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
            dist = np.sqrt(dx[:, c0:c1] ** 2 + dy[r0:r1] ** 2)
            disc = smoothstep(r + px, r - px, dist)
            img[:, r0:r1, c0:c1] += disc[None] * (self.colour * 0.9 + 0.1)


class Clouds:
    """Fractal-noise clouds on a ceiling seen in perspective, drifting with the wind.

    ``bank`` makes a low mist band instead, drawn between mountain ridges.
    """

    def __init__(self, env: Env, bank: bool = False) -> None:
        self.env = env
        self.bank = bank
        self.tex = env.noise(1 if bank else 0)
        light = env.light
        self.lit = col(np.clip(0.55 * light.sun + 0.5 * light.horizon, 0, 1))
        self.shadow = col(0.6 * light.zenith + 0.35 * light.horizon)
        if env.spec.light == "overcast" or env.has("rain"):
            self.coverage = 0.3
        elif env.has("clouds"):
            self.coverage = 0.46
        else:
            self.coverage = 0.6
        self.wind = float(env.rng.choice([-1.0, 1.0])) * float(env.rng.uniform(0.08, 0.14))
        self.soft = 0.12 if env.spec.sharp else 0.28

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        n = self.tex.shape[0]
        scale = n / 4.0  # texels per unit: the texture spans 4 units
        if self.bank:
            x, y = fr.view(0.33)
            drift = env.clock.travel(fr.t, self.wind * 2.5, 4.0)
            v = y * 2.2
            u = x * 0.5 + drift
            tex = sample_tex(self.tex, v, u, scale)
            height = fr.horizon - y
            band = np.exp(-(((height - 0.22) / 0.13) ** 2))
            mask = smoothstep(0.35, 0.75, tex) * band * 0.85
            mix(img, mask[None], self.lit * 0.85 + self.shadow * 0.25)
            return
        r0 = fr.horizon_row()
        if r0 <= 0:
            return
        x, y = fr.view(0.05)
        rows = slice(0, r0)
        lift = np.maximum(fr.horizon - y[rows], 1e-3)  # (r0, 1)
        z = 0.45 / lift
        drift = env.clock.travel(fr.t, self.wind, 8.0 / 3.0)
        forward = fr.cam.forward * 0.5
        iv = tex_index(z * 1.5 + forward, scale, n)
        iv2 = tex_index(z * 1.5 + forward + 0.06, scale, n)
        iu = tex_index((x * z + drift) * 1.5, scale, n)
        dens = texels(self.tex, iv, iu)
        shade = np.clip(0.55 + 4.0 * (dens - texels(self.tex, iv2, iu)), 0, 1)
        fade = smoothstep(0.03, 0.4, lift)
        cov = self.coverage
        mask = smoothstep(cov, cov + self.soft, dens) * fade
        colour = self.shadow + shade[None] * (self.lit - self.shadow)
        mix(img[:, rows], (mask * 0.95)[None], colour)


class Stars:
    """Twinkling stars above the horizon: two star maps that trade brightness."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.a = dot_texture(env.rng, 256, 260, (0.35, 0.7))
        self.b = dot_texture(env.rng, 256, 260, (0.35, 0.7))
        self.colour = col(rgb(0.95, 0.95, 1.0) * (0.5 if env.light.name == "day" else 1.0))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        r0 = fr.horizon_row()
        if r0 <= 0:
            return
        x, y = fr.view(0.0)
        scale = 256 / 2.6
        iy = tex_index(y[:r0, 0], scale, 256)[:, None]
        ix = tex_index(x[0], scale, 256)[None, :]
        w = 0.5 + 0.5 * math.sin(self.env.clock.angle(fr.t, 2.0))
        stars = texels(self.a, iy, ix) * (0.45 + 0.55 * w) + texels(self.b, iy, ix) * (1.0 - 0.55 * w)
        stars *= smoothstep(0.0, 0.35, fr.horizon - y[:r0])
        img[:, :r0] += stars[None] * self.colour


class Galaxy:
    """A tilted spiral galaxy that slowly turns, with a glowing core."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        n = 320
        self.n, self.extent = n, 1.7
        g = (np.arange(n, dtype=F32) + 0.5) / n * 2 * self.extent - self.extent
        px, py = g[None, :], g[:, None]
        r = np.sqrt(px * px + py * py) + 1e-3
        theta = np.arctan2(py, px)
        noise = env.noise(2)
        tn = noise.shape[0]
        wisp = noise[(np.arange(n) * 2) % tn][:, (np.arange(n) * 2) % tn]
        arms = 0.5 + 0.5 * np.cos(2 * (theta - 2.4 * np.log(r + 0.08)) + 3.0 * wisp)
        disk = np.exp(-r / 0.45) * (0.25 + 0.9 * arms**3) * (0.6 + 0.8 * wisp)
        core = np.exp(-((r / 0.13) ** 2))
        hue = env.palette[2]
        arm_colour = np.clip(0.5 * hue + 0.5 * rgb(0.5, 0.6, 1.0), 0, 1)
        dust = rgb(0.95, 0.45, 0.75)
        tint = arm_colour[:, None, None] + (dust - arm_colour)[:, None, None] * wisp[None]
        self.tex = np.clip(disk[None] * tint * 1.4 + core[None] * col(rgb(1.0, 0.92, 0.8)), 0, 1)
        self.flat = np.ascontiguousarray(self.tex.astype(F32).reshape(3, -1))
        self.cx = float(rng.uniform(-0.3, 0.3)) * env.xr
        self.cy = env.horizon - 0.75 if env.has("ocean") or env.has("mountains") else -0.05
        self.squash = 1.8
        self.turn0 = float(rng.uniform(0, TAU))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        x, y = fr.view(0.03)
        a = self.turn0 + self.env.clock.travel(fr.t, 0.05, TAU)
        c, s = math.cos(a), math.sin(a)
        p = x - self.cx
        q = (y - self.cy) * self.squash
        gx = p * c + q * s
        gy = q * c - p * s
        scale = self.n / (2 * self.extent)
        ix = np.clip(((gx + self.extent) * scale).astype(np.int32), 0, self.n - 1)
        iy = np.clip(((gy + self.extent) * scale).astype(np.int32), 0, self.n - 1)
        # np.take on the flattened texture is several times faster than 3-D fancy indexing.
        img += np.take(self.flat, iy * self.n + ix, axis=1)


class Aurora:
    """Two curtains of green-to-violet light that ripple along the sky."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        self.lines = [noise_1d(rng, 512, 2.4) for _ in range(4)]
        self.green = col(rgb(0.15, 1.0, 0.55))
        self.violet = col(rgb(0.55, 0.25, 1.0))
        self.bases = [env.horizon - 0.5, env.horizon - 0.78]

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        r0 = fr.horizon_row()
        if r0 <= 0:
            return
        clock = self.env.clock
        x, y = fr.view(0.08)
        y = y[:r0]
        sky = img[:, :r0]
        for i, base in enumerate(self.bases):
            drift = clock.travel(fr.t, 0.08 * (1 + i), 8.0)
            wave = math.sin(clock.angle(fr.t, 0.4 + 0.2 * i))
            curve = base + 0.16 * sample1(self.lines[2 * i], x + drift, 64.0)
            curve += 0.04 * wave * np.sin(1.3 * x + i)
            rays = 0.35 + 0.65 * np.abs(sample1(self.lines[2 * i + 1], x * 1.5 - drift, 64.0))
            dy = curve - y  # > 0 above the curtain's lower edge
            length = 0.32 - 0.08 * i
            inten = np.exp(np.where(dy > 0, -dy / length, dy * 30.0)) * rays * (0.85 - 0.2 * i)
            up = np.clip(dy / (1.6 * length), 0, 1)
            sky += inten[None] * (self.green + up[None] * (self.violet - self.green))


class Mountains:
    """Three ridges of peaks, hazier with distance, lit along their crests from the sun's
    side and snow-capped; a low cloud bank can roll between the far ridge and the others.

    Ridges only change when the camera moves, so each is drawn once (``PanCache``) and slid
    sideways as the camera pans.
    """

    def __init__(self, env: Env, bank: Clouds | None = None) -> None:
        self.env = env
        rng = env.rng
        self.bank = bank
        light = env.light
        base = np.clip(rgb(0.2, 0.22, 0.3) * light.ambient * 1.1, 0, 1)
        self.haze = light.horizon
        self.ridges = []
        for i, depth in enumerate((0.25, 0.42, 0.6)):
            line = noise_1d(rng, 1024, 2.4, 0.06)
            peaky = 2 * np.abs(noise_1d(rng, 1024, 1.6, 0.12)) - 1
            shape = 0.35 * line + 0.65 * peaky
            shape = shape / (np.abs(shape).max() + 1e-6)
            haze = (0.55, 0.34, 0.18)[i]
            colour = base * (1.0 - 0.22 * i) + (light.horizon - base) * haze
            self.ridges.append(
                dict(
                    depth=depth,
                    line=shape.astype(F32),
                    lift=(0.5, 0.33, 0.1)[i],
                    amp=(0.42, 0.26, 0.12)[i],
                    freq=(50.0, 70.0, 100.0)[i],
                    colour=np.clip(colour, 0, 1).astype(F32),
                    snow=i < 2 and light.name not in ("neon", "dark"),
                )
            )
        self.sun_side = float(rng.choice([-1.0, 1.0]))
        self.snow = np.clip(rgb(0.95, 0.96, 1.0) * light.ambient, 0, 1)
        self.tex = env.noise(2)
        self._parts = [PanCache(r["depth"], env.sx, env.pixel, self._painter(r)) for r in self.ridges]

    def _painter(self, ridge: dict) -> StripPainter:
        env = self.env
        px = env.pixel
        n = self.tex.shape[0]
        # Below the horizon a ground layer (water, beach, road, grass) covers the ridges' feet.
        covered = bool(set(env.spec.subjects) & {"ocean", "beach", "road", "field"})
        horizon = env.horizon

        def paint(x: np.ndarray, y_all: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
            heights = ridge["lift"] + ridge["amp"] * sample1(ridge["line"], x[0], ridge["freq"])
            top = horizon - heights
            # Only the rows the ridge can touch.
            r0 = int(np.searchsorted(y_all[:, 0], float(top.min()) - px))
            r1 = int(np.searchsorted(y_all[:, 0], horizon + px)) + 1 if covered else env.h
            if r0 >= r1:
                return None
            y = y_all[r0:r1]
            mask = np.clip((y - top[None, :]) / px + 0.5, 0, 1)
            rough = sample_tex(self.tex, y * 2.0, x * 2.0, n / 4)
            # Lighter near the ridge's crest line, darker down its face (by row: no streaks).
            crest = horizon - ridge["lift"] - 0.5 * ridge["amp"]
            tone = (1.1 - 0.45 * np.clip((y - crest) / 0.6, 0, 1)) * (0.9 + 0.2 * rough)
            face = ridge["colour"][:, None, None] * tone[None]
            if ridge is not self.ridges[-1]:
                mist = np.exp(-np.abs(horizon - y) / 0.1) * 0.5
                face = face + mist[None] * (self.haze[:, None, None] - face)
            if ridge["snow"]:
                # Tall peaks carry snow, further down the taller they are.
                depth = np.clip(heights - ridge["lift"] - 0.2 * ridge["amp"], 0, None) * 0.7
                line = (top + depth)[None, :] + 0.04 * (rough - 0.5)
                cap = smoothstep(0.015, -0.015, y - line) * smoothstep(0.0, 0.04, depth)[None, :] * 0.9
                face = face + cap[None] * (self.snow[:, None, None] - face)
            return r0, (np.minimum(face, 1.0) * mask[None]).astype(F32), mask.astype(F32)

        return paint

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        # Nearer ridges hide the feet of farther ones: those rows are not blended.
        solid = [part.solid_rows(fr) for part in self._parts]
        if fr.covered_from is not None:  # and the ground, drawn later, their feet
            solid.append((fr.covered_from, img.shape[1]))
        for index, part in enumerate(self._parts):
            part.composite(img, fr, covered=[s for s in solid[index + 1 :] if s is not None])
            if index == 0 and self.bank is not None:
                self.bank.draw(img, fr)  # the low cloud bank rolls between far and near ridges
