"""A scene composed from a ``SceneSpec``: layers back to front under one camera and light."""

from __future__ import annotations

import numpy as np

from vidgate.engine.prompt import SUBJECTS, SceneSpec
from vidgate.engine.scenery.abstract import Drift, accent_for
from vidgate.engine.scenery.core import F32, LIGHTS, Camera, Clock, Frame
from vidgate.engine.scenery.effects import (
    Backdrop,
    Bokeh,
    Falling,
    Fire,
    Flower,
    Metal,
    Smoke,
)
from vidgate.engine.scenery.env import Env
from vidgate.engine.scenery.ground import Beach, City, Ocean, Road, Rocks
from vidgate.engine.scenery.land import Meadow, Rainbow, Trees
from vidgate.engine.scenery.sky import Aurora, Clouds, Galaxy, Mountains, Sky, Stars, Sun

LUMA = np.array([0.2126, 0.7152, 0.0722], F32)
OUTDOOR = {"sky", "clouds", "sun", "mountains", "ocean", "beach", "rocks", "road", "city",
           "aurora", "stars", "galaxy", "trees", "field", "rainbow"}  # fmt: skip
GROUND = {"ocean", "beach", "road", "field"}


def complete(spec: SceneSpec) -> tuple[str, ...]:
    """The subjects to draw: the prompt's, plus what they need to sit in a scene."""
    subjects = set(spec.subjects)
    if subjects <= {"rain"} and subjects:
        subjects |= {"clouds", "ocean"}
    if "trees" in subjects and not subjects & GROUND:
        subjects.add("field")  # a forest stands on grass
    if subjects <= {"snow"} and subjects:
        subjects |= {"mountains"}
    if subjects & {"fire"} and "particles" not in subjects:
        subjects.add("particles")
    if "sun" in subjects and not subjects & (GROUND | {"mountains", "city"}):
        subjects.add("ocean")
    if "city" in subjects and not subjects & GROUND:
        subjects.add("ocean")  # the skyline over a river that mirrors its lights
    if not subjects:
        accent = accent_for(" ".join(spec.words))  # an abstract scene's accent
        subjects = {accent} if accent else set()
    subjects -= set(spec.excluded)
    if "road" not in subjects:
        subjects.discard("car")  # the road layer draws it
    return tuple(s for s in SUBJECTS if s in subjects)


class ComposedScene:
    """Layers drawn back to front into a planar float frame, then vignetted to uint8 RGB.

    The horizon and camera height follow the subjects (lower for mountains, higher for a
    drone's view); every layer reads the same per-frame camera state.
    """

    def __init__(
        self,
        size: tuple[int, int],
        spec: SceneSpec,
        clock: Clock,
        rng: np.random.Generator,
        palette: np.ndarray,
    ) -> None:
        self.size = size
        w, h = size
        unit = min(w, h) / 2
        sx = ((np.arange(w, dtype=F32) + 0.5 - w / 2) / unit).astype(F32)
        sy = ((np.arange(h, dtype=F32) + 0.5 - h / 2) / unit).astype(F32)
        subjects = complete(spec)
        outdoor = bool(set(subjects) & OUTDOOR)
        light = LIGHTS.get(spec.light, LIGHTS["day"])
        aerial = spec.camera == "flyover"
        horizon, ground_height = 0.15, 0.35
        if "road" in subjects:
            horizon = -0.05
        if "mountains" in subjects and not set(subjects) & GROUND:
            horizon = 0.5
        if aerial:
            horizon, ground_height = (-0.1 if "mountains" in subjects else -0.45), 0.9
        if outdoor and not set(subjects) & (GROUND | {"mountains", "city", "rocks"}):
            horizon = 1.05  # sky only: the horizon sits just below the frame
        self.env = env = Env(
            w, h, sx, sy, clock, light, palette, rng, spec, horizon, ground_height
        )
        env.spec = SceneSpec(**{**spec.__dict__, "subjects": subjects})
        self.camera = Camera(spec.camera, clock)
        layers: list = []
        if outdoor:
            layers.append(Sky(env))
            clear_night = light.night and "rain" not in subjects
            if "stars" in subjects or (clear_night and "stars" not in spec.excluded):
                layers.append(Stars(env))
        elif not spec.subjects:
            layers.append(Drift(env))
        else:
            layers.append(Backdrop(env))
            if "flower" in subjects and not light.night and not spec.sharp and "bokeh" not in spec.excluded:
                layers.append(Bokeh(env, garden=True))
        for subject in subjects:
            if subject == "galaxy":
                layers.append(Galaxy(env))
            elif subject == "aurora":
                layers.append(Aurora(env))
        if outdoor:
            sunny = light.name not in ("overcast", "dark") and "rain" not in subjects
            if sunny and not (light.night and "galaxy" in subjects) and "sun" not in spec.excluded:
                layers.append(Sun(env))
            if "clouds" in subjects or (
                light.name != "dark"
                and not light.night
                and light.name != "neon"
                and "clouds" not in spec.excluded
            ):
                layers.append(Clouds(env))
        makers = {
            "mountains": lambda: Mountains(
                env, Clouds(env, bank=True) if "clouds" in subjects else None
            ),
            "city": lambda: City(env),
            "trees": lambda: Trees(env),
            "field": lambda: Meadow(env),
            "rainbow": lambda: Rainbow(env),
            "ocean": lambda: Ocean(env),
            "beach": lambda: Beach(env),
            "rocks": lambda: Rocks(env),
            "road": lambda: Road(env),
            "flower": lambda: Flower(env),
            "fire": lambda: Fire(env),
            "smoke": lambda: Smoke(env),
            "metal": lambda: Metal(env),
            "bokeh": lambda: Bokeh(env),
            "rain": lambda: Falling(env, "rain"),
            "snow": lambda: Falling(env, "snow"),
            "particles": lambda: Falling(env, "particles"),
        }
        for subject in subjects:
            maker = makers.get(subject)
            if maker is not None:
                layers.append(maker())
        self.layers = layers
        r2 = sx[None, :] ** 2 + sy[:, None] ** 2
        self._vignette = (255 * (1 - 0.22 * r2 / r2.max())).astype(F32)
        self._saturation = spec.saturation  # "pastel" below 1, "vivid" above

    def frame(self, t: float) -> np.ndarray:
        env = self.env
        w, h = self.size
        fr = Frame(t, self.camera.state(t), env.sx, env.sy, env.horizon)
        img = np.zeros((3, h, w), F32)
        for layer, covered_from in zip(self.layers, self._covered_after(fr), strict=True):
            fr.covered_from = covered_from
            layer.draw(img, fr)
        if self._saturation != 1.0:
            grey = np.tensordot(LUMA, img, axes=1)[None]
            img -= grey
            img *= F32(self._saturation)
            img += grey
        img *= self._vignette
        np.clip(img, 0, 255, out=img)
        img += 0.5
        # (h, w, 3) as a view of the planar picture: the encoder takes the planes as they are.
        return img.astype(np.uint8).transpose(1, 2, 0)

    def _covered_after(self, fr: Frame) -> list[int | None]:
        """Per layer: the first row from which the layers after it paint every pixel to the
        bottom of the frame (None where they do not)."""
        after: list[int | None] = []
        row: int | None = None
        for layer in reversed(self.layers):
            after.append(row)
            covers = getattr(layer, "covers_below", None)
            found = covers(fr) if covers is not None else None
            if found is not None and found < self.env.h and (row is None or found < row):
                row = found
        return after[::-1]
