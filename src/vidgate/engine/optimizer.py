"""prompt_optimizer for the local engine: a terse prompt gets the defaults it leaves open
written out (camera move, light, look), chosen to suit what it describes."""

from __future__ import annotations

from vidgate.engine import prompt as prompt_words
from vidgate.engine.grade import GRADE_WORDS

# What is added, in words that parse back to the same camera and light.
_CAMERA_PHRASES = {"zoom_in": "camera slowly pushing in", "pan_right": "camera slowly panning right",
                   "tracking": "tracking shot"}  # fmt: skip
_LIGHT_PHRASES = {"night": "in moonlight", "dark": "against a black background",
                  "golden_hour": "warm golden hour light", "overcast": "under an overcast sky",
                  "day": "in natural daylight"}  # fmt: skip
_LANDSCAPE = {"sky", "clouds", "sun", "mountains", "ocean", "beach", "rocks", "city", "road"}
_IMAGE_CAMERA = "slow camera push in"
_VIDEO_LOOK = "cinematic color grade"
EMPTY_PROMPT = "abstract flowing light"


def _camera_for(subjects: tuple[str, ...]) -> str:
    if "road" in subjects:
        return "tracking"
    if set(subjects) & (_LANDSCAPE - {"sun"}):
        return "pan_right"
    return "zoom_in"  # close subjects, the night sky, abstract scenes


def _light_for(subjects: tuple[str, ...]) -> str:
    """The subjects' own light (night for stars, dark for fire, ...), else golden hour for a
    landscape, else daylight."""
    own = prompt_words.default_light(subjects)
    if own is not None:
        return own
    return "golden_hour" if set(subjects) & _LANDSCAPE else "day"


def optimize_prompt(prompt: str, mode: str = "text_to_video", negative_prompt: str | None = None) -> str:
    """The prompt with what it leaves open written out, so the render (and whoever reads the
    job) gets a deliberate camera, light or look instead of a bland one.

    text_to_video: a camera move and a light chosen for the prompt's subjects, where it names
    none. image_to_video: a slow push-in where it names no camera move (the light is the
    picture's own). video_to_video: a cinematic grade where it names no look.

    >>> optimize_prompt("ocean")
    'ocean, camera slowly panning right, warm golden hour light, cinematic'
    >>> optimize_prompt("a galaxy")
    'a galaxy, camera slowly pushing in, in moonlight, cinematic'
    >>> optimize_prompt("the dancer spins", "video_to_video")
    'the dancer spins, cinematic color grade'
    """
    base = " ".join(prompt.split()).strip(" ,.") or EMPTY_PROMPT
    extra: list[str] = []
    if mode == "video_to_video":
        if not any(prompt_words.has_any(base, *phrases) for _, phrases in GRADE_WORDS):
            extra.append(_VIDEO_LOOK)
    else:
        subjects = prompt_words.parse(base, negative_prompt).subjects
        if prompt_words.camera_move(base) is None:
            extra.append(_IMAGE_CAMERA if mode == "image_to_video" else _CAMERA_PHRASES[_camera_for(subjects)])
        if mode == "text_to_video" and not prompt_words.names_light(base):
            extra.append(_LIGHT_PHRASES[_light_for(subjects)])
        if extra and not prompt_words.has_any(base, "cinematic"):
            extra.append("cinematic")
    return ", ".join([base, *extra]) if extra else prompt
