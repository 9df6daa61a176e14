"""The few things the engine reads from a prompt: colour words, tempo words, mood words.

Everything here is deterministic (no ``hash()``, which Python randomises per process).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

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


# --- the scene a prompt describes ---------------------------------------------------------

# Subjects in compositing order, back to front.
SUBJECTS: tuple[str, ...] = (
    "sky", "stars", "galaxy", "aurora", "sun", "clouds", "rainbow", "mountains", "trees", "city",
    "ocean", "field", "beach", "rocks", "road", "car", "flower", "fire", "smoke", "metal", "bokeh", "rain", "snow",
    "particles",
)  # fmt: skip

# Words and phrases (after plural stripping) -> the subject they name, then any others they
# bring along ("beach" brings the ocean). A negative prompt removes only the named one.
_SUBJECT_WORDS: dict[str, tuple[str, ...]] = {
    "sky": ("sky",), "skies": ("sky",), "heaven": ("sky",), "horizon": ("sky",),
    "cloud": ("clouds",), "cloudy": ("clouds",), "overcast": ("clouds",),
    "cloudscape": ("clouds",),
    "ocean": ("ocean",), "sea": ("ocean",), "wave": ("ocean",), "surf": ("ocean",),
    "seascape": ("ocean",), "tide": ("ocean",), "lake": ("ocean",), "water": ("ocean",),
    "beach": ("beach", "ocean"), "shore": ("beach", "ocean"), "coast": ("beach", "ocean"),
    "coastline": ("beach", "ocean"), "sand": ("beach",), "seaside": ("beach", "ocean"),
    "island": ("beach", "ocean"), "lagoon": ("beach", "ocean"),
    "rock": ("rocks",), "cliff": ("rocks",), "reef": ("rocks",),
    "flower": ("flower",), "blossom": ("flower",), "bloom": ("flower",),
    "blooming": ("flower",), "petal": ("flower",), "tulip": ("flower",), "daisy": ("flower",),
    "lotus": ("flower",), "sunflower": ("flower",),
    "fire": ("fire",), "flame": ("fire",), "campfire": ("fire",), "bonfire": ("fire",),
    "blaze": ("fire",), "burning": ("fire",), "inferno": ("fire",),
    "ember": ("particles", "fire"), "spark": ("particles",),
    "rain": ("rain",), "raining": ("rain",), "rainy": ("rain",), "drizzle": ("rain",),
    "downpour": ("rain",), "raindrop": ("rain",), "storm": ("rain", "clouds"),
    "thunderstorm": ("rain", "clouds"), "rainstorm": ("rain", "clouds"),
    "snow": ("snow",), "snowfall": ("snow",), "snowing": ("snow",), "snowflake": ("snow",),
    "blizzard": ("snow",), "snowy": ("snow",),
    "star": ("stars",), "starry": ("stars",), "starfield": ("stars",),
    "constellation": ("stars",), "night sky": ("stars",),
    "galaxy": ("galaxy", "stars"), "nebula": ("galaxy", "stars"), "cosmos": ("galaxy", "stars"),
    "milky way": ("galaxy", "stars"), "universe": ("galaxy", "stars"),
    "outer space": ("galaxy", "stars"), "space": ("stars",),
    "aurora": ("aurora", "stars"), "borealis": ("aurora", "stars"),
    "northern light": ("aurora", "stars"),
    "city light": ("city", "bokeh"), "city": ("city",), "skyline": ("city",),
    "urban": ("city",), "downtown": ("city",), "metropolis": ("city",),
    "skyscraper": ("city",), "bokeh": ("bokeh",),
    "particle": ("particles",), "sparkle": ("particles",), "glitter": ("particles",),
    "firefly": ("particles",), "confetti": ("particles",), "dust": ("smoke",),
    "liquid metal": ("metal",), "metal": ("metal",), "chrome": ("metal",),
    "mercury": ("metal",), "metallic": ("metal",), "morphing": ("metal",),
    "geometric": ("metal",), "metaball": ("metal",), "liquid": ("metal",),
    "smoke": ("smoke",), "smoky": ("smoke",), "fog": ("smoke",), "mist": ("smoke",),
    "steam": ("smoke",), "vapor": ("smoke",), "vapour": ("smoke",),
    "sunset": ("sun",), "sunrise": ("sun",), "sun": ("sun",), "dawn": ("sun",),
    "dusk": ("sun",), "sundown": ("sun",),
    "mountain": ("mountains",), "peak": ("mountains",), "hill": ("mountains",),
    "alp": ("mountains",), "ridge": ("mountains",), "valley": ("mountains",),
    "summit": ("mountains",),
    "forest": ("trees",), "tree": ("trees",), "wood": ("trees",), "woodland": ("trees",),
    "jungle": ("trees",), "rainforest": ("trees",), "pine": ("trees",), "grove": ("trees",),
    "orchard": ("trees", "field"), "park": ("trees", "field"), "countryside": ("field", "trees"),
    "field": ("field",), "meadow": ("field",), "grass": ("field",), "grassland": ("field",),
    "prairie": ("field",), "pasture": ("field",), "farmland": ("field",), "savanna": ("field",),
    "lawn": ("field",), "wheat": ("field",),
    "rainbow": ("rainbow",),
    "road": ("road",), "highway": ("road",), "street": ("road",), "car": ("car", "road"),
    "sports car": ("car", "road"), "driving": ("car", "road"), "racing": ("car", "road"),
    "race track": ("road",), "vehicle": ("car", "road"), "drift": ("car", "road"),
}  # fmt: skip

# Light: first match in this order wins.
_LIGHT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("neon", ("neon", "cyberpunk", "synthwave", "vaporwave", "neon light")),
    ("night", ("night", "midnight", "moonlit", "moonlight", "nighttime", "moon")),
    ("golden_hour", ("golden hour", "golden", "magic hour", "sunset", "sunrise", "dawn",
                     "dusk", "warm light", "sundown")),
    ("dramatic", ("dramatic", "epic", "stormy", "storm", "thunderstorm", "moody")),
    ("pastel", ("pastel", "dreamy", "soft light", "pale")),
    ("dark", ("dark background", "black background", "dark", "noir", "shadowy")),
    ("overcast", ("overcast", "rain", "rainy", "grey", "gray", "gloomy")),
    ("day", ("day", "daylight", "sunny", "bright", "noon", "midday", "tropical", "clear sky")),
)  # fmt: skip

_CAMERA_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("flyover", ("drone", "flyover", "fly over", "flying over", "fly through", "aerial",
                 "bird eye", "birds eye", "fpv", "flythrough")),
    ("tracking", ("tracking", "tracking shot", "follow", "following", "chase", "trailing")),
    ("orbit", ("orbit", "orbiting", "circling", "arc shot", "rotating around", "turntable")),
    ("close_up", ("close up", "closeup", "macro", "extreme close", "detail shot")),
    ("zoom_out", ("zoom out", "zooming out", "dolly out", "pull back", "pull out",
                  "pulling back")),
    ("zoom_in", ("zoom in", "zooming in", "dolly in", "push in", "zoom", "dolly",
                 "pushing in")),
    ("pan_left", ("pan left", "panning left")),
    ("pan_right", ("pan right", "panning right", "pan", "panning", "panoramic")),
    ("tilt_down", ("tilt down", "tilting down")),
    ("tilt_up", ("tilt up", "tilting up", "tilt", "crane up")),
    ("static", ("static", "still shot", "locked off", "tripod", "static shot")),
)  # fmt: skip

_TIMELAPSE = ("timelapse", "time lapse", "hyperlapse", "fast forward", "sped up")
_SLOWMO = ("slow motion", "slowmo", "slow mo", "slowed down", "super slow")
_NO_MOTION = ("static", "still", "frozen", "motionless", "no motion", "still image")
_NO_BLUR = ("blurry", "blur", "blurred", "out of focus", "soft focus", "bokeh blur")

# Subjects that set the light when the prompt names none.
_DEFAULT_LIGHT = (
    ("metal", "dark"), ("galaxy", "night"), ("aurora", "night"), ("stars", "night"),
    ("city", "night"), ("sun", "golden_hour"), ("rain", "overcast"), ("fire", "dark"),
)  # fmt: skip


@dataclass(frozen=True)
class SceneSpec:
    """What the prompt asks for: subjects (back to front), light, camera move, time scale."""

    subjects: tuple[str, ...]
    light: str
    camera: str
    tempo: float
    hues: tuple[float, ...] = ()
    saturation: float = 1.0
    brightness: float = 1.0
    sharp: bool = False
    tropical: bool = False
    excluded: tuple[str, ...] = ()  # subjects the negative prompt names: never added implicitly
    words: tuple[str, ...] = field(default=(), compare=False)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str | None) -> list[str]:
    """Lower-case words, plurals stripped ("waves" -> "wave", "skies" -> "sky")."""
    return [_singular(w) for w in words(text)]


def _padded(text: str | None) -> str:
    return " " + " ".join(terms(text)) + " "


def _has(padded: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {_padded(p).strip()} " in padded for p in phrases)


def _subjects(padded: str, *, named_only: bool = False) -> set[str]:
    found: set[str] = set()
    for phrase, subjects in _SUBJECT_WORDS.items():
        if f" {phrase} " in padded:
            found.update(subjects[:1] if named_only else subjects)
    return found


def _first(padded: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    for name, phrases in table:
        if _has(padded, phrases):
            return name
    return None


def parse(prompt: str, negative_prompt: str | None = None) -> SceneSpec:
    """The scene a prompt describes, minus what the negative prompt names."""
    text, negative = _padded(prompt), _padded(negative_prompt)
    excluded = _subjects(negative, named_only=True)
    subjects = _subjects(text) - excluded
    # The tropical word alone is a beach; a car implies its road (one subject).
    if " tropical " in text and not subjects & {"beach", "ocean"} and "beach" not in negative:
        subjects |= {"beach", "ocean"}
    if "beach" in subjects and "ocean" not in excluded:
        subjects.add("ocean")
    light = _first(text, _LIGHT_WORDS)
    if light is not None and _has(negative, dict(_LIGHT_WORDS)[light]):
        light = None
    if light is None:
        light = default_light(tuple(subjects)) or "day"
    clear_night = light == "night" and "rain" not in subjects
    if clear_night and "stars" not in excluded and subjects & {"sky", "clouds"}:
        subjects.add("stars")
    camera = _first(text, _CAMERA_WORDS) or "static"
    speed = tempo(prompt)
    if _has(text, _TIMELAPSE):
        speed *= 2.5
    if _has(text, _SLOWMO):
        speed = 0.4 * (1.7 if set(words(prompt)) & _FAST else 1.0)
    if _has(negative, _NO_MOTION):
        if camera == "static":
            camera = "zoom_in" if subjects & {"flower", "metal", "fire"} else "pan_right"
        speed = max(speed, 1.0)
    ordered = tuple(s for s in SUBJECTS if s in subjects)
    saturation, brightness = tone(prompt)
    return SceneSpec(
        subjects=ordered,
        light=light,
        camera=camera,
        tempo=float(speed),
        hues=tuple(hues(prompt, negative_prompt)),
        saturation=saturation,
        brightness=brightness,
        sharp=_has(negative, _NO_BLUR),
        tropical=" tropical " in text or " turquoise " in text,
        excluded=tuple(s for s in SUBJECTS if s in excluded),
        words=tuple(terms(prompt)),
    )


def camera_move(prompt: str) -> str | None:
    """The camera move the prompt names ("zoom_in", "pan_left", "orbit", ...), if any."""
    return _first(_padded(prompt), _CAMERA_WORDS)


def names_light(prompt: str) -> bool:
    return _first(_padded(prompt), _LIGHT_WORDS) is not None


def default_light(subjects: tuple[str, ...]) -> str | None:
    """The light some subjects bring when the prompt names none (night for stars, ...)."""
    return next((light for subject, light in _DEFAULT_LIGHT if subject in subjects), None)

