"""The few things the engine reads from a prompt: colour words, tempo words, mood words.

Everything here is deterministic (no ``hash()``, which Python randomises per process).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

# Hue in degrees for words that name or strongly suggest a colour.
HUES: dict[str, float] = {
    "red": 0, "crimson": 350, "fire": 12, "sunset": 22, "orange": 28, "autumn": 30,
    "gold": 45, "golden": 45, "sun": 48, "yellow": 55, "lime": 90, "green": 120,
    "forest": 130, "jungle": 125, "emerald": 145, "teal": 175, "cyan": 185, "water": 195,
    "ocean": 200, "sea": 200, "sky": 205, "blue": 220, "night": 235, "purple": 275,
    "violet": 270, "magenta": 305, "pink": 330, "rose": 340,
}  # fmt: skip
_SLOW = {"slow", "calm", "gentle", "peaceful", "serene", "quiet", "drifting", "dreamy"}
_FAST = {"fast", "energetic", "rapid", "wild", "dynamic", "explosive", "chaotic", "racing"}
_DARK = {"night", "dark", "midnight", "moody", "noir", "shadow", "space"}
_PASTEL = {"pastel", "soft", "pale", "faded", "misty", "foggy"}
_VIVID = {"neon", "vivid", "vibrant", "bright", "saturated", "electric"}


def words(text: str | None) -> list[str]:
    return re.findall(r"[a-z]+", (text or "").lower())


def prompt_key(prompt: str) -> int:
    """A stable 64-bit number for the prompt's words (case and punctuation ignored)."""
    digest = hashlib.blake2b(" ".join(words(prompt)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def make_rng(seed: int, prompt: str) -> np.random.Generator:
    """The render's only source of randomness: the seed and the prompt, nothing else."""
    return np.random.default_rng([seed, prompt_key(prompt)])


def hues(prompt: str, negative_prompt: str | None = None, limit: int = 3) -> list[float]:
    """Hues of colour words in the prompt, in order, minus those the negative prompt names."""
    banned = set(words(negative_prompt))
    found: list[float] = []
    for word in words(prompt):
        hue = HUES.get(word)
        if hue is not None and word not in banned and hue not in found:
            found.append(hue)
    return found[:limit]


def tempo(prompt: str) -> float:
    """Motion speed multiplier: below 1 for calm prompts, above 1 for energetic ones."""
    ws = set(words(prompt))
    return (0.6 if ws & _SLOW else 1.0) * (1.7 if ws & _FAST else 1.0)


def tone(prompt: str) -> tuple[float, float]:
    """(saturation, brightness) multipliers from mood words."""
    ws = set(words(prompt))
    saturation = (0.55 if ws & _PASTEL else 1.0) * (1.25 if ws & _VIVID else 1.0)
    brightness = 0.6 if ws & _DARK else 1.0
    return saturation, brightness


def has_any(prompt: str, *phrases: str) -> bool:
    """Whether the prompt contains any of the phrases as whole words."""
    text = " " + " ".join(words(prompt)) + " "
    return any(f" {phrase} " in text for phrase in phrases)
