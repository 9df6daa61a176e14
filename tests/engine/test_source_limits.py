"""Sources are refused by their size before they are decoded: an image by the pixels it
decodes to, a video by the frame size and length its file declares. Large JPEGs are decoded
reduced to what the output needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import sparse_png
from tests.engine.test_render import assert_mp4_contract, make_source_video, request
from vidgate.engine import SourceMediaError, render
from vidgate.engine.image import load_image
from vidgate.media.limits import DEFAULT_MAX_SOURCE_PIXELS, SourceLimits

# Run in a fresh process, so its peak memory is the load's alone. VmHWM is the peak of this
# process's own memory (ru_maxrss would carry over the parent's peak across exec).
_LOAD_AND_MEASURE = """
import json, re, sys
from pathlib import Path
from vidgate.engine import SourceMediaError
from vidgate.engine.image import load_image
try:
    load_image(Path(sys.argv[1]), cover=(1472, 828), max_pixels=int(sys.argv[2]))
    outcome = "decoded"
except SourceMediaError as exc:
    outcome = str(exc)
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(json.dumps({"outcome": outcome, "peak_kib": int(peak)}))
"""


def load_in_fresh_process(path: Path, max_pixels: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_MEASURE, str(path), str(max_pixels)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return json.loads(done.stdout)


def test_a_small_file_of_many_pixels_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(sparse_png(13_000, 13_000))
    assert bomb.stat().st_size < 3_000_000
    refused = load_in_fresh_process(bomb, DEFAULT_MAX_SOURCE_PIXELS)
    assert refused["outcome"] == (
        "source_image is 13000x13000 pixels, more than this server decodes: at most 40 million pixels "
        "(a JPEG counts at the size it is decoded to, up to 8 times smaller each side)"
    )
    # decoded, the picture alone is 507 MB; refused unread, the process stays small
    assert int(refused["peak_kib"]) < 200 * 1024


def test_the_limit_is_a_setting(tmp_path: Path) -> None:
    picture = tmp_path / "picture.png"
    picture.write_bytes(sparse_png(2000, 1000))
    assert load_image(picture, cover=(1472, 828), max_pixels=2_000_000).size == (2000, 1000)
    with pytest.raises(SourceMediaError, match="is 2000x1000 pixels"):
        load_image(picture, cover=(1472, 828), max_pixels=1_999_999)


def make_jpeg(path: Path, size: tuple[int, int], exif: Image.Exif | None = None) -> None:
    Image.new("RGB", size, (90, 140, 200)).save(path, quality=80, exif=exif or Image.Exif())


def test_a_large_jpeg_is_decoded_reduced_to_what_the_output_needs(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    make_jpeg(photo, (4000, 3000))
    # 720p at the closest zoom needs 1472x828 covered: half size (2000x1500) is the least that does
    reduced = load_image(photo, cover=(1472, 828), max_pixels=5_000_000)
    assert reduced.size == (2000, 1500)
    assert reduced.mode == "RGB"
    # 4k needs it whole, and whole it is over this limit
    with pytest.raises(SourceMediaError, match="is 4000x3000 pixels"):
        load_image(photo, cover=(4416, 2484), max_pixels=5_000_000)


def test_a_rotated_jpeg_is_reduced_by_its_upright_size(tmp_path: Path) -> None:
    """Stored 3000x2000 and turned a quarter by EXIF: upright it is 2000x3000, and covering a
    736x414 frame upright needs 736x1104, so it can only be halved. Judged by its stored
    shape it would be quartered, to 500x750 upright: narrower than the frame."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    photo = tmp_path / "turned.jpg"
    make_jpeg(photo, (3000, 2000), exif)
    upright = load_image(photo, cover=(736, 414), max_pixels=DEFAULT_MAX_SOURCE_PIXELS)
    assert upright.size == (1000, 1500)


def test_a_source_video_is_refused_by_its_frame_size_and_length(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    make_source_video(clip, width=320, height=240, fps=25, frames=50)  # 2 s
    out = tmp_path / "out.mp4"
    too_wide = request(mode="video_to_video", source_video=clip,
                       source_limits=SourceLimits(max_pixels=320 * 240 - 1))
    with pytest.raises(SourceMediaError, match="source_video is 320x240 pixels, more than this server"):
        render(too_wide, out)
    too_long = request(mode="video_to_video", source_video=clip,
                       source_limits=SourceLimits(max_video_seconds=1.5))
    with pytest.raises(SourceMediaError, match=r"source_video is 2\.0 s long; .* at most 1\.5 s"):
        render(too_long, out)
    assert not out.exists()
    within = request(mode="video_to_video", source_video=clip,
                     source_limits=SourceLimits(max_pixels=320 * 240, max_video_seconds=2.0))
    render(within, out)
    assert_mp4_contract(out, within.width, within.height, within.fps, within.duration_seconds)
