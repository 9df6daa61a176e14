"""Every render can leave a JPEG poster: the middle frame, at the clip's aspect ratio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.engine.test_render import decode_frames, make_source_image, request
from vidgate.engine import RenderCancelled, render
from vidgate.engine.poster import poster_size


@pytest.mark.parametrize(("width", "height"), [(320, 180), (180, 320), (3840, 2160)])
def test_poster_is_a_jpeg_of_the_middle_frame(tmp_path: Path, width: int, height: int) -> None:
    out, poster = tmp_path / "v.mp4", tmp_path / "p.jpg"
    render(request(width=width, height=height, duration_seconds=0.2), out, poster_path=poster)
    image = Image.open(poster)
    assert image.format == "JPEG"
    assert image.size == poster_size(width, height)
    assert abs(image.size[0] / image.size[1] - width / height) < 0.01
    if width < 1000:  # the poster looks like the clip's middle frame
        frames = decode_frames(out)
        middle = frames[len(frames) // 2].astype(float)
        assert np.abs(np.asarray(image, dtype=float) - middle).mean() < 8


def test_image_to_video_poster(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    make_source_image(source)
    poster = tmp_path / "p.jpg"
    render(request(mode="image_to_video", source_image=source, duration_seconds=0.2),
           tmp_path / "v.mp4", poster_path=poster)
    assert Image.open(poster).format == "JPEG"


def test_cancelled_render_leaves_no_poster(tmp_path: Path) -> None:
    poster = tmp_path / "p.jpg"
    calls = iter(range(1000))
    with pytest.raises(RenderCancelled):
        render(request(duration_seconds=1.0), tmp_path / "v.mp4", poster_path=poster,
               should_cancel=lambda: next(calls) > 20)
    assert not poster.exists()
