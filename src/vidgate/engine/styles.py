"""What video_to_video does to its source, read from the prompt: colour grade, stylisation,
film grain, speed and direction.

    "black and white"            mono grade          "cartoon", "anime"       posterised, inked edges
    "vintage", "film", "retro"   warm grade + grain  "sketch", "pencil"       pencil lines on paper
    "warm", "cool", "cinematic"  their grades        "painterly", "painting"  brush-smoothed colour
    "slow motion"                half speed          "speed up", "timelapse"  double speed
    "reverse", "backwards"       played backwards
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from vidgate.engine import prompt as prompt_words
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


def choose_look(prompt: str, rng: np.random.Generator) -> Look:
    grade = choose_grade(prompt, rng)
    style = _style(prompt)
    if style == "sketch":
        grade = GRADES["mono"]
    vintage = prompt_words.has_any(prompt, "vintage", "film grain", "old film", "retro", "grain")
    return Look(
        grade=grade,
        style=style,
        grain=0.08 if vintage else 0.0,
        speed=_speed(prompt),
        reverse=prompt_words.has_any(prompt, "reverse", "reversed", "backwards", "rewind"),
    )


def _style(prompt: str) -> str | None:
    if prompt_words.has_any(prompt, "cartoon", "anime", "comic", "cel shaded", "toon"):
        return "cartoon"
    if prompt_words.has_any(prompt, "sketch", "pencil", "drawing", "line art", "edges"):
        return "sketch"
    if prompt_words.has_any(prompt, "painterly", "painting", "oil paint", "watercolor", "watercolour"):
        return "painterly"
    return None


def _speed(prompt: str) -> float:
    if prompt_words.has_any(prompt, "slow motion", "slow-motion", "slowmo", "slowed down"):
        return SLOW_MOTION
    if prompt_words.has_any(prompt, "speed up", "sped up", "fast forward", "timelapse", "time lapse"):
        return SPEED_UP
    return 1.0


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
        return image.filter(ImageFilter.ModeFilter(5)).filter(ImageFilter.SMOOTH_MORE)
    return image


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
