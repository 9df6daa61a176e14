"""The local engine's MP4s, probed from the files themselves with PyAV."""

from __future__ import annotations

import importlib
import itertools
import os
import platform
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from vidgate.engine import (
    EngineError,
    RenderCancelled,
    RenderRequest,
    RenderResult,
    SourceMediaError,
    render,
)
from vidgate.media.dimensions import ASPECT_RATIOS, RESOLUTIONS, output_dimensions

SMALL = (320, 180)
# The module, which the package's render() function shadows as an attribute.
render_module = importlib.import_module("vidgate.engine.render")


@dataclass
class Probe:
    codec: str
    pix_fmt: str
    width: int
    height: int
    average_rate: Fraction
    duration: float
    frame_count: int


def probe(path: Path) -> Probe:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        assert stream.duration is not None and stream.time_base is not None
        assert stream.codec_context.pix_fmt is not None and stream.average_rate is not None
        return Probe(
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            average_rate=stream.average_rate,
            duration=float(stream.duration * stream.time_base),
            frame_count=count,
        )


def decode_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def top_level_boxes(path: Path) -> list[str]:
    """Types of the MP4's top-level boxes, in file order."""
    boxes: list[str] = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        elif size == 0:
            size = len(data) - offset
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def request(**overrides: object) -> RenderRequest:
    fields: dict[str, object] = {
        "mode": "text_to_video",
        "prompt": "soft lights drifting",
        "width": SMALL[0],
        "height": SMALL[1],
        "fps": 30,
        "duration_seconds": 0.5,
        "seed": 1,
    }
    fields.update(overrides)
    return RenderRequest(**fields)  # type: ignore[arg-type]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_mp4_contract(path: Path, width: int, height: int, fps: int, duration: float) -> Probe:
    info = probe(path)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (width, height)
    assert info.average_rate == fps
    assert info.frame_count == max(1, round(duration * fps))
    assert abs(info.duration - duration) <= 1 / fps + 1e-6
    boxes = top_level_boxes(path)
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    return info


def make_source_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    fps: int = 25,
    frames: int = 25,
    fade: bool = False,
) -> None:
    """A white bar on black that moves 12 px right each frame: frame n's bar is at x=12n.

    With ``fade``, instead a grey picture that brightens by 8 levels each frame.
    """
    pictures = []
    for n in range(frames):
        rgb = np.zeros((height, width, 3), np.uint8)
        if fade:
            rgb[:] = 8 * n
        else:
            rgb[:, 12 * n : 12 * n + 12] = 255
        pictures.append(rgb)
    write_video(path, pictures, fps)


def write_video(path: Path, pictures: list[np.ndarray], fps: int) -> None:
    """An H.264 MP4 of the given RGB pictures, one frame each."""
    height, width = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for n, rgb in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_source_image(path: Path, size: tuple[int, int] = (400, 300)) -> None:
    image = Image.new("RGB", size, (200, 40, 40))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 40):
        draw.rectangle([x, 0, x + 19, size[1]], fill=(40, 60, 200))
    draw.ellipse(
        [size[0] // 3, size[1] // 3, 2 * size[0] // 3, 2 * size[1] // 3], fill=(240, 230, 60)
    )
    image.save(path)


# --- the MP4 contract ---------------------------------------------------------------------


# DESIGN.md's table, written out: the code's own table must not be its own test.
DESIGN_TABLE = {
    ("720p", "16:9"): (1280, 720), ("720p", "9:16"): (720, 1280), ("720p", "1:1"): (720, 720),
    ("720p", "4:3"): (960, 720), ("720p", "3:4"): (720, 960),
    ("1080p", "16:9"): (1920, 1080), ("1080p", "9:16"): (1080, 1920),
    ("1080p", "1:1"): (1080, 1080), ("1080p", "4:3"): (1440, 1080), ("1080p", "3:4"): (1080, 1440),
    ("4k", "16:9"): (3840, 2160), ("4k", "9:16"): (2160, 3840), ("4k", "1:1"): (2160, 2160),
    ("4k", "4:3"): (2880, 2160), ("4k", "3:4"): (2160, 2880),
}  # fmt: skip


def test_the_code_has_designs_table() -> None:
    assert {(r, a): output_dimensions(r, a) for r in RESOLUTIONS for a in ASPECT_RATIOS} == DESIGN_TABLE


@pytest.mark.parametrize(("resolution", "aspect_ratio"), sorted(DESIGN_TABLE))
def test_every_table_dimension(tmp_path: Path, resolution: str, aspect_ratio: str) -> None:
    width, height = DESIGN_TABLE[resolution, aspect_ratio]
    out = tmp_path / "out.mp4"
    render(request(width=width, height=height, duration_seconds=0.2), out)
    assert_mp4_contract(out, width, height, 30, 0.2)


@pytest.mark.parametrize("fps", [30, 60, 24])
def test_fps_is_the_streams_rate(tmp_path: Path, fps: int) -> None:
    out = tmp_path / "out.mp4"
    result = render(request(fps=fps, duration_seconds=0.5), out)
    info = assert_mp4_contract(out, *SMALL, fps, 0.5)
    assert result == RenderResult(SMALL[0], SMALL[1], fps, info.frame_count, info.frame_count / fps)


@pytest.mark.parametrize(("duration", "fps"), [(2.5, 30), (0.35, 30), (1.01, 60), (0.01, 30)])
def test_fractional_and_tiny_durations(tmp_path: Path, duration: float, fps: int) -> None:
    out = tmp_path / "out.mp4"
    result = render(request(width=160, height=90, fps=fps, duration_seconds=duration), out)
    info = assert_mp4_contract(out, 160, 90, fps, duration)
    assert result.frame_count == info.frame_count


def test_output_replaces_existing_file_only_when_done(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    render(request(duration_seconds=0.1), out)
    assert out.read_bytes() != b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


# --- determinism, seeds, prompts ----------------------------------------------------------


def test_same_seed_gives_identical_frames(tmp_path: Path) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    render(request(seed=1234), first)
    render(request(seed=1234), second)
    frames_a, frames_b = decode_frames(first), decode_frames(second)
    assert len(frames_a) == len(frames_b) == 15
    for a, b in zip(frames_a, frames_b, strict=True):
        assert np.array_equal(a, b)


def test_different_seeds_look_different(tmp_path: Path) -> None:
    outs = []
    for seed in (1, 2, 2**32 - 1):
        out = tmp_path / f"{seed}.mp4"
        render(request(seed=seed, duration_seconds=0.1), out)
        outs.append(decode_frames(out)[0])
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert mean_abs_diff(outs[i], outs[j]) > 8


def test_prompt_colour_words_steer_the_palette(tmp_path: Path) -> None:
    means = {}
    for word in ("red", "blue"):
        out = tmp_path / f"{word}.mp4"
        render(request(prompt=f"a {word} dream", duration_seconds=0.1), out)
        means[word] = decode_frames(out)[0].reshape(-1, 3).mean(axis=0)
    assert means["red"][0] > means["red"][2]
    assert means["blue"][2] > means["blue"][0]


def test_text_to_video_moves_and_is_not_flat(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    render(request(duration_seconds=1.0), out)
    frames = decode_frames(out)
    assert frames[0].std() > 5  # not a blank frame
    assert mean_abs_diff(frames[0], frames[-1]) > 1


# --- loops -------------------------------------------------------------------------------


def loop_jump_ratio(frames: list[np.ndarray]) -> float:
    """How big the wrap-around step (last -> first) is compared with a typical step."""
    steps = [mean_abs_diff(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
    typical = float(np.median(steps))
    assert typical > 0.05, "the clip does not move"
    return mean_abs_diff(frames[-1], frames[0]) / typical


def test_text_to_video_loop_flows_into_its_start(tmp_path: Path) -> None:
    looped, plain = tmp_path / "loop.mp4", tmp_path / "plain.mp4"
    render(request(duration_seconds=1.0, loop=True, seed=5), looped)
    render(request(duration_seconds=1.0, loop=False, seed=5), plain)
    assert loop_jump_ratio(decode_frames(looped)) < 3
    assert loop_jump_ratio(decode_frames(plain)) > 3


def test_image_to_video_loop_flows_into_its_start(tmp_path: Path) -> None:
    source = tmp_path / "src.png"
    make_source_image(source)
    out = tmp_path / "out.mp4"
    render(
        request(mode="image_to_video", source_image=source, duration_seconds=1.0, loop=True), out
    )
    assert loop_jump_ratio(decode_frames(out)) < 3


def test_video_to_video_loop_flows_into_its_start(tmp_path: Path) -> None:
    source = tmp_path / "src.mp4"
    make_source_video(source, fade=True)
    looped, plain = tmp_path / "loop.mp4", tmp_path / "plain.mp4"
    render(
        request(mode="video_to_video", source_video=source, duration_seconds=1.4, loop=True), looped
    )
    render(request(mode="video_to_video", source_video=source, duration_seconds=1.4), plain)
    assert loop_jump_ratio(decode_frames(looped)) < 3
    assert loop_jump_ratio(decode_frames(plain)) > 3


# --- image_to_video ----------------------------------------------------------------------


def test_image_to_video_animates_and_keeps_colours(tmp_path: Path) -> None:
    source = tmp_path / "src.png"
    make_source_image(source)
    out = tmp_path / "out.mp4"
    render(request(mode="image_to_video", source_image=source, duration_seconds=1.0), out)
    assert_mp4_contract(out, *SMALL, 30, 1.0)
    frames = decode_frames(out)
    assert mean_abs_diff(frames[0], frames[-1]) > 2  # it moves
    image_mean = np.asarray(Image.open(source)).reshape(-1, 3).mean(axis=0)
    for frame in (frames[0], frames[-1]):
        assert np.abs(frame.reshape(-1, 3).mean(axis=0) - image_mean).max() < 25


def test_image_to_video_cover_crops_instead_of_stretching(tmp_path: Path) -> None:
    # A wide picture, green in its middle third and red at both sides: a square cover-crop
    # keeps only the green middle.
    source = tmp_path / "wide.png"
    image = Image.new("RGB", (600, 100), (220, 0, 0))
    image.paste((0, 200, 0), (200, 0, 400, 100))
    image.save(source)
    out = tmp_path / "out.mp4"
    render(
        request(
            mode="image_to_video", source_image=source, width=128, height=128, duration_seconds=0.2
        ),
        out,
    )
    for frame in decode_frames(out):
        mean = frame.reshape(-1, 3).mean(axis=0)
        assert mean[1] > 150 and mean[0] < 40, mean


def test_image_to_video_reads_jpeg_and_transparent_png(tmp_path: Path) -> None:
    jpeg, rgba = tmp_path / "src.jpg", tmp_path / "src.png"
    Image.new("RGB", (64, 48), (30, 160, 90)).save(jpeg, quality=90)
    Image.new("RGBA", (64, 48), (250, 250, 250, 255)).save(rgba)
    for source in (jpeg, rgba):
        out = tmp_path / f"{source.suffix[1:]}.mp4"
        render(request(mode="image_to_video", source_image=source, duration_seconds=0.1), out)
        assert probe(out).frame_count == 3


# --- video_to_video ----------------------------------------------------------------------


def test_video_to_video_retimes_loops_and_grades(tmp_path: Path) -> None:
    source = tmp_path / "src.mp4"
    make_source_video(source, fps=25, frames=25)  # 1 s of source
    out = tmp_path / "out.mp4"
    # 30 fps for 2.5 s: re-timed 25 -> 30 fps and looped 2.5 times.
    render(request(mode="video_to_video", prompt="cinematic", source_video=source, fps=30,
                   duration_seconds=2.5), out)
    assert_mp4_contract(out, *SMALL, 30, 2.5)
    frames = decode_frames(out)
    for i, frame in enumerate(frames):
        expected = (i * 25 // 30) % 25  # the source frame on screen at t = i/30
        bar_x = int(frame.astype(np.int32).sum(axis=(0, 2)).argmax())
        assert 12 * expected <= bar_x < 12 * expected + 12, (i, bar_x)
    # The colour grade is visible: the output is not just the source re-timed.
    assert mean_abs_diff(frames[0], decode_frames(source)[0]) > 5


def _quadrant_video(path: Path, width: int, height: int) -> None:
    """Red left half, blue right half, and a green bottom quarter across both."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (220, 0, 0)
    rgb[:, width // 2 :] = (0, 0, 220)
    rgb[3 * height // 4 :] = (0, 200, 0)
    write_video(path, [rgb] * 3, 25)


@pytest.mark.parametrize(
    ("source_size", "out_size"),
    [((640, 360), (320, 180)), ((640, 360), (180, 320)), ((640, 360), (240, 240)),
     ((320, 180), (640, 360)), ((320, 180), (360, 640)), ((360, 640), (320, 180))],
)  # fmt: skip
def test_video_to_video_frames_the_source_by_cover_crop(
    tmp_path: Path, source_size: tuple[int, int], out_size: tuple[int, int]
) -> None:
    """Larger, smaller and differently shaped sources keep their proportions: the centred
    crop of the output's shape, scaled to fill the frame, never stretched."""
    source = tmp_path / "src.mp4"
    _quadrant_video(source, *source_size)
    out = tmp_path / "out.mp4"
    width, height = out_size
    render(request(mode="video_to_video", prompt="plain", source_video=source, width=width,
                   height=height, duration_seconds=0.1), out)
    frame = decode_frames(out)[0].astype(np.int32)
    # The expected picture: the source cover-cropped to the output's aspect.
    src_w, src_h = source_size
    scale = max(width / src_w, height / src_h)
    xs = (np.arange(width) + 0.5 - width / 2) / scale + src_w / 2  # source column per output column
    ys = (np.arange(height) + 0.5 - height / 2) / scale + src_h / 2
    red_columns = xs < src_w / 2
    green_rows = ys >= 3 * src_h / 4
    margin_x, margin_y = max(3, width // 20), max(3, height // 20)
    for x in (margin_x, width // 2 - margin_x, width // 2 + margin_x, width - margin_x):
        for y in (margin_y, height // 2, height - margin_y):
            if any(abs(y - b) < margin_y for b in np.flatnonzero(np.diff(green_rows))):
                continue  # too close to the green edge to judge
            r, g, b = frame[y, x]
            if green_rows[y]:
                assert g > max(r, b), (x, y, frame[y, x])
            elif red_columns[x]:
                assert r > max(g, b), (x, y, frame[y, x])
            else:
                assert b > max(r, g), (x, y, frame[y, x])


def test_video_to_video_cover_crops_other_aspects(tmp_path: Path) -> None:
    source = tmp_path / "src.mp4"
    make_source_video(source, width=320, height=240, fps=24, frames=12)
    out = tmp_path / "out.mp4"
    render(
        request(
            mode="video_to_video",
            source_video=source,
            width=96,
            height=160,
            fps=60,
            duration_seconds=0.3,
        ),
        out,
    )
    assert_mp4_contract(out, 96, 160, 60, 0.3)


# --- bad sources, cancellation, progress --------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"this is not an image", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"]
)
def test_undecodable_image_is_a_source_media_error(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "bad.png"
    source.write_bytes(content)
    out = tmp_path / "out.mp4"
    with pytest.raises(SourceMediaError, match="source_image"):
        render(request(mode="image_to_video", source_image=source), out)
    assert not out.exists()


def test_truncated_image_is_a_source_media_error(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    make_source_image(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:300])
    with pytest.raises(SourceMediaError):
        render(request(mode="image_to_video", source_image=bad), tmp_path / "out.mp4")


def test_undecodable_video_is_a_source_media_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    good = tmp_path / "good.mp4"
    make_source_video(good)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:200])
    for source in (garbage, truncated, tmp_path / "missing.mp4"):
        out = tmp_path / "out.mp4"
        with pytest.raises(SourceMediaError, match="source_video") as caught:
            render(request(mode="video_to_video", source_video=source), out)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, EngineError)
        assert not out.exists()


def test_missing_image_is_a_source_media_error(tmp_path: Path) -> None:
    with pytest.raises(SourceMediaError, match="not found"):
        render(
            request(mode="image_to_video", source_image=tmp_path / "nope.png"), tmp_path / "o.mp4"
        )


class CancelAfter:
    """A ``should_cancel`` that answers yes once ``frames`` frames have been encoded."""

    def __init__(self, frames: int) -> None:
        self.frames, self.polls = frames, 0

    def __call__(self) -> bool:
        self.polls += 1
        return self.polls > self.frames


def test_cancel_stops_and_removes_the_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    should_cancel = CancelAfter(5)
    with pytest.raises(RenderCancelled):
        render(request(duration_seconds=2.0), out, should_cancel=should_cancel)
    assert should_cancel.polls == 6  # polled once per frame, stopped at once
    assert list(tmp_path.iterdir()) == []


def test_frames_are_made_ahead_at_lower_priority_and_dropped_on_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[float] = []
    niceness: set[int] = set()
    open_real_source = render_module.open_source

    class CountingSource:
        def __init__(self, request: RenderRequest) -> None:
            self.real = open_real_source(request)

        def frame(self, t: float) -> av.VideoFrame:
            made.append(t)
            niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            return self.real.frame(t)

        def close(self) -> None:
            self.real.close()

    monkeypatch.setattr(render_module, "open_source", CountingSource)
    with pytest.raises(RenderCancelled):
        render(request(duration_seconds=2.0), tmp_path / "out.mp4", should_cancel=CancelAfter(5))
    # Five frames encoded; at most the frames already queued ahead were made besides.
    assert 5 <= len(made) <= 5 + render_module._FRAMES_AHEAD
    assert made == sorted(made)
    if sys.platform == "linux":
        ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert niceness == {min(19, ours + render_module._MAKER_NICENESS)}


_FAULTS_PER_FRAME = """
import resource, sys
from pathlib import Path
from vidgate.engine import RenderRequest, render
request = RenderRequest(mode="text_to_video", width=640, height=360, fps=30, duration_seconds=2,
                        seed=1, prompt="flowing liquid metal morphing, dark background, zoom in")
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
render(request, Path(sys.argv[1]))
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / request.frame_count)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc settings are glibc's")
def test_a_fresh_process_reuses_freed_frame_memory(tmp_path: Path) -> None:
    # Without the malloc settings this scene faults in about 1,500 fresh pages per frame.
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS_PER_FRAME, str(tmp_path / "out.mp4")],
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert float(done.stdout) < 300


def test_cancel_leaves_an_existing_output_alone(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RenderCancelled):
        render(request(), out, should_cancel=lambda: True)
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_progress_rises_to_one(tmp_path: Path) -> None:
    values: list[float] = []
    render(
        request(fps=60, duration_seconds=5.0, width=64, height=36),
        tmp_path / "out.mp4",
        progress=values.append,
    )
    assert values[0] == 0.0 and values[-1] == 1.0
    assert all(b > a for a, b in itertools.pairwise(values))
    assert 10 <= len(values) <= 102


def test_progress_for_a_single_frame(tmp_path: Path) -> None:
    values: list[float] = []
    render(request(duration_seconds=0.001), tmp_path / "out.mp4", progress=values.append)
    assert values[0] == 0.0 and values[-1] == 1.0
    assert all(b > a for a, b in itertools.pairwise(values))


# --- request validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"mode": "audio_to_video"},
        {"width": 321},
        {"height": 0},
        {"fps": 0},
        {"fps": 29.97},
        {"duration_seconds": 0},
        {"duration_seconds": float("nan")},
        {"seed": -1},
        {"seed": 2**32},
        {"mode": "image_to_video"},
        {"mode": "video_to_video"},
    ],
)
def test_invalid_requests_are_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        request(**overrides)
