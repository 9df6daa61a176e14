"""image_to_video adds the motion the prompt asks for, in the right part of the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.engine.test_render import decode_frames, request
from vidgate.engine import render
from vidgate.engine.image_motion import _displace, choose_motion, estimate_depth, sky_mask
from vidgate.engine.render import open_source

SIZE = (320, 180)


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sky with tree trunks on top, a field with fence posts in the middle, water below."""
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[:120] = (120, 170, 230)
    pixels[120:190] = (60, 130, 60)
    pixels[190:] = (40, 80, 140)
    pixels[130:180, 20:380:20] = (240, 240, 210)
    pixels[40:110, 10:390:24] = (70, 60, 40)  # tree trunks against the sky, for the wind
    pixels[200:300, ::8] = (90, 140, 200)  # ripples, so a shimmer has something to move
    path = tmp_path_factory.mktemp("i2v") / "landscape.png"
    Image.fromarray(pixels).save(path)
    return path


def _luma(source: object, t: float) -> np.ndarray:
    return source.frame(t).to_ndarray()[: SIZE[1]].astype(np.int16)  # type: ignore[attr-defined]


def _change(prompt: str, landscape: Path, rows: slice, **extra: object) -> float:
    """How much the given rows change between two frames 0.3 s apart (camera move included:
    callers compare against a prompt without effect words)."""
    source = open_source(request(mode="image_to_video", prompt=prompt, source_image=landscape,
                                 width=SIZE[0], height=SIZE[1], duration_seconds=4, **extra))
    a, b = _luma(source, 1.0), _luma(source, 1.3)
    source.close()
    return float(np.abs(a[rows] - b[rows]).mean())


def test_the_prompt_chooses_the_motion() -> None:
    motion = choose_motion("hair blowing in the wind by a lake under clouds, candlelight")
    assert motion.sway and motion.shimmer and motion.clouds and motion.flicker
    assert not choose_motion("a portrait").any
    assert not choose_motion("wind over the lake", negative_prompt="wind").sway


@pytest.mark.parametrize(
    ("prompt", "rows"),
    [
        ("clouds drifting", slice(0, 50)),
        ("a shimmering lake", slice(150, 180)),
        ("trees swaying in the wind", slice(0, 60)),
    ],
)
def test_each_effect_moves_its_region(landscape: Path, prompt: str, rows: slice) -> None:
    still = _change("a photo", landscape, rows)
    moving = _change(prompt, landscape, rows)
    assert moving > still + 0.5


def test_flicker_changes_the_light(landscape: Path) -> None:
    source = open_source(request(mode="image_to_video", prompt="candle flicker", source_image=landscape,
                                 width=SIZE[0], height=SIZE[1], duration_seconds=4))
    means = [float(_luma(source, t).mean()) for t in np.linspace(0, 3, 12)]
    assert max(means) - min(means) > 3


def test_effects_loop_and_repeat(landscape: Path) -> None:
    kwargs = {"mode": "image_to_video", "prompt": "clouds over a windy lake", "source_image": landscape,
              "width": SIZE[0], "height": SIZE[1], "duration_seconds": 2, "loop": True}
    source = open_source(request(**kwargs))
    first, end = _luma(source, 0.0), _luma(source, 2.0)
    step = np.abs(_luma(source, 1.0) - _luma(source, 1.0 + 1 / 30)).mean()
    assert np.abs(first - end).mean() <= max(1.0, 3 * step)
    again = open_source(request(**kwargs))
    assert np.array_equal(_luma(again, 0.7), _luma(open_source(request(**kwargs)), 0.7))


def test_parallax_moves_near_rows_further_than_far_ones(landscape: Path) -> None:
    assert choose_motion("slow drone pan over the field").parallax
    source = open_source(request(mode="image_to_video", prompt="tracking shot", source_image=landscape,
                                 width=SIZE[0], height=SIZE[1], duration_seconds=4))
    plain = open_source(request(mode="image_to_video", prompt="tracking shot", source_image=landscape,
                                width=SIZE[0], height=SIZE[1], duration_seconds=4))
    plain._effects = None  # type: ignore[attr-defined]  # the same camera move without parallax
    start, end = _luma(source, 0.0) - _luma(plain, 0.0), _luma(source, 3.9) - _luma(plain, 3.9)
    near, far = slice(150, 180), slice(0, 30)
    assert np.abs(start[near]).mean() > np.abs(start[far]).mean() + 1
    assert np.abs(end[near]).mean() > np.abs(end[far]).mean() + 1


def _marker_picture(path: Path) -> None:
    """Grey, with a small bright square at the centre."""
    image = Image.new("RGB", (640, 360), (90, 90, 90))
    image.paste((250, 250, 250), (290, 150, 350, 210))
    image.save(path)


def _marker(frame: np.ndarray) -> tuple[float, float, int]:
    """Centre x, centre y and area of the bright square in a frame."""
    ys, xs = np.nonzero(frame.mean(axis=2) > 170)
    return float(xs.mean()), float(ys.mean()), len(xs)


@pytest.mark.parametrize(
    ("prompt", "moves"),
    [("zoom in on the square", "grows"), ("pull back from the square", "shrinks"),
     ("camera pans left", "right"), ("camera pans right", "left"), ("tilt up", "down")],
)  # fmt: skip
def test_ken_burns_follows_the_camera_move_the_prompt_names(tmp_path: Path, prompt: str, moves: str) -> None:
    source = tmp_path / "marker.png"
    _marker_picture(source)
    out = tmp_path / "out.mp4"
    render(request(mode="image_to_video", prompt=prompt, source_image=source, width=320, height=180,
                   duration_seconds=1.0), out)
    frames = decode_frames(out)
    (x0, y0, area0), (x1, y1, area1) = _marker(frames[0]), _marker(frames[-1])
    expected = {
        "grows": area1 > 1.15 * area0, "shrinks": area1 < area0 / 1.15,
        "right": x1 > x0 + 5, "left": x1 < x0 - 5, "down": y1 > y0 + 3,
    }  # fmt: skip
    assert expected[moves], (x0, y0, area0, x1, y1, area1)


def test_depth_is_estimated_from_the_picture_not_only_its_rows() -> None:
    rng = np.random.default_rng(1)
    picture = np.full((120, 200, 3), (200, 205, 210), np.uint8)  # pale, flat haze everywhere
    picture[10:50, 20:80] = rng.integers(0, 255, (40, 60, 3))  # a detailed, colourful thing, high up
    nearness = estimate_depth(picture)
    assert nearness[30, 50] > nearness[30, 150] + 0.1  # the detailed thing is nearer than the haze
    assert nearness[110, 150] > nearness[30, 150]  # and the ground plane still counts


def test_clouds_drift_over_the_sky_not_over_what_stands_in_it(tmp_path: Path) -> None:
    pixels = np.zeros((180, 320, 3), np.uint8)
    pixels[:] = (110, 160, 225)  # sky
    rng = np.random.default_rng(2)
    pixels[:90, 200:] = rng.integers(10, 70, (90, 120, 3))  # a dark, leafy tree on the right
    pixels[120:] = (70, 110, 60)  # ground
    path = tmp_path / "tree.png"
    Image.fromarray(pixels).save(path)
    assert sky_mask(pixels)[30, 60] > 0.5 > sky_mask(pixels)[30, 260]
    changes = {}
    for prompt in ("a photo", "clouds drifting"):
        source = open_source(request(mode="image_to_video", prompt=prompt, source_image=path,
                                     width=320, height=180, duration_seconds=4))
        changes[prompt] = np.abs(_luma(source, 1.0) - _luma(source, 1.6))
    added = changes["clouds drifting"] - changes["a photo"]
    sky, tree = (slice(10, 60), slice(20, 150)), (slice(10, 60), slice(250, 310))
    assert added[sky].mean() > 1.0 and added[tree].mean() < 0.3 * added[sky].mean()


def test_displacement_is_sub_pixel() -> None:
    plane = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (4, 1))  # 0, 2, 4, ...
    _displace(plane, np.full((4, 1), 0.5, np.float32))
    assert plane[0, 10] == 19  # halfway between 18 and 20, not a whole-pixel step
