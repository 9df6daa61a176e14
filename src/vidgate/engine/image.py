"""image_to_video: a still picture, cover-cropped to the frame, under a slow Ken Burns move,
with the motion effects the prompt asks for (image_motion.py)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import av
import numpy as np
from PIL import ExifTags, Image, ImageOps

from vidgate.engine import prompt as prompt_words
from vidgate.engine.errors import SourceMediaError
from vidgate.engine.framing import cover_box
from vidgate.engine.image_motion import MotionEffects, choose_motion
from vidgate.engine.prompt import make_rng
from vidgate.engine.request import RenderRequest
from vidgate.engine.yuv import rgb_to_yuv420, yuv420_frame

MAX_ZOOM = 1.15
# EXIF orientations that turn the picture a quarter, so its stored width becomes its height.
QUARTER_TURNS = (5, 6, 7, 8)
ANALYSIS_LONG_SIDE = 480  # depth and sky are estimated on the picture scaled to this size
# Where a named pan or tilt moves the view: (x, y) direction of the crop box.
_SWEEPS = {"pan_left": (-1.0, 0.0), "pan_right": (1.0, 0.0), "tilt_up": (0.0, -1.0),
           "tilt_down": (0.0, 1.0)}  # fmt: skip


def load_image(path: Path, *, cover: tuple[int, int], max_pixels: int) -> Image.Image:
    """Decode any format Pillow reads (first frame of animations) into RGB.

    A JPEG larger than needed to cover a `cover`-sized frame is decoded reduced (DCT scaling,
    up to 8x each side), never below that. An image that would decode to more than
    `max_pixels` pixels is refused before it is decoded. EXIF orientation is applied;
    transparency is flattened onto black.
    """
    if not path.is_file():
        raise SourceMediaError(f"source_image not found: {path}")
    try:
        with warnings.catch_warnings():  # Pillow warns of sizes our own limit refuses below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(path)
        with opened:
            stored = opened.size
            if opened.format == "JPEG":
                opened.draft("RGB", _cover_size(opened, cover))
            if opened.width * opened.height > max_pixels:
                raise SourceMediaError(_too_many_pixels("is {}x{} pixels".format(*stored), max_pixels))
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)  # no copy: sources can be large
            image: Image.Image = opened
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
            return image if image.mode == "RGB" else image.convert("RGB")
    except SourceMediaError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, far above ours
        raise SourceMediaError(_too_many_pixels("has too many pixels", max_pixels)) from exc
    # Decoders of malformed files raise many types (OSError, ValueError, SyntaxError, ...).
    except Exception as exc:
        raise SourceMediaError("source_image could not be decoded as an image") from exc


def _cover_size(image: Image.Image, cover: tuple[int, int]) -> tuple[int, int]:
    """The size `image`, as stored, must keep to cover `cover` once its EXIF rotation is
    applied."""
    width, height = cover
    if image.getexif().get(ExifTags.Base.Orientation, 1) in QUARTER_TURNS:
        width, height = height, width
    scale = max(width / image.width, height / image.height)
    return math.ceil(image.width * scale), math.ceil(image.height * scale)


def _too_many_pixels(what: str, max_pixels: int) -> str:
    return (
        f"source_image {what}, more than this server decodes: at most {max_pixels / 1e6:g} million "
        "pixels (a JPEG counts at the size it is decoded to, up to 8 times smaller each side)"
    )


class KenBurns:
    """Frames of a slow zoom and pan across an image.

    The image is first framed to the output aspect ratio by cover-crop (scaled to fill the
    frame, centred, overflowing edges cut; see ``cover_box``) at ``MAX_ZOOM`` times the
    output size, so the closest zoom still samples it 1:1. Each frame then resamples a
    sub-pixel box of it, which keeps the motion smooth. Without ``loop`` the zoom goes one
    way across the clip: in or out as the prompt says ("zoom in", "pull back"), else by seed;
    with ``loop`` it zooms in and back out and the pan traces a closed curve, so the last
    frame meets the first. A pan or tilt the prompt names sweeps the view that way instead,
    held at the closest zoom (where there is room to move).
    """

    def __init__(self, image: Image.Image, request: RenderRequest) -> None:
        self.width, self.height = request.width, request.height
        self.period, self.loop = request.period, request.loop
        work_size = (round(self.width * MAX_ZOOM), round(self.height * MAX_ZOOM))
        box = cover_box(image.width, image.height, self.width, self.height)
        work = image.resize(work_size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
        self._y, self._u, self._v = rgb_to_yuv420(work)
        rng = make_rng(request.seed, request.prompt)
        seeded_zoom_in = bool(rng.integers(0, 2))
        move = prompt_words.camera_move(request.prompt)
        self._zoom_in = {"zoom_in": True, "close_up": True, "zoom_out": False}.get(move, seeded_zoom_in)
        self._sweep = _SWEEPS.get(move or "")
        self._pan = rng.uniform(-1, 1, size=2)  # where the pan heads, as a fraction of the slack
        self._pan /= max(1e-9, float(np.abs(self._pan).max()))
        self._pan_phase = float(rng.uniform(0, 2 * math.pi))
        motion = choose_motion(request.prompt, request.negative_prompt)
        scale = min(1.0, ANALYSIS_LONG_SIDE / max(work.size))
        analysis = (max(1, round(work.width * scale)), max(1, round(work.height * scale)))
        picture = np.asarray(work.resize(analysis, Image.Resampling.BOX))
        self._effects = (
            MotionEffects(motion, self.width, self.height, self.period, self.loop, rng, picture)
            if motion.any
            else None
        )

    def _move(self, t: float) -> tuple[float, float, float]:
        """(zoom amount 0..1, pan x, pan y in -1..1) at time t."""
        u = t / self.period
        if self._sweep is not None:
            dx, dy = self._sweep
            travel = -math.cos(2 * math.pi * u) if self.loop else math.sin(math.pi * (u - 0.5))
            return 1.0, dx * travel, dy * travel
        if self.loop:
            angle = 2 * math.pi * u
            amount = 0.5 - 0.5 * math.cos(angle)
            return (
                amount,
                self._pan[0] * math.sin(angle + self._pan_phase),
                self._pan[1] * math.sin(angle),
            )
        eased = 0.5 - 0.5 * math.cos(math.pi * u)
        amount = eased if self._zoom_in else 1 - eased
        return amount, self._pan[0] * (2 * eased - 1), self._pan[1] * (2 * eased - 1)

    def frame(self, t: float) -> av.VideoFrame:
        amount, pan_x, pan_y = self._move(t)
        zoom = 1 + (MAX_ZOOM - 1) * amount
        work_w, work_h = self._y.size
        box_w, box_h = work_w / zoom, work_h / zoom
        left = (work_w - box_w) / 2 * (1 + pan_x)
        top = (work_h - box_h) / 2 * (1 + pan_y)
        box = (left, top, left + box_w, top + box_h)
        half_box = (left / 2, top / 2, (left + box_w) / 2, (top + box_h) / 2)
        half = (self.width // 2, self.height // 2)
        bilinear = Image.Resampling.BILINEAR
        y = self._y.resize((self.width, self.height), bilinear, box=box)
        u = self._u.resize(half, bilinear, box=half_box)
        v = self._v.resize(half, bilinear, box=half_box)
        if self._effects is not None:
            planes = [np.array(plane) for plane in (y, u, v)]
            fraction = (left / work_w, top / work_h, (left + box_w) / work_w, (top + box_h) / work_h)
            self._effects.apply(*planes, t, fraction)
            y, u, v = (Image.fromarray(plane, "L") for plane in planes)
        return yuv420_frame(y, u, v)

    def close(self) -> None:
        pass


def open_image_source(request: RenderRequest) -> KenBurns:
    assert request.source_image is not None
    cover = (round(request.width * MAX_ZOOM), round(request.height * MAX_ZOOM))
    image = load_image(request.source_image, cover=cover, max_pixels=request.source_limits.max_pixels)
    return KenBurns(image, request)
