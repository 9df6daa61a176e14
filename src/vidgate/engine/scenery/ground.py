"""Ground layers seen in perspective: ocean, beach, rocks with spray, road with a car, city."""

from __future__ import annotations

import math

import numpy as np

from vidgate.engine.scenery.core import (
    F32,
    TAU,
    Frame,
    GroundCover,
    PanCache,
    col,
    mix,
    noise_1d,
    rgb,
    sample1,
    sample_tex,
    smoothstep,
    tex_index,
)
from vidgate.engine.scenery.env import Env

WRAP = 8.0  # forward travel wraps every WRAP units; ground patterns repeat with it
SHORE_PERIOD, SHORE_SAMPLES = 16.0, 4096
DEPTH_ROCKS = 0.85


def _sun_screen_x(env: Env, fr: Frame) -> float | None:
    sun_x = env.sun_x
    if sun_x is None:
        return None
    return (sun_x - fr.cam.offset(0.02)) * fr.cam.zoom_at(0.02)


class Ocean(GroundCover):
    """Water to the horizon: sky-tinted far off, deep near, rolling wave bands with foam
    and a glitter path under the sun."""

    def __init__(self, env: Env) -> None:
        self.env = env
        light = env.light
        water = light.water
        if env.spec.tropical:
            water = np.clip(rgb(0.0, 0.42, 0.5) * light.ambient, 0, 1)
        self.water = water
        self.far = np.clip(light.horizon * 0.85 + light.zenith * 0.1, 0, 1)
        self.foam = np.clip(rgb(0.92, 0.95, 0.97) * light.ambient, 0, 1)
        self.tex = env.noise(0)
        self.glint = None if light.name in ("overcast", "dark") else col(light.sun)
        self.k = TAU * 6 / WRAP  # whole wave cycles per wrap
        # What the per-pixel weights of draw() are weights of: swells, foam, sun glitter.
        self._colours = np.stack([self.far + 0.25, self.foam, light.sun * 0.8], axis=1).astype(F32)

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        r0, z, u = fr.ground(env.ground_height)
        rows = fr.drawn_end(env.h) - r0
        if rows <= 0:
            return
        z, u = z[:rows], u[:rows]
        n = self.tex.shape[0]
        scale = n / WRAP
        fwd = fr.cam.forward
        g = np.clip(z / 9.0, 0, 1) ** 0.6  # (rows, 1): 0 near, 1 far (the sky's reflection)
        base = self.water[:, None, None] + g[None] * (self.far - self.water)[:, None, None]
        zz = z + fwd
        warp = sample_tex(self.tex, zz, u * 0.5, scale)
        ripple = sample_tex(self.tex, zz * 2.0, u * 2.0 + 1.7, scale)
        phase = self.k * zz + 5.0 * warp - env.clock.angle(fr.t, 1.3)
        wave = np.sin(phase)
        near = np.exp(-z / 3.0)
        # Swells: lit faces and dark troughs, stronger near; ripples on top.
        shade = 0.16 * wave * (0.25 + near) + 0.2 * (ripple - 0.5) * (0.15 + near)
        # White water along the crests, breaking near the shore.
        foam = smoothstep(0.6, 0.95, wave * 0.75 + ripple * 0.45) * (0.25 + 0.75 * near) * 0.9
        weights = [shade * (1 - foam), foam]
        sun_x = _sun_screen_x(env, fr)
        if self.glint is not None and sun_x is not None:
            path = np.exp(-(((fr.sx - sun_x) / 0.12) ** 2)).astype(F32)
            weights.append(smoothstep(0.55, 0.8, ripple) * path[None, :] * (1.0 - 0.5 * near))
        # (base + shaded swells) under the foam, plus any glitter: one weight per colour.
        sea = img[:, r0 : r0 + rows]
        np.multiply(base, (1 - foam)[None], out=sea)
        sea += np.tensordot(self._colours[:, : len(weights)], np.stack(weights), axes=1)


class Beach:
    """Sand with a curving waterline: the swash runs up and back, leaving wet sand and foam."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        light = env.light
        self.line = noise_1d(rng, 1024, 2.2)
        self.sand = np.clip(rgb(0.94, 0.83, 0.64) * light.ambient, 0, 1)
        self.wet = self.sand * np.array([0.72, 0.7, 0.72], F32)
        self.foam = np.clip(rgb(0.97, 0.98, 1.0) * light.ambient, 0, 1)
        turq = rgb(0.1, 0.75, 0.72) if env.spec.tropical else rgb(0.25, 0.55, 0.6)
        self.shallow = np.clip(turq * light.ambient, 0, 1)
        self.tex = env.noise(1)
        aerial = env.spec.camera == "flyover"
        self.shore = 1.35 if aerial else 0.95  # distance of the waterline
        self.slant = float(rng.choice([-1.0, 1.0])) * (0.5 if aerial else 0.25)
        self.phase = float(rng.uniform(0, TAU))
        # The waterline along the beach, and how far the swash reaches beyond it, tabulated
        # over one period (16 units: the noise line's length and both waves' common period).
        u = np.arange(SHORE_SAMPLES, dtype=F32) * F32(SHORE_PERIOD / SHORE_SAMPLES)
        self._shore = (self.shore + 0.3 * sample1(self.line, u, 64.0)
                       + self.slant * np.sin(u * (TAU / 16))).astype(F32)
        self._reach = (0.8 + 0.2 * np.sin(u * (TAU * 2 / 16))).astype(F32)
        self._colours = np.stack([self.shallow, self.sand, self.wet - self.sand, self.foam], axis=1)
        # Nearer than this the sand covers everything whatever the swash does (the margin
        # exceeds the half pixel of the sand's soft edge at these distances).
        self._all_sand = float(self._shore.min()) - 0.05

    def covers_below(self, fr: Frame) -> int | None:
        """The first screen row from which the sand covers every pixel to the bottom."""
        r0, z, _ = fr.ground(self.env.ground_height)
        near = np.flatnonzero(z[:, 0] < self._all_sand)  # z falls row by row
        return r0 + int(near[0]) if near.size else None

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        r0, z, u = fr.ground(env.ground_height)
        if r0 >= env.h:
            return
        at = tex_index(u, SHORE_SAMPLES / SHORE_PERIOD, SHORE_SAMPLES)  # the shore tables' index
        shore = self._shore[at]
        run = 0.5 + 0.5 * math.sin(env.clock.angle(fr.t, 0.9) + self.phase)
        s = shore + (0.12 * run) * self._reach[at] - z  # > 0: sand side of the water's reach
        soft = 0.006 + 0.012 * z
        shallow = np.clip(1.0 + s / 0.5, 0, 1) * 0.75
        sand = np.clip(s / soft + 0.5, 0, 1)
        n = self.tex.shape[0]
        grain = 0.95 + 0.1 * sample_tex(self.tex, z * 2.0, u * 2.0, n / WRAP)
        # The band the swash wets, just above the waterline.
        wet = np.clip((z - shore + 0.14) / 0.1, 0, 1)
        foam = np.exp(-np.minimum((s / (0.015 + 0.02 * z)) ** 2, 60.0)) * (0.63 + 0.27 * run)
        # Shallow water, then sand (wet or dry, grained), then foam, each laid over what is
        # below: one weight per colour, and what shows through, per pixel.
        grained_sand = sand * (1 - foam) * grain
        weights = np.stack([shallow * (1 - sand) * (1 - foam), grained_sand, grained_sand * wet, foam])
        keep = (1 - shallow) * (1 - sand) * (1 - foam)
        ground = img[:, r0:]
        ground *= keep[None]
        ground += np.tensordot(self._colours, weights, axes=1)


class Rocks:
    """Dark rocks in the foreground; waves burst into spray against them."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        xr = env.xr
        side = float(rng.choice([-1.0, 1.0]))
        self.rocks = [
            (side * xr * float(rng.uniform(0.55, 0.8)), xr * float(rng.uniform(0.35, 0.55)),
             float(rng.uniform(0.3, 0.45)), float(rng.uniform(0, TAU))),
            (-side * xr * float(rng.uniform(0.6, 0.9)), xr * float(rng.uniform(0.2, 0.35)),
             float(rng.uniform(0.18, 0.28)), float(rng.uniform(0, TAU))),
        ]  # fmt: skip
        self.line = noise_1d(rng, 1024, 1.6)
        self.colour = np.clip(rgb(0.22, 0.2, 0.19) * env.light.ambient, 0, 1)
        self.spray = np.clip(rgb(0.95, 0.97, 1.0) * env.light.ambient, 0, 1)
        self.tex = env.noise(0)
        self.bottom = env.horizon + 0.9
        self._body = PanCache(DEPTH_ROCKS, env.sx, env.pixel, self._paint)

    def _paint(self, x: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
        """The rocks themselves, over world x (1, n): they only move with the camera."""
        env = self.env
        xs = x[0]
        heights = self._heights(xs)
        top = self.bottom - heights
        px = env.pixel
        r0 = int(np.searchsorted(y[:, 0], float(top.min()) - px))
        if r0 >= y.shape[0] or heights.max() <= 0.005:
            return None
        y = y[r0:]
        mask = np.clip((y - top[None, :]) / px + 0.5, 0, 1) * (heights > 0.005)[None, :]
        n = self.tex.shape[0]
        rough = sample_tex(self.tex, y * 2.5, xs * 2.5, n / 4)
        slope = np.gradient(heights) / px if heights.size > 1 else np.zeros_like(heights)
        if slope.size >= 15:
            slope = np.convolve(slope, np.ones(15, F32) / 15, mode="same")
        crest = np.exp(-np.clip(y - top[None, :], 0, None) / 0.08)
        lit = 1.0 + crest * np.clip(0.7 * slope, -0.4, 0.7)[None, :]
        shade = (0.55 + 0.9 * rough) * lit * (1.25 - 0.5 * np.clip(y - top[None, :], 0, 0.5))
        colour = np.minimum(self.colour[:, None, None] * shade[None], 1.0) * mask[None]
        return r0, colour.astype(F32), mask.astype(F32)

    def _heights(self, xs: np.ndarray) -> np.ndarray:
        heights = np.zeros_like(xs)
        for cx, half, tall, _ in self.rocks:
            shape = np.sqrt(np.clip(1 - ((xs - cx) / half) ** 2, 0, 1))
            heights = np.maximum(heights, tall * shape)
        return heights * (1 + 0.25 * sample1(self.line, xs, 90.0))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        x, y = fr.view(DEPTH_ROCKS)
        self.bottom = max(fr.horizon + 0.9, float(y[-1, 0]) + 0.05)  # the frame's bottom edge
        self._body.composite(img, fr)
        # Spray: a burst above each rock, rising as the wave hits; drawn only where it reaches.
        n = self.tex.shape[0]
        xs = x[0]
        for cx, half, tall, phase in self.rocks:
            beat = math.sin(env.clock.angle(fr.t, 1.1) + phase)
            burst = max(0.0, beat) ** 2
            if burst < 0.02:
                continue
            cy = self.bottom - tall - 0.1 * burst
            rx, ry = half * (0.5 + 0.6 * burst), 0.12 + 0.18 * burst
            c0, c1 = np.searchsorted(xs, (cx - 2.2 * rx, cx + 2.2 * rx))
            r0, r1 = np.searchsorted(y[:, 0], (cy - 2.2 * ry, cy + 2.2 * ry))
            if c0 >= c1 or r0 >= r1:
                continue
            rise = env.clock.travel(fr.t, 0.4, 4.0)
            gx = np.exp(-(((xs[c0:c1] - cx) / rx) ** 2))
            gy = np.exp(-(((y[r0:r1, 0] - cy) / ry) ** 2))
            cloud = sample_tex(self.tex, y[r0:r1] * 1.5 + rise, xs[c0:c1] * 1.5, n / 4)
            spray = smoothstep(0.35, 0.75, cloud) * np.outer(gy, gx) * burst
            mix(img[:, r0:r1, c0:c1], spray[None], self.spray[:, None, None])


class Road(GroundCover):
    """A road running to the horizon (bending for a corner), dashes streaming past, and the
    car it is about: seen from behind, swaying, tail lights glowing, beams ahead at night."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        light = env.light
        amb = light.ambient
        self.asphalt = np.clip(rgb(0.2, 0.2, 0.22) * amb, 0, 1)
        if env.word("desert", "dust", "dusty", "sand"):
            verge = rgb(0.78, 0.62, 0.42)
        elif env.word("snow", "winter", "snowy"):
            verge = rgb(0.9, 0.92, 0.96)
        else:
            verge = rgb(0.33, 0.45, 0.24)
        self.verge = np.clip(verge * amb, 0, 1)
        self.paint = np.clip(rgb(0.95, 0.93, 0.85) * amb, 0, 1)
        self.tex = env.noise(1)
        bend = env.word("corner", "curve", "drift", "drifting", "turn", "winding", "bend")
        self.bend = float(rng.choice([-1.0, 1.0])) * (0.2 if bend else 0.03)
        self.drifting = bend
        hues = env.spec.hues
        body = env.named(env.palette[2]) if hues else [
            rgb(0.75, 0.08, 0.06), rgb(0.95, 0.55, 0.05), rgb(0.1, 0.25, 0.7), rgb(0.85, 0.85, 0.88)
        ][int(rng.integers(0, 4))]  # fmt: skip
        self.body = np.clip(np.asarray(body, F32) * (0.6 + 0.4 * amb), 0, 1)
        self.glass = np.clip(light.horizon * 0.35 + 0.05, 0, 1)
        self.night = light.night or light.name in ("dramatic", "overcast")
        self.speed = 2.2
        self.car_z = 0.8
        env.anchor = None
        self._sprite_key: tuple[float, float] | None = None
        self._sprite: tuple[int, np.ndarray, np.ndarray] = (0, np.ones((0, 0), F32), np.zeros((3, 0, 0), F32))

    def centre(self, z: np.ndarray | float, fr: Frame) -> np.ndarray | float:
        sway = 0.05 * math.sin(self.env.clock.angle(fr.t, 0.3))
        return self.bend * (z - self.car_z) ** 2 * 0.5 + sway * z

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        r0, z, u = fr.ground(env.ground_height)
        px = env.pixel
        if r0 < env.h:
            u = u - fr.cam.lateral  # the camera follows the car along the road
            fwd = fr.cam.forward + env.clock.travel(fr.t, self.speed, WRAP)
            d = np.abs(u - self.centre(z, fr))
            pu = px * z * 1.2  # one pixel, in ground units, at each row
            road = np.clip((0.62 - d) / pu + 0.5, 0, 1)
            n = self.tex.shape[0]
            grain = sample_tex(self.tex, z + fwd, u, n / WRAP)
            ground = img[:, r0:]
            ground[:] = self.verge[:, None, None] * (0.8 + 0.4 * grain[None])
            fade = np.exp(-z / 9.0)
            mix(ground, road[None], self.asphalt[:, None, None] * (0.9 + 0.2 * grain[None]))
            edge = np.clip((0.035 - np.abs(d - 0.54)) / pu + 0.5, 0, 1)
            dash = np.clip((0.025 - d) / pu + 0.5, 0, 1)
            dash *= smoothstep(0.45, 0.55, np.abs(((z + fwd) % 1.0) - 0.5) * 2) * fade
            mix(ground, (np.maximum(edge * fade, dash) * 0.9)[None], self.paint[:, None, None])
            if self.night and env.has("car"):
                beam = np.exp(-(((u - self.centre(z, fr)) / (0.12 + 0.12 * z)) ** 2))
                beam *= (z > self.car_z) * np.exp(-(z - self.car_z) / 2.5) * 0.6
                ground += beam[None] * col(rgb(1.0, 0.92, 0.75))
        if env.has("car"):
            self._car(img, fr)

    def _car(self, img: np.ndarray, fr: Frame) -> None:
        """The car, from a sprite drawn once for its size and lean and slid sideways as it
        sways (redrawn when the camera's zoom or tilt changes its size or height)."""
        env = self.env
        cam = fr.cam
        zoom = cam.zoom_at(0.8)
        by = fr.horizon - cam.tilt + (env.ground_height / self.car_z) * zoom
        s = 0.62 * zoom / self.car_z  # screen units per car unit
        sway = math.sin(env.clock.angle(fr.t, 0.7))
        bx = (float(self.centre(self.car_z, fr)) / self.car_z - cam.pan * 0.8) * zoom + 0.06 * sway
        env.anchor = (bx - 0.15 * s, by - 0.05 * s, s)  # behind the rear wheels
        key = (s, by)
        if self._sprite_key != key:
            self._sprite = self._car_sprite(fr, by, s)
            self._sprite_key = key
        r0, gain, paint = self._sprite
        px = env.pixel
        left = (bx - float(fr.sx[0])) / px - (gain.shape[1] - 1) / 2  # sprite column 0, in frame columns
        whole = math.floor(left)
        frac = F32(left - whole)
        # Column c of the frame samples the sprite at c - left: between columns c - whole - 1 and c - whole.
        c0, c1 = max(0, whole + 1), min(env.w, whole + gain.shape[1])
        if c0 >= c1 or r0 >= env.h:
            return
        i0, i1 = c0 - whole, c1 - whole  # sprite columns under frame columns c0..c1 (right neighbours)
        k = gain[:, i0 - 1 : i1 - 1] * frac + gain[:, i0:i1] * (1 - frac)
        c = paint[:, :, i0 - 1 : i1 - 1] * frac + paint[:, :, i0:i1] * (1 - frac)
        rows = slice(r0, r0 + gain.shape[0])
        patch = img[:, rows, c0:c1]
        patch *= k[None, : patch.shape[1]]
        patch += c[:, : patch.shape[1]]

    def _car_sprite(self, fr: Frame, by: float, s: float) -> tuple[int, np.ndarray, np.ndarray]:
        """The car drawn centred on a column grid: (first row, gain, paint) such that a picture
        under it becomes picture * gain + paint (every step of the drawing is of that form)."""
        env = self.env
        px = env.pixel
        half = int(math.ceil(0.75 * s / px)) + 1
        sx = (np.arange(-half, half + 1, dtype=F32)) * F32(px)  # columns around the car's centre
        r0 = max(0, int(np.searchsorted(fr.sy, by - 0.75 * s)))
        r1 = int(np.searchsorted(fr.sy, by + 0.12 * s))
        big_x = sx[None, :] / s
        big_y = (by - fr.sy[r0:r1][:, None]) / s
        big_x = big_x - (0.35 * float(np.sign(self.bend)) if self.drifting else 0.0) * big_y
        black = np.zeros((3, max(0, r1 - r0), sx.size), F32)
        white = np.ones_like(black)
        for patch in (black, white):
            self._draw_car(patch, big_x, big_y, px / s)
        return r0, (white - black)[0], black

    def _draw_car(self, patch: np.ndarray, big_x: np.ndarray, big_y: np.ndarray, aa: float) -> None:
        def box(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
            hx = np.clip((np.minimum(big_x - x0, x1 - big_x)) / aa + 0.5, 0, 1)
            hy = np.clip((np.minimum(big_y - y0, y1 - big_y)) / aa + 0.5, 0, 1)
            return hx * hy

        shadow = np.exp(-((big_x / 0.6) ** 2) - ((big_y / 0.07) ** 2)) * 0.6
        patch *= 1 - shadow[None]
        dark = col(rgb(0.04, 0.04, 0.045))
        for x0 in (-0.47, 0.31):
            mix(patch, box(x0, x0 + 0.16, 0.0, 0.2)[None], dark)
        body = box(-0.48, 0.48, 0.08, 0.36)
        shade = np.clip(0.7 + 0.9 * (big_y - 0.08), 0.6, 1.1)
        mix(patch, body[None], self.body[:, None, None] * shade[None])
        slope = 0.45 * (big_y - 0.36)
        cabin = box(-0.38, 0.38, 0.35, 0.6) * np.clip((0.38 - slope - np.abs(big_x)) / aa, 0, 1)
        mix(patch, cabin[None], self.body[:, None, None] * 0.8)
        window = box(-0.33, 0.33, 0.39, 0.56) * np.clip((0.33 - slope - np.abs(big_x)) / aa, 0, 1)
        mix(patch, window[None], self.glass[:, None, None] * (0.7 + 0.8 * (big_y - 0.39))[None])
        lamps = box(-0.44, -0.28, 0.26, 0.32) + box(0.28, 0.44, 0.26, 0.32)
        red = col(rgb(1.0, 0.12, 0.08))
        mix(patch, lamps[None], red)
        if self.night:
            for lx in (-0.36, 0.36):
                glow = np.exp(-(((big_x - lx) / 0.16) ** 2) - (((big_y - 0.29) / 0.09) ** 2))
                patch += glow[None] * (red * 0.8)
        mix(patch, box(-0.09, 0.09, 0.14, 0.2)[None], col(rgb(0.85, 0.85, 0.8)))


class City:
    """A skyline on the horizon with lit windows (warm at night, glinting by day)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        samples, span = 2048, 16.0
        heights = np.zeros(samples, F32)
        pos = 0
        while pos < samples:
            width = int(rng.integers(18, 46))
            tall = float(rng.uniform(0.12, 0.45)) * (1.8 if rng.uniform() < 0.15 else 1.0)
            heights[pos : pos + width - 3] = tall
            heights[pos + width - 3 : pos + width] = tall * 0.3
            pos += width
        self.heights = heights[:samples]
        self.scale = samples / span
        self.table = rng.uniform(0, 1, 1021).astype(F32)
        night = env.light.night
        self.wall = np.clip(
            (rgb(0.04, 0.05, 0.09) if night else rgb(0.42, 0.47, 0.56) * env.light.ambient)
            + env.light.horizon * 0.08,
            0,
            1,
        )
        self.window = col(rgb(1.0, 0.78, 0.45) if night else rgb(0.85, 0.9, 0.95))
        self.lit_share = 0.45 if night else 0.2

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        x, y = fr.view(0.45)
        xs = x[0]
        tall = self.heights[tex_index(xs, self.scale, self.heights.shape[0])]
        top = fr.horizon - tall
        px = env.pixel
        mask = np.clip((y - top[None, :]) / px + 0.5, 0, 1)
        mix(img, mask[None], self.wall[:, None, None])
        cx, cy = xs * 32.0, y[:, 0] * 40.0
        fx, fy = cx - np.floor(cx), cy - np.floor(cy)
        ix, iy = np.floor(cx).astype(np.int64), np.floor(cy).astype(np.int64)
        pane = (np.abs(fx - 0.5) < 0.28)[None, :] & (np.abs(fy - 0.5) < 0.25)[:, None]
        key = (ix[None, :] * 7 + iy[:, None] * 131) % self.table.shape[0]
        on = (self.table[key] < self.lit_share) & pane
        blink = 0.85 + 0.15 * math.sin(self.env.clock.angle(fr.t, 1.0))
        light = on * mask * (y < fr.horizon - 0.02) * (0.7 + 0.3 * self.table[(key + 5) % 1021])
        img += (light * blink)[None] * self.window
