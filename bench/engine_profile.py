"""Where render()'s wall time goes: cProfile of one render per setting, split into the frame
source (scene maths + numpy -> VideoFrame), the writer's reformat (upscale + RGB -> yuv420p),
the encoder (VideoStream.encode, mux, and closing the container: flush + faststart rewrite), and
the rest. Times are of the calling thread, so "encode" includes waiting on x264's own threads.

    .venv/bin/python bench/engine_profile.py              # 720p30 1080p30 4k30 720p60
    .venv/bin/python bench/engine_profile.py 720p30       # just one

One untimed warm-up render first; one profiled render per setting (not a best of N: use
bench/engine.py for timings, this only for the split).
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import make_request  # noqa: E402

from vidgate.engine import render  # noqa: E402

SETTINGS = {"720p30": ("720p", 30), "1080p30": ("1080p", 30), "4k30": ("4k", 30),
            "720p60": ("720p", 60)}
PARTS = {
    "scene": ("render.py", "frame", True),  # SceneSource.frame, cumulative
    "reformat": ("~", "<method 'reformat' of 'av.video.reformatter.VideoReformatter' objects>",
                 False),
    "encode": ("~", "<method 'encode' of 'av.video.stream.VideoStream' objects>", False),
    "mux": ("~", "<method 'mux' of 'av.container.output.OutputContainer' objects>", False),
    "close": ("~", "<method 'close' of 'av.container.output.OutputContainer' objects>", False),
}


def split(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    out = dict.fromkeys(PARTS, 0.0)
    for (file, _line, func), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
        for part, (suffix, name, cumulative) in PARTS.items():
            if func == name and file.endswith(suffix):
                out[part] += cumtime if cumulative else tottime
    return out


def main() -> int:
    names = sys.argv[1:] or list(SETTINGS)
    work = Path(tempfile.mkdtemp(prefix="vidgate-engine-profile-"))
    try:
        render(make_request("720p", 30, 1.0), work / "warmup.mp4")
        print(f"{'setting':9} {'wall':>7} {'scene':>13} {'reformat':>13} {'encode+mux':>13} "
              f"{'close':>12} {'other':>12}")
        for name in names:
            resolution, fps = SETTINGS[name]
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            render(make_request(resolution, fps), work / f"{name}.mp4")
            profile.disable()
            wall = time.perf_counter() - start
            parts = split(profile)
            encode = parts["encode"] + parts["mux"]
            other = wall - parts["scene"] - parts["reformat"] - encode - parts["close"]

            def cell(seconds: float, width: int = 13, wall: float = wall) -> str:
                return f"{seconds:5.2f} s {100 * seconds / wall:3.0f}%".rjust(width)

            print(f"{name:9} {wall:5.2f} s {cell(parts['scene'])} {cell(parts['reformat'])} "
                  f"{cell(encode)} {cell(parts['close'], 12)} {cell(other, 12)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
