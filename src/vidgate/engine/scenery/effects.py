"""Subject and atmosphere layers: backdrop, flower, fire, smoke, liquid metal, bokeh, rain,
snow, particles."""

from __future__ import annotations

import math

import numpy as np

from vidgate.engine.scenery.core import (
    F32,
    TAU,
    Frame,
    col,
    dot_texture,
    mix,
    rgb,
    sample_tex,
    smoothstep,
)
from vidgate.engine.scenery.env import Env


def _box(fr: Frame, x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float):
    """Column and row slices of the frame where |x - cx| < rx and |y - cy| < ry."""
    c0, c1 = np.searchsorted(x[0], (cx - rx, cx + rx))
    r0, r1 = np.searchsorted(y[:, 0], (cy - ry, cy + ry))
    return slice(int(c0), int(c1)), slice(int(r0), int(r1))


class Backdrop:
    """A calm studio backdrop for subjects without a landscape: a vertical gradient from the
    palette (near black for dark light) with a soft glow behind the subject."""

    def __init__(self, env: Env) -> None:
        self.env = env
        light, pal = env.light, env.palette
        if light.night:
            top, bottom, glow = light.zenith, light.horizon * 0.8, light.horizon * 1.6 + 0.04
        elif env.has("flower"):
            leaf = rgb(0.25, 0.45, 0.22) * light.ambient
            top, bottom = np.clip(leaf * 1.3 + 0.1, 0, 1), leaf * 0.55
            glow = np.clip(light.sun * 0.6, 0, 1)
        else:
            top, bottom, glow = pal[1], pal[0], pal[3] * 0.55
        y = env.sy[:, None]
        x = env.sx[None, :]
        a = np.clip((y + 1) / 2, 0, 1)
        img = col(top) + a[None] * col(np.asarray(bottom, F32) - top)
        halo = np.exp(-(x * x) / 1.2 - (y + 0.1) ** 2 / 0.8)
        img = img + halo[None] * col(glow) * 0.5
        self.img = np.clip(img, 0, 1).astype(F32)

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        img[:] = self.img


class Flower:
    """A flower that opens over the clip: two rings of shaded petals, a seeded heart, a stem."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        self.count = 13 if env.word("daisy", "sunflower") else int(rng.integers(5, 9))
        if env.spec.hues:
            petal = env.named(env.palette[2])
        elif env.word("sunflower"):
            petal = rgb(1.0, 0.78, 0.1)
        elif env.word("daisy"):
            petal = rgb(0.97, 0.97, 0.95)
        else:
            petal = [rgb(0.95, 0.35, 0.55), rgb(0.92, 0.18, 0.22), rgb(0.75, 0.45, 0.95),
                     rgb(1.0, 0.62, 0.25), rgb(0.98, 0.75, 0.85)][int(rng.integers(0, 5))]  # fmt: skip
        self.petal = np.clip(np.asarray(petal, F32) * env.light.ambient, 0, 1)
        self.heart = np.clip(rgb(0.98, 0.72, 0.15) * env.light.ambient, 0, 1)
        self.stem = np.clip(rgb(0.22, 0.5, 0.2) * env.light.ambient, 0, 1)
        self.cx = 0.0
        self.cy = -0.12
        self.turn = float(rng.uniform(0, TAU))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        b = 0.08 + 0.92 * clock.progress(fr.t)
        sway = 0.03 * math.sin(clock.angle(fr.t, 0.8))
        x, y = fr.view(0.75)
        px = env.pixel / fr.cam.zoom_at(0.75)
        cx, cy = self.cx + sway, self.cy
        def bend(sy: np.ndarray) -> np.ndarray:  # the stem's x at screen rows sy
            return cx + 0.08 * (sy - cy) ** 2 - sway * (sy - cy)

        leaf_len = 0.18 * (0.4 + 0.6 * b)  # also its centre's distance from the stem
        for side in (-1.0, 1.0):
            ly = cy + 0.7 + 0.1 * side
            # The leaf's own box: all of it lies within 0.18 of its centre, and the stem bends
            # by -0.03 to 0.12 over these rows.
            ccx, ccy = cx + side * 0.8 * leaf_len + 0.045, ly + 0.6 * leaf_len
            cs, rs = _box(fr, x, y, ccx, ccy, 0.3, 0.22)
            sx_, sy_ = x[:, cs], y[rs]
            lx = bend(sy_) - side * 0.01
            dx, dy = (sx_ - lx) * side, sy_ - ly
            # A leaf: an ellipse tilted up and out from the stem.
            u = (dx * 0.8 + dy * 0.6) - leaf_len
            v = -dx * 0.6 + dy * 0.8
            leaf = np.clip((1 - (u / leaf_len) ** 2 - (v / 0.06) ** 2) * 8, 0, 1)
            mix(img[:, rs, cs], leaf[None], self.stem[:, None, None] * (0.8 + 0.5 * (v > 0))[None])
        # The stem, from the flower's heart to the bottom of the frame.
        cs, rs = _box(fr, x, y, cx, cy + 1.5, 0.6, 1.5)
        sx_, sy_ = x[:, cs], y[rs]
        stem = np.clip((0.028 - np.abs(sx_ - bend(sy_))) / px + 0.5, 0, 1) * (sy_ > cy)
        mix(img[:, rs, cs], stem[None], self.stem[:, None, None])
        # Petals.
        reach = 0.1 + 0.62 * b
        cs, rs = _box(fr, x, y, cx, cy, reach + 0.05, reach + 0.05)
        dx, dy = x[:, cs] - cx, y[rs] - cy
        r = np.sqrt(dx * dx + dy * dy)
        theta = np.arctan2(dy, dx)
        patch = img[:, rs, cs]
        n = self.count
        for ring, (length, shade) in enumerate(((1.0, 0.82), (0.68, 1.0))):
            rot = self.turn + ring * math.pi / n + 0.35 * b
            frac = ((theta - rot) * (n / TAU)) % 1.0 - 0.5  # -0.5..0.5 within a petal
            width = 1.0 - (2 * frac) ** 2
            edge = reach * length * np.sqrt(np.clip(width, 0, 1)) ** (0.6 + 0.6 * (1 - b))
            mask = np.clip((edge - r) / px + 0.5, 0, 1)
            along = np.clip(r / (reach * length + 1e-3), 0, 1)
            tone = (0.45 + 0.65 * along) * (1 - 0.35 * smoothstep(0.3, 0.5, np.abs(frac)))
            tone *= shade * (1 - 0.12 * np.exp(-((frac / 0.03) ** 2)))
            mix(patch, mask[None], np.minimum(self.petal[:, None, None] * tone[None], 1.0))
        heart_r = 0.05 + 0.05 * b
        heart = np.clip((heart_r - r) / px + 0.5, 0, 1)
        seeds = 0.75 + 0.25 * np.cos(r * 140.0) * np.cos(theta * 21.0)
        mix(patch, heart[None], self.heart[:, None, None] * seeds[None])


def _ramp(stops: list[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    x = np.linspace(0, 1, 256)
    pos = [p for p, _ in stops]
    return np.stack(
        [np.interp(x, pos, [c[i] for _, c in stops]) for i in range(3)]
    ).astype(F32)


class Fire:
    """Flames licking upwards from the bottom centre: noise scrolling up through a tapering
    flame shape, mapped through a black-body colour ramp, with a flickering warm glow."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.tex = env.noise(2)
        self.lut = _ramp([(0.0, (0, 0, 0)), (0.25, (0.55, 0.05, 0.0)), (0.5, (0.95, 0.35, 0.02)),
                          (0.75, (1.0, 0.72, 0.2)), (1.0, (1.0, 0.97, 0.8))])  # fmt: skip
        self.cx = 0.0
        self.base = 0.95
        self.height = 1.25

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        x, y = fr.view(0.7)
        flick = 0.9 + 0.1 * math.sin(clock.angle(fr.t, 9.0)) * math.sin(clock.angle(fr.t, 5.3))
        glow = np.exp(-((x - self.cx) ** 2) / 0.9) * np.exp(-((y - self.base + 0.3) ** 2) / 0.7)
        img += (glow * 0.3 * flick)[None] * col(rgb(1.0, 0.45, 0.1))
        cs, rs = _box(fr, x, y, self.cx, self.base - self.height / 2, 0.7, self.height / 2 + 0.1)
        xx, yy = x[:, cs] - self.cx, y[rs]
        n = self.tex.shape[0]
        rise = clock.travel(fr.t, 1.6, 2.0)
        hgt = np.clip((self.base - yy) / self.height, 0, 1)
        wob = sample_tex(self.tex, yy * 1.2 + rise, xx * 1.2, n / 2)
        xw = xx + (wob - 0.5) * 0.35 * hgt
        lick = sample_tex(self.tex, yy * 1.6 + rise, xw * 2.2 + 0.5, n / 2)
        width = 0.34 * (1 - 0.75 * hgt) + 0.02
        shape = np.exp(-((xw / width) ** 2)) * (1 - hgt) ** 0.7
        heat = np.clip(shape * (0.55 + 1.1 * lick) * flick * 1.15 - 0.12 * hgt, 0, 0.999)
        fire = np.take(self.lut, (heat * 255).astype(np.int32), axis=1)
        patch = img[:, rs, cs]
        patch += fire * (1.1 - 0.4 * patch)


class Smoke:
    """Soft smoke (or dust) rising and curling: from the car's wheels, above a fire, or as
    a low drifting fog."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.tex = env.noise(1)
        light = env.light
        if env.word("dust", "dusty", "sand", "desert"):
            tone = rgb(0.75, 0.64, 0.5)
        elif env.has("fire"):
            tone = rgb(0.28, 0.26, 0.26)
        else:
            tone = rgb(0.72, 0.72, 0.74)
        self.colour = np.clip(tone * (0.5 + 0.5 * light.ambient) + light.horizon * 0.15, 0, 1)
        self.soft = 0.2 if env.spec.sharp else 0.45

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        n = self.tex.shape[0]
        rise = clock.travel(fr.t, 0.35, 4.0)
        wind = clock.travel(fr.t, 0.12, 4.0)
        if env.anchor is not None or env.has("fire"):
            if env.anchor is not None:
                ax, ay, s = env.anchor
                x, y = fr.sx[None, :], fr.sy[:, None]
                lean = -0.8
            else:
                x, y = fr.view(0.7)
                ax, ay, s, lean = 0.0, -0.1, 1.0, 0.3
            cs, rs = _box(fr, x, y, ax + lean * 0.5, ay - 0.6, 1.3, 1.0)
            xx, yy = x[:, cs] - ax, y[rs]
            above = np.clip(ay - yy, 0, None)
            width = 0.25 * s + 0.5 * above
            plume = np.exp(-(((xx - lean * above) / width) ** 2)) * np.exp(-above / 1.3)
            plume *= smoothstep(-0.1, 0.05, ay - yy) * 1.6
        else:
            x, y = fr.view(0.6)
            cs, rs = slice(None), slice(None)
            xx, yy = x, y
            plume = smoothstep(-0.4, 0.8, yy) * np.ones_like(xx)
        dens = sample_tex(self.tex, yy * 0.9 + rise, xx * 0.8 + wind, n / 4)
        curl = sample_tex(self.tex, yy * 1.7 + rise * 2, xx * 1.7 - wind, n / 4)
        alpha = np.minimum(smoothstep(0.3, 0.3 + self.soft, 0.65 * dens + 0.35 * curl) * plume, 0.9)
        mix(img[:, rs, cs], alpha[None], self.colour[:, None, None] * (0.85 + 0.3 * curl)[None])


class Metal:
    """Liquid chrome: metaballs that flow together and morph into a turning geometric shape
    and back, shaded with a studio reflection and a sharp highlight."""

    def __init__(self, env: Env) -> None:
        self.env = env
        rng = env.rng
        self.balls = [
            (float(rng.uniform(0.2, 0.55)), float(rng.uniform(0.1, 0.3)),
             float(rng.uniform(0.3, 0.8)) * float(rng.choice([-1, 1])),
             float(rng.uniform(0.3, 0.8)) * float(rng.choice([-1, 1])),
             float(rng.uniform(0, TAU)), float(rng.uniform(0, TAU)),
             float(rng.uniform(0.2, 0.32)))
            for _ in range(5)
        ]  # fmt: skip
        self.shape = str(rng.choice(["box", "ring", "diamond"]))
        tint = env.named(rgb(0.85, 0.88, 0.95))
        tint = np.asarray(tint, F32)
        e = np.linspace(-1, 1, 256)
        sky = np.clip(0.55 + 0.45 * (-e), 0, 1)
        floor = 0.08 + 0.25 * np.clip(e, 0, 1) ** 2
        band = np.where(e < 0.05, sky, floor) + 0.5 * np.exp(-(((e + 0.55) / 0.06) ** 2))
        self.lut = np.clip(band[None, :] * (0.5 + 0.5 * tint[:, None]) + 0.04, 0, 1).astype(F32)
        self.rim = col(np.clip(env.palette[2] * 0.6 + 0.2, 0, 1))

    @staticmethod
    def _surface_box(x: np.ndarray, y: np.ndarray, cs: slice, rs: slice,
                     centres: list[tuple[float, float, float]], morph: float) -> tuple[slice, slice]:
        """The part of the box where the surface can be: the metaballs' field, sampled every
        fourth pixel, above a margin under the surface's threshold (the whole box while the
        blob turns into the geometric shape, which fills it)."""
        if morph > 0.01:
            return cs, rs
        xs, ys = x[:, cs][:, ::4], y[rs][::4]
        field = np.zeros((ys.shape[0], xs.shape[1]), F32)
        for bx, by, r in centres:
            field += (r * r) / ((xs - bx) ** 2 + (ys - by) ** 2 + 1e-3)
        rows, cols = np.nonzero(field > 0.6)
        if rows.size == 0:
            return slice(0, 0), slice(0, 0)
        c0 = cs.start + max(0, cols.min() - 1) * 4
        r0 = rs.start + max(0, rows.min() - 1) * 4
        return (slice(c0, min(cs.stop, cs.start + (cols.max() + 2) * 4)),
                slice(r0, min(rs.stop, rs.start + (rows.max() + 2) * 4)))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        x, y = fr.view(0.7)
        cs, rs = _box(fr, x, y, 0.0, 0.0, 1.25, 0.95)
        centres = [(ax * math.sin(clock.angle(fr.t, sx) + px_), ay * math.cos(clock.angle(fr.t, sy) + py_), r)
                   for ax, ay, sx, sy, px_, py_, r in self.balls]
        m = 0.5 - 0.5 * math.cos(clock.angle(fr.t, 0.55))
        m = m * m * (3 - 2 * m)  # how far the blob has turned into the shape
        cs, rs = self._surface_box(x, y, cs, rs, centres, m)
        xx, yy = x[:, cs], y[rs]
        if xx.shape[1] < 2 or yy.shape[0] < 2:
            return
        field = np.zeros((yy.shape[0], xx.shape[1]), F32)
        for bx, by, r in centres:
            field += (r * r) / ((xx - bx) ** 2 + (yy - by) ** 2 + 1e-3)
        if m > 0.01:
            a = clock.angle(fr.t, 0.35)
            c, s = math.cos(a), math.sin(a)
            u, v = xx * c + yy * s, yy * c - xx * s
            if self.shape == "box":
                sdf = np.maximum(np.abs(u), np.abs(v)) - 0.48
            elif self.shape == "diamond":
                sdf = (np.abs(u) + np.abs(v)) * 0.75 - 0.45
            else:
                sdf = np.abs(np.sqrt(u * u + v * v) - 0.52) - 0.15
            geo = np.exp(-8.0 * sdf)
            field = field * (1 - m) + geo * m
        px = env.pixel
        height = np.sqrt(np.clip(1.0 - 1.0 / np.maximum(field, 1e-3), 0, 1))
        gy, gx = np.gradient(height)
        # Shade only the rows and columns the surface reaches (the mask is 0 elsewhere).
        inside = field > 0.97
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        if rows.size == 0:
            return
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        gy, gx, field, yy = gy[r0:r1, c0:c1], gx[r0:r1, c0:c1], field[r0:r1, c0:c1], yy[r0:r1]
        rs = slice(rs.start + r0, rs.start + r1)
        cs = slice(cs.start + c0, cs.start + c1)
        k = 0.25 / px  # surface slope per pixel -> normal tilt
        nx, ny = -gx * k, -gy * k
        inv = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)
        nx, ny, nz = nx * inv, ny * inv, inv
        e = np.clip(ny * 0.85 + yy * 0.25, -1, 1)
        shade = np.take(self.lut, ((e + 1) * 127.5).astype(np.int32), axis=1)
        spec = np.clip(-0.45 * nx - 0.6 * ny + 0.66 * nz, 0, 1)
        spec8 = (spec * spec) ** 2
        spec8 *= spec8
        spec = spec8 * (spec8 * spec8) ** 2  # spec ** 40 by squaring: far cheaper than pow
        mask = smoothstep(0.97, 1.03, field)
        surface = shade + spec[None] * 1.2 + (1 - nz)[None] ** 2 * self.rim
        mix(img[:, rs, cs], mask[None], np.minimum(surface, 1.0))


class Bokeh:
    """Out-of-focus lights: soft discs drifting slowly (crisp points when told no blur)."""

    def __init__(self, env: Env, garden: bool = False) -> None:
        self.env = env
        rng = env.rng
        sharp = env.spec.sharp and not garden
        alphas = (0.12, 0.3) if garden else (0.25, 0.55)
        if garden:  # sunlit leaves far behind a flower
            colours = [rgb(0.95, 0.95, 0.6), rgb(0.6, 0.85, 0.45), rgb(1.0, 1.0, 0.9)]
        elif env.light.name == "neon":
            colours = [rgb(1.0, 0.2, 0.7), rgb(0.2, 0.8, 1.0), rgb(0.7, 0.3, 1.0)]
        elif env.has("city") or env.light.night:
            colours = [rgb(1.0, 0.75, 0.4), rgb(1.0, 0.9, 0.7), rgb(1.0, 0.35, 0.25),
                       rgb(0.5, 0.7, 1.0)]  # fmt: skip
        else:
            colours = [env.palette[2], env.palette[3], np.clip(env.palette[1] * 1.6, 0, 1)]
        self.discs = []
        for _ in range(int(rng.integers(9, 13) if garden else rng.integers(16, 24))):
            self.discs.append(
                (
                    float(rng.uniform(-1.1, 1.1)) * env.xr,
                    float(rng.uniform(-0.9, 0.9)),
                    float(rng.uniform(0.015, 0.04) if sharp else rng.uniform(0.05, 0.17)),
                    col(colours[int(rng.integers(0, len(colours)))]),
                    float(rng.uniform(*alphas)),
                    float(rng.uniform(0.25, 0.6)) * float(rng.choice([-1, 1])),
                    float(rng.uniform(0, TAU)),
                )
            )
        self.edge = 0.0 if sharp else 0.22

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        x, y = fr.view(0.95)
        px = env.pixel
        for bx, by, r, colour, alpha, speed, phase in self.discs:
            cx = bx + 0.15 * math.sin(clock.angle(fr.t, speed) + phase)
            cy = by + 0.1 * math.cos(clock.angle(fr.t, speed * 0.7) + phase)
            alpha = alpha * (0.75 + 0.25 * math.sin(clock.angle(fr.t, 2 * speed) + 2 * phase))
            cs, rs = _box(fr, x, y, cx, cy, r + 2 * px, r + 2 * px)
            if cs.start >= cs.stop or rs.start >= rs.stop:
                continue
            d = np.sqrt((x[:, cs] - cx) ** 2 + (y[rs] - cy) ** 2)
            soft = max(self.edge * r, px)
            disc = smoothstep(r, r - soft, d) * (0.8 + 0.25 * (d / r) ** 4)
            img[:, rs, cs] += (disc * alpha)[None] * colour


class Falling:
    """Rain streaks, snowflakes or floating particles: two parallax layers of a tileable
    texture scrolled with the clock (whole wraps when looping)."""

    def __init__(self, env: Env, kind: str) -> None:
        self.env = env
        rng = env.rng
        self.kind = kind
        n = 256
        if kind == "rain":
            self.layers = [
                (dot_texture(rng, n, 150, (0.35, 0.5), 14.0), 150.0, -4.0, 0.3, 0.55),
                (dot_texture(rng, n, 80, (0.45, 0.7), 16.0), 80.0, -7.0, 0.5, 0.9),
            ]
            self.colour = col(np.clip(env.light.horizon * 0.4 + 0.55, 0, 1))
        elif kind == "snow":
            self.layers = [
                (dot_texture(rng, n, 160, (0.6, 1.0)), 120.0, -0.2, 0.75, 0.5),
                (dot_texture(rng, n, 70, (1.0, 1.8)), 60.0, -0.38, 0.95, 0.9),
            ]
            self.colour = col(np.clip(rgb(0.97, 0.98, 1.0) * (0.6 + 0.4 * env.light.ambient), 0, 1))
        else:
            self.layers = [
                (dot_texture(rng, n, 110, (0.6, 1.2)), 110.0, 0.12, 0.9, 0.5),
                (dot_texture(rng, n, 45, (1.0, 1.8)), 60.0, 0.2, 1.2, 0.9),
            ]
            if env.has("fire") or env.word("ember", "spark"):
                tone = rgb(1.0, 0.55, 0.15)  # embers: faster
                self.layers = [(t, s, v * 3, a, d) for t, s, v, a, d in self.layers]
            elif env.spec.hues:
                tone = env.named(env.palette[3])
            else:
                tone = np.clip(env.light.sun * 0.7 + env.palette[2] * 0.5, 0, 1)
            self.colour = col(tone)
        self.phase = float(rng.uniform(0, TAU))

    def draw(self, img: np.ndarray, fr: Frame) -> None:
        env = self.env
        clock = env.clock
        if self.kind == "rain":
            img *= 0.9
        for i, (tex, scale, speed, alpha, depth) in enumerate(self.layers):
            x, y = fr.view(depth)
            n = tex.shape[0]
            wrap = n / scale
            fall = clock.travel(fr.t, speed, wrap)
            sway = 0.0
            if self.kind != "rain":
                sway = 0.04 * math.sin(clock.angle(fr.t, 0.6 + 0.2 * i) + self.phase)
            dots = sample_tex(tex, y + fall, x + sway + 0.37 * i, scale)
            if self.kind == "particles":
                tw = 0.7 + 0.3 * math.sin(clock.angle(fr.t, 1.5 + i) + self.phase)
                img += (dots * (alpha * tw))[None] * self.colour
            elif self.kind == "snow":
                mix(img, (dots * alpha)[None], self.colour)
            else:
                img += (dots * alpha * 0.6)[None] * self.colour
