"""What video_to_video does to its source, read from the prompt: colour grade, stylisation,
film grain, speed and direction.

    "black and white"            mono grade          "cartoon", "anime"       posterised, inked edges
    "vintage", "film", "retro"   faded grade + grain "sketch", "pencil"       pencil lines on paper
    "warm", "cool", "cinematic"  their grades        "painterly", "painting"  brush strokes (Kuwahara)
    "slow motion"                half speed          "speed up", "timelapse"  double speed
    "reverse", "backwards"       played backwards

A negative prompt that names one of these leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from vidgate.engine import prompt as prompt_words
from vidgate.engine.filters import box_mean
from vidgate.engine.grade import GRADES, Grade, choose_grade

SLOW_MOTION = 0.5
SPEED_UP = 2.0


@dataclass(frozen=True)
class Look:
    grade: Grade
    style: str | None  # "cartoon", "sketch", "painterly" or None
    grain: float  # strength of film grain, 0 for none
    speed: float  # source seconds per output second
    reverse: bool


STYLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cartoon", ("cartoon", "anime", "comic", "cel shaded", "toon")),
    ("sketch", ("sketch", "pencil", "drawing", "line art", "edges")),
    ("painterly", ("painterly", "painting", "oil paint", "watercolor", "watercolour")),
)
SPEED_WORDS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (SLOW_MOTION, ("slow motion", "slowmo", "slow mo", "slowed down")),
    (SPEED_UP, ("speed up", "sped up", "fast forward", "timelapse", "time lapse")),
)


def choose_look(prompt: str, rng: np.random.Generator, negative_prompt: str | None = None) -> Look:
    """What the prompt asks for, leaving out whatever the negative prompt names."""

    def asked(*phrases: str) -> bool:
        return prompt_words.has_any(prompt, *phrases) and not prompt_words.has_any(
            negative_prompt or "", *phrases
        )

    grade = choose_grade(prompt, rng, negative_prompt)
    style = next((name for name, phrases in STYLE_WORDS if asked(*phrases)), None)
    if style == "sketch":
        grade = GRADES["mono"]
    speed = next((value for value, phrases in SPEED_WORDS if asked(*phrases)), 1.0)
    return Look(
        grade=grade,
        style=style,
        grain=0.08 if asked("vintage", "film grain", "old film", "retro", "grain") else 0.0,
        speed=speed,
        reverse=asked("reverse", "reversed", "backwards", "rewind"),
    )


def stylise(image: Image.Image, style: str | None) -> Image.Image:
    """Apply a stylisation to an RGB image (Pillow filters, all in C)."""
    if style == "cartoon":
        flat = ImageOps.posterize(image.filter(ImageFilter.SMOOTH_MORE), 3)
        edges = image.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 0 if v > 40 else 255)
        return ImageChops.multiply(flat, Image.merge("RGB", (edges, edges, edges)))
    if style == "sketch":
        grey = image.convert("L")
        lines = ImageOps.invert(grey.filter(ImageFilter.FIND_EDGES)).point(lambda v: min(255, v + 20))
        paper = ImageChops.multiply(lines, grey.point(lambda v: 200 + v // 5))
        return Image.merge("RGB", (paper, paper, paper))
    if style == "painterly":
        return _painterly(image)
    return image


PAINT_RADIUS = 3
PAINT_LONG_SIDE = 960  # larger pictures are painted at this size and scaled back


def _painterly(image: Image.Image) -> Image.Image:
    """Brush strokes: a Kuwahara filter (each pixel takes the mean colour of the calmest of
    the four windows touching it), which flattens texture and keeps edges."""
    scale = min(1.0, PAINT_LONG_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BOX,
    )
    painted = Image.fromarray(kuwahara(np.asarray(small), PAINT_RADIUS))
    if painted.size != image.size:
        painted = painted.resize(image.size, Image.Resampling.BICUBIC)
    return painted.filter(ImageFilter.SMOOTH)


def kuwahara(rgb: np.ndarray, radius: int) -> np.ndarray:
    """The Kuwahara filter of an (h, w, 3) uint8 picture, windows of (radius + 1) squared."""
    h, w = rgb.shape[:2]
    pad = ((radius, radius), (radius, radius), (0, 0))
    padded = np.pad(rgb.astype(np.float32), pad, mode="edge")
    luma = padded @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    means = box_mean(padded, radius + 1)
    variance = box_mean(luma * luma, radius + 1) - box_mean(luma, radius + 1) ** 2
    best = variance[:h, :w].copy()
    out = means[:h, :w].copy()
    for dy, dx in ((0, radius), (radius, 0), (radius, radius)):
        candidate = variance[dy : dy + h, dx : dx + w]
        calmer = candidate < best
        best[calmer] = candidate[calmer]
        out[calmer] = means[dy : dy + h, dx : dx + w][calmer]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class Grain:
    """Film grain: monochrome noise on every channel. A few patterns are made once and cycled,
    so each frame gets a different one without drawing new noise per frame."""

    PATTERNS = 8

    def __init__(self, amount: float, rng: np.random.Generator) -> None:
        self.amount = amount
        self._rng = rng
        self._patterns: list[np.ndarray] = []

    def apply(self, image: Image.Image, frame_index: int) -> Image.Image:
        pixels = np.asarray(image, dtype=np.int16)
        if not self._patterns or self._patterns[0].shape != pixels.shape[:2]:
            sigma = self.amount * 255
            self._patterns = [
                self._rng.normal(0, sigma, size=pixels.shape[:2]).astype(np.int16)
                for _ in range(self.PATTERNS)
            ]
        noise = self._patterns[frame_index % self.PATTERNS][..., None]
        return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
