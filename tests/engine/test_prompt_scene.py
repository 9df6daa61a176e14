"""The prompt parser: subjects, light, camera and tempo; negative prompts; optimize_prompt."""

from __future__ import annotations

import numpy as np
import pytest

from vidgate.engine.image_motion import choose_motion
from vidgate.engine.optimizer import optimize_prompt
from vidgate.engine.prompt import SUBJECTS, SceneSpec, camera_move, parse
from vidgate.engine.styles import choose_look

BEACH = "A drone flyover of a tropical beach at golden hour, cinematic"
MOUNTAINS = "Timelapse of clouds rolling over mountain peaks, golden hour lighting, 4K cinematic"
METAL = "Flowing liquid metal morphing into geometric shapes, reflective surface, dark background"
FLOWER = "A timelapse of a flower blooming"
ROCKS = "Ocean waves crashing on rocks"
CAR = "Sports car drifting around a corner, dust and smoke, dramatic slow motion"


def test_drone_beach_at_golden_hour() -> None:
    spec = parse(BEACH)
    assert {"beach", "ocean"} <= set(spec.subjects)
    assert spec.light == "golden_hour"
    assert spec.camera == "flyover"
    assert spec.tempo == 1.0
    assert spec.tropical


def test_timelapse_clouds_over_mountains() -> None:
    spec = parse(MOUNTAINS)
    assert {"clouds", "mountains"} <= set(spec.subjects)
    assert spec.light == "golden_hour"
    assert spec.tempo > 1.5


def test_liquid_metal_on_dark() -> None:
    spec = parse(METAL)
    assert spec.subjects == ("metal",)
    assert spec.light == "dark"


def test_flower_timelapse_and_waves_on_rocks() -> None:
    assert parse(FLOWER).subjects == ("flower",)
    assert parse(FLOWER).tempo > 1.5
    assert set(parse(ROCKS).subjects) == {"ocean", "rocks"}


def test_car_drift_in_dramatic_slow_motion() -> None:
    spec = parse(CAR)
    assert {"road", "smoke"} <= set(spec.subjects)
    assert spec.light == "dramatic"
    assert spec.tempo < 1.0


def test_subjects_are_ordered_back_to_front() -> None:
    spec = parse("snow falling on mountains under a starry sky by the sea")
    order = [SUBJECTS.index(s) for s in spec.subjects]
    assert order == sorted(order)
    assert spec.subjects[0] == "sky" and spec.subjects[-1] == "snow"


@pytest.mark.parametrize(
    ("prompt", "camera"),
    [
        ("slow pan left across the city skyline", "pan_left"),
        ("pan right over the sea", "pan_right"),
        ("tilt up to the stars", "tilt_up"),
        ("zoom in on a flower", "zoom_in"),
        ("dolly out from the fire", "zoom_out"),
        ("camera orbiting liquid chrome", "orbit"),
        ("aerial shot of mountains", "flyover"),
        ("tracking shot of a car on a highway", "tracking"),
        ("macro close-up of a rose", "close_up"),
        ("ocean waves", "static"),
    ],
)
def test_camera_moves(prompt: str, camera: str) -> None:
    assert parse(prompt).camera == camera


@pytest.mark.parametrize(
    ("prompt", "light"),
    [
        ("neon city", "neon"),
        ("beach at night", "night"),
        ("pastel clouds", "pastel"),
        ("fire on a dark background", "dark"),
        ("stars over the sea", "night"),
        ("sunset over the ocean", "golden_hour"),
        ("ocean waves", "day"),
    ],
)
def test_light(prompt: str, light: str) -> None:
    assert parse(prompt).light == light


def test_plurals_and_phrases() -> None:
    assert "stars" in parse("northern lights").subjects
    assert "aurora" in parse("northern lights").subjects
    assert {"city", "bokeh"} <= set(parse("blurred city lights").subjects)
    assert "clouds" in parse("skies full of clouds").subjects


def test_negative_prompt_removes_a_subject() -> None:
    spec = parse("ocean waves crashing on rocks at sunset", "rocks")
    assert "rocks" not in spec.subjects and "ocean" in spec.subjects
    assert "clouds" not in parse("clouds over mountains", "clouds").subjects


def test_negative_static_forces_motion() -> None:
    assert parse("a flower", "static").camera != "static"
    assert parse("mountains", "still, frozen").camera != "static"
    assert parse("calm ocean, slow motion", "static").tempo >= 1.0


def test_negative_blurry_keeps_things_sharp() -> None:
    assert parse("city lights bokeh", "blurry, low quality").sharp
    assert not parse("city lights bokeh").sharp


def test_unknown_words_give_no_subject_but_a_valid_spec() -> None:
    spec = parse("a quiet thought")
    assert isinstance(spec, SceneSpec)
    assert spec.subjects == ()
    assert spec.light and spec.camera and spec.tempo > 0


def test_parse_is_deterministic_and_hashable() -> None:
    assert parse(BEACH) == parse(BEACH)
    hash(parse(BEACH))


def test_optimize_prompt_adds_camera_and_light_only_when_missing() -> None:
    assert optimize_prompt("ocean") == "ocean, camera slowly panning right, warm golden hour light, cinematic"
    with_both = "ocean at night, slow pan left"
    assert optimize_prompt(with_both) == with_both
    only_light = optimize_prompt("ocean at night")
    assert "panning" in only_light and "golden hour" not in only_light
    only_camera = optimize_prompt("drone shot of a beach")
    assert "golden hour" in only_camera and "panning" not in only_camera
    assert optimize_prompt("ocean") == optimize_prompt("ocean")
    expanded = parse(optimize_prompt("ocean"))
    assert expanded.camera == "pan_right" and expanded.light == "golden_hour"
    assert optimize_prompt("")  # never empty


@pytest.mark.parametrize(
    ("prompt", "light"),
    [("a galaxy", "night"), ("aurora over snowy mountains", "night"), ("fire", "dark"),
     ("liquid metal", "dark"), ("rain", "overcast"), ("a blooming flower", "day"),
     ("a cat playing piano", "day"), ("ocean waves crashing on rocks", "golden_hour")],
)  # fmt: skip
def test_optimizer_keeps_what_the_subject_needs(prompt: str, light: str) -> None:
    """The light it adds suits the subject, and nothing it adds changes the tempo, the colour
    or the subjects of the scene."""
    before, after = parse(prompt), parse(optimize_prompt(prompt))
    assert after.light == light
    assert after.camera != "static"
    assert (after.subjects, after.tempo, after.saturation, after.brightness) == (
        before.subjects, before.tempo, before.saturation, before.brightness
    )


def test_optimizer_per_mode() -> None:
    portrait = "The person slowly turns and smiles"
    image = optimize_prompt(portrait, "image_to_video")
    assert image == f"{portrait}, slow camera push in, cinematic"
    assert not choose_motion(image).any  # a push-in, not a parallax move or an effect
    assert camera_move(image) == "zoom_in"
    video = optimize_prompt("the dancer spins", "video_to_video")
    assert choose_look(video, np.random.default_rng(0)).grade.name == "teal_orange"
    assert optimize_prompt("make it black and white", "video_to_video") == "make it black and white"
