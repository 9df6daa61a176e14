"""Composed text-to-video scenes: every subject draws, cameras move, loops close, seeds hold."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.engine.test_render import decode_frames, loop_jump_ratio
from tests.engine.test_render import mean_abs_diff as diff
from vidgate.engine import RenderRequest, render
from vidgate.engine.scenery.core import Frame
from vidgate.engine.scenes import build_scene

SUBJECT_PROMPTS = {
    "sky": "a clear blue sky with clouds",
    "ocean": "ocean waves",
    "flower": "a flower blooming",
    "fire": "a campfire",
    "rain": "rain",
    "snow": "snow falling",
    "stars": "a starry night sky",
    "galaxy": "a spiral galaxy",
    "aurora": "aurora borealis",
    "city": "city lights at night",
    "bokeh": "bokeh",
    "particles": "glowing particles",
    "metal": "liquid metal morphing into geometric shapes",
    "smoke": "smoke rising",
    "sun": "sunset",
    "mountains": "mountains",
    "beach": "a beach",
    "road": "a car on a road",
    "rocks": "waves on rocks",
    "trees": "a forest",
    "field": "a green meadow",
    "rainbow": "a rainbow",
}


# The layer that draws each subject, where its name is not the subject's own.
LAYER_OF = {"rain": "Falling", "snow": "Falling", "particles": "Falling", "field": "Meadow",
            "metal": "Metal"}  # fmt: skip


def request(prompt: str, **overrides: object) -> RenderRequest:
    fields: dict[str, object] = {
        "mode": "text_to_video",
        "prompt": prompt,
        "width": 128,
        "height": 72,
        "fps": 30,
        "duration_seconds": 1.0,
        "seed": 3,
    }
    fields.update(overrides)
    return RenderRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("subject", sorted(SUBJECT_PROMPTS))
def test_each_subject_draws_a_moving_picture(subject: str) -> None:
    scene = build_scene(request(SUBJECT_PROMPTS[subject]))
    first, later = scene.frame(0.0), scene.frame(0.5)
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert first.shape[:2] == (72, 128)
    assert first.std() > 8, subject  # not a flat colour
    assert diff(first, later) > 0.3, subject  # it moves
    names = [type(layer).__name__ for layer in getattr(scene, "layers", [])]
    assert LAYER_OF.get(subject, subject.capitalize()) in names, (subject, names)


def test_the_issue_prompts_compose_their_layers() -> None:
    layers = {
        "A drone flyover of a tropical beach at golden hour, cinematic": {"Ocean", "Beach", "Sun"},
        "Timelapse of clouds rolling over mountain peaks, golden hour": {"Clouds", "Mountains"},
        "Flowing liquid metal morphing into geometric shapes, dark background": {"Metal"},
        "A timelapse of a flower blooming": {"Flower"},
        "Ocean waves crashing on rocks": {"Ocean", "Rocks"},
        "Sports car drifting around a corner, dust and smoke, dramatic": {"Road", "Smoke"},
    }
    for prompt, expected in layers.items():
        names = {type(layer).__name__ for layer in build_scene(request(prompt)).layers}
        assert expected <= names, (prompt, names)


def test_negative_prompt_leaves_the_subject_out() -> None:
    names = {type(x).__name__ for x in build_scene(request("waves on rocks")).layers}
    assert "Rocks" in names
    scene = build_scene(request("waves on rocks", negative_prompt="rocks"))
    assert "Rocks" not in {type(x).__name__ for x in scene.layers}


def test_unknown_prompt_is_a_composed_picture_not_a_blank() -> None:
    scene = build_scene(request("a quiet thought"))
    frame = scene.frame(0.3)
    assert frame.std() > 5
    assert diff(frame, scene.frame(0.9)) > 0.3


def motion(prompt: str) -> float:
    scene = build_scene(request(prompt, seed=11))
    frames = [scene.frame(t) for t in (0.0, 0.25, 0.5, 0.75)]
    return sum(diff(a, b) for a, b in zip(frames, frames[1:], strict=False))


def test_a_flyover_moves_more_than_a_static_camera() -> None:
    assert motion("drone flyover of mountains by the sea") > 1.5 * motion(
        "mountains by the sea, static shot"
    )


@pytest.mark.parametrize("camera", ["pan left", "zoom in", "orbit", "tracking shot", "tilt up"])
def test_camera_moves_change_the_picture(camera: str) -> None:
    assert motion(f"mountain peaks, {camera}") > 1.2 * motion("mountain peaks")


@pytest.mark.parametrize(
    "prompt",
    [
        "A drone flyover of a tropical beach at golden hour, cinematic",
        "Timelapse of clouds rolling over mountain peaks, golden hour lighting",
        "Sports car drifting around a corner, dust and smoke, dramatic, tracking shot",
        "A timelapse of a flower blooming, snow, orbit",
        "aurora and a galaxy over the ocean, rain, pan left",
        "fire, smoke and particles, liquid metal, city lights, zoom in",
    ],
)
def test_looping_composed_scenes_flow_into_their_start(prompt: str) -> None:
    req = request(prompt, loop=True, fps=24)
    scene = build_scene(req)
    frames = [scene.frame(i / req.fps) for i in range(req.frame_count)]
    assert loop_jump_ratio(frames) < 3


def test_same_seed_same_frames_other_seeds_differ() -> None:
    prompt = "Ocean waves crashing on rocks at sunset"
    a = build_scene(request(prompt, seed=5)).frame(0.4)
    b = build_scene(request(prompt, seed=5)).frame(0.4)
    assert np.array_equal(a, b)
    others = [build_scene(request(prompt, seed=s)).frame(0.4) for s in (6, 2**32 - 1)]
    for other in others:
        assert diff(a, other) > 2


def test_render_writes_a_composed_clip(tmp_path: Path) -> None:
    out = tmp_path / "beach.mp4"
    render(request("A drone flyover of a tropical beach at golden hour", duration_seconds=0.3), out)
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 9
    assert frames[0].std() > 8
    warm = frames[0].reshape(-1, 3).mean(axis=0)
    assert warm[0] > warm[2]  # golden hour reads warm


@pytest.mark.parametrize(
    "camera", ["static", "pan right", "tilt down", "zoom out", "orbit", "drone", "tracking", "close up"]
)
def test_looping_scenes_are_periodic_in_every_layer(camera: str) -> None:
    prompt = (
        "beach, mountains, clouds, car on a road, fire, smoke, particles, bokeh, rain, snow, "
        f"galaxy, aurora, city, rocks, flower, liquid metal, forest, meadow, rainbow, {camera}"
    )
    req = request(prompt, loop=True, duration_seconds=1.3, width=96, height=54)
    scene = build_scene(req)
    assert diff(scene.frame(0.0), scene.frame(req.period)) < 0.05


def test_negative_prompt_also_keeps_implied_layers_out() -> None:
    def names(prompt: str, negative: str | None = None) -> set[str]:
        return {type(x).__name__ for x in build_scene(request(prompt, negative_prompt=negative)).layers}

    assert {"Sun", "Clouds"} <= names("ocean waves")
    assert not {"Sun", "Clouds"} & names("ocean waves", "sun, clouds")
    assert "Stars" in names("beach at night")
    assert "Stars" not in names("beach at night", "stars")
    assert "Falling" in names("a campfire")  # embers come with fire
    assert "Falling" not in names("a campfire", "particles, sparks")


def test_a_frame_does_not_depend_on_the_frames_drawn_before_it() -> None:
    prompt = "drone flyover of snowy mountains by the sea at golden hour, smoke, particles"
    fresh = build_scene(request(prompt)).frame(0.7)
    scene = build_scene(request(prompt))
    for t in (0.9, 0.1, 0.7, 0.3):
        scene.frame(t)
    assert np.array_equal(scene.frame(0.7), fresh)


def test_negative_car_keeps_the_road_and_leaves_out_the_car() -> None:
    prompt = "a car on a road at night"
    with_car = build_scene(request(prompt, width=256, height=144))
    without = build_scene(request(prompt, negative_prompt="car", width=256, height=144))
    assert "Road" in {type(layer).__name__ for layer in without.layers}
    a, b = with_car.frame(0.5).astype(int), without.frame(0.5).astype(int)

    def tail_lights(frame: np.ndarray) -> int:  # strongly red pixels
        return int(((frame[..., 0] > 150) & (frame[..., 0] > 2 * frame[..., 1] + 40)).sum())

    assert tail_lights(a) > 10 and tail_lights(b) == 0
    # the road itself is the same: the lower corners, away from the car, barely differ
    assert diff(a[-20:, :40], b[-20:, :40]) < 3


def _detail(frame: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey picture: higher for crisper edges."""
    g = frame.astype(float).mean(axis=2)
    return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean())


def test_negative_blurry_gives_a_crisper_video(tmp_path: Path) -> None:
    """Measured in the encoded 720p file, not in the scene's working picture."""
    details = []
    for negative in (None, "blurry"):
        out = tmp_path / f"{negative}.mp4"
        render(request("a car on a road", negative_prompt=negative, width=1280, height=720,
                       duration_seconds=0.1), out)
        details.append(np.mean([_detail(frame) for frame in decode_frames(out)]))
    assert details[1] > 1.4 * details[0], details


@pytest.mark.parametrize("prompt", ["mountains", "a blooming flower", "city lights at night"])
def test_negative_static_guarantees_motion(prompt: str) -> None:
    """A prompt with no camera move still moves clearly when the negative prompt says static."""
    still = build_scene(request(prompt, negative_prompt="static"))
    plain = build_scene(request(prompt))
    moved = diff(still.frame(0.0), still.frame(0.5))
    assert moved > 2.0 and moved > 1.2 * diff(plain.frame(0.0), plain.frame(0.5))


def test_pastel_softens_and_vivid_strengthens_the_colours() -> None:
    def saturation(prompt: str) -> float:
        frame = build_scene(request(prompt)).frame(0.5).astype(float)
        return float((frame.max(axis=2) - frame.min(axis=2)).mean())

    plain = saturation("a red flower blooming")
    assert saturation("a pastel red flower blooming") < 0.75 * plain
    assert saturation("a vivid red flower blooming") > 1.1 * plain


@pytest.mark.parametrize(
    ("prompt", "accent"),
    [("a dreamy wish", "Falling"), ("a romantic memory", "Bokeh"), ("a mysterious ghost", "Smoke")],
)
def test_a_prompt_without_subjects_gets_the_accent_its_mood_asks_for(prompt: str, accent: str) -> None:
    names = [type(layer).__name__ for layer in build_scene(request(prompt)).layers]
    assert names[0] == "Drift" and accent in names, names


def test_prompts_without_subjects_differ_by_their_words() -> None:
    prompts = ["a cat playing piano", "a quiet thought", "the meaning of life", "an old friend"]
    frames = [build_scene(request(p, seed=1)).frame(0.5) for p in prompts]
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            assert diff(frames[i], frames[j]) > 8, (prompts[i], prompts[j])


@pytest.mark.parametrize(
    "prompt",
    [
        "a drone flyover of a tropical beach at golden hour",
        "a beach at sunset, pan left",
        "ocean waves crashing on rocks, tilt up",
        "a car on a road through the mountains, tracking shot",
        "a green meadow with a rainbow, zoom in",
        "mountains over a lake at sunrise, orbit",
    ],
)
def test_leaving_out_covered_rows_changes_no_pixel(
    prompt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = RenderRequest(mode="text_to_video", prompt=prompt, width=640, height=360, fps=30,
                            duration_seconds=3.0, seed=5)
    times = [i / 10 for i in range(0, 30, 3)]
    culled = build_scene(request)
    env = culled.env
    views = [Frame(t, culled.camera.state(t), env.sx, env.sy, env.horizon) for t in times]
    assert any(row is not None for fr in views for row in culled._covered_after(fr))
    frames = [culled.frame(t) for t in times]
    whole = build_scene(request)
    monkeypatch.setattr(whole, "_covered_after", lambda fr: [None] * len(whole.layers))
    for t, frame in zip(times, frames, strict=True):
        assert np.array_equal(whole.frame(t), frame), t

