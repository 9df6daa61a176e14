"""Colour grades for video_to_video: channel mix, per-channel tone curves and a vignette.

All the per-pixel work runs inside Pillow (matrix convert, LUT, multiply), in C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

from vidgate.engine import prompt as prompt_words

_LUMA = (0.2126, 0.7152, 0.0722)


@dataclass(frozen=True)
class Grade:
    name: str
    saturation: float  # 1 keeps colour, 0 is monochrome
    contrast: float  # slope of the S-curve around mid-grey
    lift: tuple[float, float, float]  # per-channel shadow offset, 0..1
    gain: tuple[float, float, float]  # per-channel highlight multiplier
    vignette: float  # corner darkening, 0..1


GRADES = {
    # shadows pushed to teal, highlights to orange
    "teal_orange": Grade("teal_orange", 1.1, 1.25, (0.0, 0.05, 0.08), (1.1, 0.98, 0.85), 0.35),
    # faded, washed-out colour with lifted, brownish blacks
    "warm_vintage": Grade("warm_vintage", 0.6, 0.85, (0.12, 0.08, 0.04), (1.03, 0.96, 0.82), 0.4),
    # full colour, shifted towards red and yellow
    "warm": Grade("warm", 1.08, 1.1, (0.03, 0.015, 0.0), (1.08, 1.0, 0.84), 0.25),
    "cool_night": Grade("cool_night", 0.8, 1.3, (0.0, 0.02, 0.09), (0.85, 0.95, 1.12), 0.45),
    "mono": Grade("mono", 0.0, 1.35, (0.02, 0.02, 0.02), (1.0, 1.0, 1.0), 0.4),
}
# The words that ask for each grade, in the order they are looked for.
GRADE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mono", ("black and white", "monochrome", "noir", "grayscale", "greyscale")),
    ("warm_vintage", ("vintage", "retro", "film", "nostalgic", "old film", "faded")),
    ("warm", ("warm", "warmer", "golden", "sunny", "summer")),
    ("cool_night", ("night", "cold", "cool", "cooler", "winter", "blue")),
    ("teal_orange", ("cinematic", "teal", "orange", "blockbuster")),
)
# The grades a prompt that names none may get, chosen by the seed.
SEEDED_GRADES = ("teal_orange", "warm", "cool_night")


def choose_grade(prompt: str, rng: np.random.Generator, negative_prompt: str | None = None) -> Grade:
    """The first grade the prompt names and the negative prompt does not, else one picked by
    the seed among those the negative prompt leaves."""
    refused = {name for name, phrases in GRADE_WORDS if prompt_words.has_any(negative_prompt or "", *phrases)}
    for name, phrases in GRADE_WORDS:
        if name not in refused and prompt_words.has_any(prompt, *phrases):
            return GRADES[name]
    choices = [name for name in SEEDED_GRADES if name not in refused] or ["warm"]
    return GRADES[str(rng.choice(choices))]


def _saturation_matrix(amount: float) -> tuple[float, ...]:
    rows: list[float] = []
    for channel in range(3):
        for source in range(3):
            rows.append((1 - amount) * _LUMA[source] + (amount if source == channel else 0.0))
        rows.append(0.0)
    return tuple(rows)


def _curves(grade: Grade) -> list[int]:
    x = np.linspace(0, 1, 256)
    s_curve = np.clip(0.5 + (x - 0.5) * grade.contrast, 0, 1)
    s_curve = 0.7 * s_curve + 0.3 * (3 * s_curve**2 - 2 * s_curve**3)  # soften the clip
    lut: list[int] = []
    for lift, gain in zip(grade.lift, grade.gain, strict=True):
        channel = lift + (1 - lift) * s_curve * gain
        lut.extend(np.clip(np.round(channel * 255), 0, 255).astype(int).tolist())
    return lut


class Grader:
    """Applies one grade to RGB images of one size."""

    def __init__(self, grade: Grade, width: int, height: int) -> None:
        self.grade = grade
        self.size = (width, height)
        self._matrix = _saturation_matrix(grade.saturation)
        self._lut = _curves(grade)
        y, x = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
        falloff = 1 - grade.vignette * np.clip((x * x + y * y) / 2, 0, 1) ** 1.5
        mask = Image.fromarray(np.round(falloff * 255).astype(np.uint8), "L")
        self._vignette = Image.merge("RGB", (mask, mask, mask))

    def apply(self, image: Image.Image) -> Image.Image:
        image = image.convert("RGB", self._matrix).point(self._lut)
        return ImageChops.multiply(image, self._vignette)
