"""video_to_video does what the prompt asks: speed, direction, stylisation, film grain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.engine.test_render import decode_frames, make_source_video, request, write_video
from vidgate.engine import render
from vidgate.engine.grade import GRADES, Grader
from vidgate.engine.styles import PAINT_RADIUS, choose_look, kuwahara, stylise
from vidgate.engine.video import REVERSE_CHUNK

FPS = 25  # the same rate as the source, so output frame n shows source frame n at speed 1


def _bar_x(frame: np.ndarray) -> float:
    """Where the source's moving white bar starts (source frame n has it at x = 12n..12n+11),
    from the centre of the bright columns, whatever the grade did to their brightness."""
    columns = frame.mean(axis=(0, 2))
    bright = np.flatnonzero(columns > (columns.max() + columns.min()) / 2)
    return float(bright.mean()) - 5.5


def _render(
    tmp_path: Path, prompt: str, source: Path, duration: float = 0.8, name: str = "out", **extra: object
) -> list[np.ndarray]:
    out = tmp_path / f"{name}.mp4"
    render(request(mode="video_to_video", prompt=prompt, source_video=source, width=320, height=180,
                   fps=FPS, duration_seconds=duration, **extra), out)
    return decode_frames(out)


@pytest.fixture
def bar_video(tmp_path: Path) -> Path:
    path = tmp_path / "bar.mp4"
    make_source_video(path, frames=25, fps=FPS)
    return path


def test_normal_speed_follows_the_source(tmp_path: Path, bar_video: Path) -> None:
    frames = _render(tmp_path, "warm", bar_video)
    assert abs(_bar_x(frames[10]) - 12 * 10) <= 8


def test_slow_motion_and_speed_up(tmp_path: Path, bar_video: Path) -> None:
    slow = _render(tmp_path, "slow motion", bar_video, name="slow")
    fast = _render(tmp_path, "speed up", bar_video, duration=0.4, name="fast")
    assert abs(_bar_x(slow[16]) - 12 * 8) <= 8  # half speed: frame 16 shows source frame 8
    assert abs(_bar_x(fast[8]) - 12 * 16) <= 8  # double speed: frame 8 shows source frame 16


def test_reverse_plays_the_clip_backwards(tmp_path: Path, bar_video: Path) -> None:
    frames = _render(tmp_path, "played in reverse", bar_video)
    assert len(frames) == 20
    positions = [_bar_x(frame) for frame in frames]
    # Frame n shows source frame 19 - n, across more than one keyframe interval of the spool.
    assert len(frames) > REVERSE_CHUNK
    for n, position in enumerate(positions):
        assert abs(position - 12 * (19 - n)) <= 8, (n, position)


def test_stylisations_change_the_picture_as_named() -> None:
    y, x = np.mgrid[0:180, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 180, (x + y) * 255 // 500], axis=-1).astype(np.uint8)
    rgb[60:120, 100:200] = (250, 250, 240)  # a bright shape with edges
    picture = Image.fromarray(rgb)
    distinct = lambda image: len(np.unique(np.asarray(image).reshape(-1, 3), axis=0))  # noqa: E731
    cartoon = stylise(picture, "cartoon")
    assert distinct(cartoon) <= 513 < distinct(picture)  # 8 levels a channel, plus inked edges
    assert np.asarray(cartoon)[60, 101:199].mean() < 40  # the shape's edge is inked
    sketch = np.asarray(stylise(picture, "sketch"), dtype=int)
    assert np.array_equal(sketch[..., 0], sketch[..., 1]) and sketch.mean() > 150  # pencil on paper
    painterly = np.asarray(stylise(picture, "painterly"), dtype=int)
    assert 0 < np.abs(painterly - rgb).mean() < 40
    assert stylise(picture, None) is picture


def test_painterly_flattens_texture_and_keeps_edges() -> None:
    rng = np.random.default_rng(3)
    rgb = np.zeros((120, 200, 3), np.float32)
    rgb[:, 100:] = 200  # a hard vertical edge between two flat areas
    rgb += rng.normal(0, 20, rgb.shape)  # with a fine texture on both
    picture = np.clip(rgb, 0, 255).astype(np.uint8)
    painted = kuwahara(picture, PAINT_RADIUS).astype(float)
    inside = (slice(10, 110), np.r_[10:90, 110:190])
    assert painted[inside].std(axis=0).mean() < picture[inside].astype(float).std(axis=0).mean() / 2
    row = painted[60, :, 0]
    assert row[:97].max() < 100 < row[103:].min()  # the edge stays within a few pixels


def test_the_prompt_chooses_the_look() -> None:
    rng = np.random.default_rng(0)
    assert choose_look("make it black and white", rng).grade.name == "mono"
    assert choose_look("anime style", rng).style == "cartoon"
    vintage = choose_look("vintage film", rng)
    assert vintage.grain > 0 and vintage.grade.name == "warm_vintage"
    assert choose_look("slow motion", rng).speed == 0.5
    assert choose_look("timelapse", rng).speed == 2.0
    assert choose_look("rewind it", rng).reverse


def test_cartoon_video_differs_from_plain(tmp_path: Path, bar_video: Path) -> None:
    plain = _render(tmp_path, "warm", bar_video, duration=0.2, name="plain")
    cartoon = _render(tmp_path, "warm cartoon", bar_video, duration=0.2, name="cartoon")
    assert np.abs(plain[2].astype(int) - cartoon[2].astype(int)).mean() > 2


def test_film_grain_moves_and_is_deterministic(tmp_path: Path) -> None:
    still = tmp_path / "still.mp4"
    _gradient_video(still)
    plain = _render(tmp_path, "warm", still, duration=0.2, name="plain")
    grainy = _render(tmp_path, "vintage film", still, duration=0.2, name="grainy")
    again = _render(tmp_path, "vintage film", still, duration=0.2, name="again")
    step = lambda frames: np.abs(frames[2].astype(int) - frames[3].astype(int)).mean()  # noqa: E731
    assert step(plain) < 0.5 < step(grainy)
    assert all(np.array_equal(a, b) for a, b in zip(grainy, again, strict=True))


def _gradient_video(path: Path) -> None:
    y, x = np.mgrid[0:180, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 180, (x + y) * 255 // 500], axis=-1).astype(np.uint8)
    write_video(path, [rgb] * 10, FPS)


def _graded(name: str, picture: Image.Image) -> np.ndarray:
    image = Grader(GRADES[name], *picture.size).apply(picture)
    centre = np.asarray(image, dtype=float)[20:-20, 40:-40]  # away from the vignette
    return centre.reshape(-1, 3)


def _saturation(pixels: np.ndarray) -> float:
    return float((pixels.max(axis=1) - pixels.min(axis=1)).mean())


def test_each_grade_moves_colour_the_way_its_name_says() -> None:
    ramp = np.repeat(np.linspace(10, 245, 240)[None, :, None], 100, axis=0).repeat(3, axis=2)
    grey = Image.fromarray(ramp.astype(np.uint8))  # neutral, dark on the left to light on the right
    colour = Image.fromarray(np.full((100, 240, 3), (180, 90, 60), np.uint8))
    shadows, highlights = slice(0, 3000), slice(-3000, None)  # first and last columns' pixels

    teal_orange = _graded("teal_orange", grey)
    order = np.argsort(teal_orange.sum(axis=1))
    dark, light = teal_orange[order[shadows]].mean(axis=0), teal_orange[order[highlights]].mean(axis=0)
    assert dark[2] > dark[0] + 3 and light[0] > light[2] + 10  # teal shadows, orange highlights

    warm, cool = _graded("warm", grey).mean(axis=0), _graded("cool_night", grey).mean(axis=0)
    assert warm[0] > warm[2] + 10 and cool[2] > cool[0] + 10
    assert _saturation(_graded("warm", colour)) > 0.95 * _saturation(_graded("warm_vintage", colour)) + 10
    vintage = _graded("warm_vintage", grey)
    assert vintage.min() > 20  # lifted, faded blacks
    assert _saturation(_graded("warm_vintage", colour)) < 0.8 * _saturation(np.asarray(colour).reshape(-1, 3))
    mono = _graded("mono", colour)
    assert np.abs(mono - mono.mean(axis=1, keepdims=True)).max() < 2


def test_warm_and_vintage_are_different_looks() -> None:
    rng = np.random.default_rng(0)
    assert choose_look("make it warmer", rng).grade.name == "warm"
    assert choose_look("make it warmer", rng).grain == 0
    assert choose_look("vintage film", rng).grade.name == "warm_vintage"


def test_the_negative_prompt_leaves_out_the_looks_it_names() -> None:
    rng = np.random.default_rng(0)
    look = choose_look("vintage cartoon in reverse", rng, negative_prompt="grain, cartoon")
    assert look.grain == 0 and look.style is None and look.reverse
    assert look.grade.name == "warm_vintage"
    assert choose_look("cinematic", rng, negative_prompt="teal").grade.name != "teal_orange"
    assert choose_look("slow motion", rng, negative_prompt="slow motion").speed == 1.0
