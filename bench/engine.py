"""Local-engine benchmark of vidgate: render() against an encoder-only ceiling measured in the
same run, peak memory of a long 4k render, and MoviePy rendering the same animation.

Run it from the repository root:

    .venv/bin/python bench/engine.py            # full run, about 2 to 3 minutes
    .venv/bin/python bench/engine.py --quick    # 720p30 and 1080p30 only, one run each, no 4k
    .venv/bin/python bench/engine.py --json     # the table on stderr, the figures as JSON on stdout

The figures (every clip: text_to_video, seed 1, 5 s, 16:9). Each setting renders the seed
document's six text-to-video example prompts as the API renders them (prompt_optimizer on, its
default), and reports the suite (total render time / total encoder-only time over the six) and
the worst prompt; 4k uses the two costliest prompts to keep the run short:

* Encoder-only ceiling. The clip's frames are made ONCE, before timing, with the engine's own
  frame source (vidgate.engine.render.open_source) and converted, with the writer's own
  reformat settings (bicubic, BT.709 limited range), to yuv420p at the output size: the
  encoder's input format. They are tagged so that Mp4Writer's reformat step hands them through
  untouched (checked at run time), then the timed part is only Mp4Writer (libx264, same
  PRESET / CRF / THREADS, +faststart, the same open/flush/close) encoding that list into an MP4.
  The two stages of making the frames are also timed alone, streamed as render() makes them
  (scene maths + numpy -> VideoFrame; upscale + RGB->YUV), which says where render()'s extra
  time goes. CPU time (all threads) of every timed run is recorded: "cores" = CPU / wall.
* render: vidgate.engine.render() of the same request, end to end.
  Ceiling and render are interleaved (ceiling, render, ceiling, render, ...), best of N
  (N=3; 2 at 4k; 1 with --quick). ratio = render / ceiling. The two MP4s are compared byte for
  byte: identical files mean the ceiling encoded exactly the frames render() encodes.
* Peak memory: a 10 s 4k30 render in a fresh Python subprocess; its peak RSS (VmHWM from
  /proc/self/status, read by the child as it ends). The peak RSS of a subprocess that only
  imports the engine is shown beside it.
* MoviePy (if importable; the row is skipped with a message otherwise): a VideoClip whose frame
  function calls the same engine frame source and upscales with the same bicubic swscale to an
  RGB numpy array at 1280x720, written with write_videofile(codec="libx264", fps=30,
  preset=PRESET, ffmpeg_params=["-crf", CRF, "-movflags", "+faststart"] (+ "-x264-params",
  X264_PARAMS when the writer sets them), threads=THREADS,
  audio=False, logger=None). Interleaved with render() of the same request, best of N.
  ratio = MoviePy / vidgate.

Exit status 0 whatever the figures (PASS/FAIL lines are a measurement); non-zero only when the
bench itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from vidgate.engine import RenderRequest, optimize_prompt, render
from vidgate.engine import encode as engine_encode
from vidgate.engine.encode import CRF, PIX_FMT, PRESET, THREADS, Mp4Writer
from vidgate.engine.render import open_source
from vidgate.engine.yuv import COLOR_RANGE, COLORSPACE
from vidgate.media.dimensions import output_dimensions

# Extra libx264 options of the writer, if it sets any (given to MoviePy's ffmpeg as well).
X264_PARAMS: str | None = getattr(engine_encode, "X264_PARAMS", None)
PYTHON = sys.executable
# The seed document's text-to-video example prompts (its four "Example Prompts" but the portrait,
# which names no subject the engine draws, its request example and its polling example), plus
# the curl example. The API renders them with prompt_optimizer on.
PROMPTS = tuple(optimize_prompt(p) for p in (
    "Timelapse of clouds rolling over mountain peaks, golden hour lighting, 4K cinematic",
    "Sports car drifting around a corner, dust and smoke, dramatic slow motion",
    "Flowing liquid metal morphing into geometric shapes, reflective surface, dark background",
    "A timelapse of a flower blooming",
    "A drone flyover of a tropical beach at golden hour, cinematic",
    "Ocean waves crashing on rocks",
))
HEAVY_PROMPTS = (PROMPTS[4], PROMPTS[5])  # the costliest scenes to draw, for 4k and peak memory
SEED = 1
MIB = 1024 * 1024
TARGETS = {
    "ratio_max": 1.3,  # render / encoder-only, at 720p and 1080p
    "ratio_settings": ("720p30", "720p60", "1080p30"),
    "720p30_s": 2.0,
    "peak_bytes": 1.5e9,  # 10 s 4k30 render, peak RSS (1.5 GB = 1,430 MiB)
    "moviepy_ratio_min": 1.0,  # MoviePy time / vidgate time: vidgate faster
}


class BenchError(Exception):
    """The bench itself could not run (not a missed target)."""


@dataclass(frozen=True)
class Setting:
    name: str
    resolution: str
    fps: int
    runs: int


@dataclass(frozen=True)
class Config:
    name: str
    settings: tuple[Setting, ...]
    peak_memory: bool
    moviepy_runs: int


FULL = Config(
    "full",
    (Setting("720p30", "720p", 30, 3), Setting("1080p30", "1080p", 30, 3),
     Setting("4k30", "4k", 30, 2), Setting("720p60", "720p", 60, 3)),
    peak_memory=True, moviepy_runs=3,
)
QUICK = Config(
    "quick",
    (Setting("720p30", "720p", 30, 1), Setting("1080p30", "1080p", 30, 1)),
    peak_memory=False, moviepy_runs=1,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_request(resolution: str, fps: int, duration: float = 5.0, prompt: str = PROMPTS[0]) -> RenderRequest:
    width, height = output_dimensions(resolution, "16:9")
    return RenderRequest(mode="text_to_video", prompt=prompt, width=width, height=height,
                         fps=fps, duration_seconds=duration, seed=SEED)


# --- encoder-only ceiling ----------------------------------------------------------------------


def _to_encoder_input(reformatter: VideoReformatter, frame: av.VideoFrame,
                      request: RenderRequest) -> av.VideoFrame:
    """What Mp4Writer.write() turns ``frame`` into before encoding (same call, same options)."""
    out = reformatter.reformat(
        frame, width=request.width, height=request.height, format=PIX_FMT,
        dst_colorspace=COLORSPACE, dst_color_range=COLOR_RANGE,
        interpolation=Interpolation.BICUBIC, threads=1,
    )
    # Tagged, so that the writer's own reformat sees nothing to do and hands it on as it is.
    out.colorspace = COLORSPACE
    out.color_range = COLOR_RANGE
    return out


def pregenerate(request: RenderRequest) -> list[av.VideoFrame]:
    """The clip's frames, made by the engine's source, in the encoder's input format."""
    reformatter = VideoReformatter()
    source = open_source(request)
    try:
        frames = [_to_encoder_input(reformatter, source.frame(i / request.fps), request)
                  for i in range(request.frame_count)]
    finally:
        source.close()
    # The writer must do no conversion work on these frames.
    probe = VideoReformatter().reformat(
        frames[0], width=request.width, height=request.height, format=PIX_FMT,
        dst_colorspace=COLORSPACE, dst_color_range=COLOR_RANGE,
        interpolation=Interpolation.BICUBIC, threads=1,
    )
    if probe is not frames[0]:
        raise BenchError("the writer would convert the pre-generated frames again")
    if len(frames) > 1 and np.array_equal(frames[0].planes[0], frames[-1].planes[0]):
        raise BenchError("pre-generated frames are all the same (a reused buffer?)")
    return frames


def stage_times(request: RenderRequest) -> tuple[float, float]:
    """Seconds for the clip's frames from the source, and for reformatting them, streamed as
    render() does (nothing held, so no first-touch allocation of a list of big frames)."""
    reformatter = VideoReformatter()
    source = open_source(request)
    scene_s = convert_s = 0.0
    try:
        for index in range(request.frame_count):
            t0 = time.perf_counter()
            frame = source.frame(index / request.fps)
            t1 = time.perf_counter()
            _to_encoder_input(reformatter, frame, request)
            convert_s += time.perf_counter() - t1
            scene_s += t1 - t0
    finally:
        source.close()
    return scene_s, convert_s


def cpu_seconds() -> float:
    """This process's CPU time so far, all threads (the encoder's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def encode_only(frames: list[av.VideoFrame], request: RenderRequest,
                path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of Mp4Writer encoding ``frames`` (open to published file)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with Mp4Writer(path, request.width, request.height, request.fps) as writer:
        for frame in frames:
            writer.write(frame)
    return time.perf_counter() - start, cpu_seconds() - cpu


def time_render(request: RenderRequest, path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of render()."""
    start, cpu = time.perf_counter(), cpu_seconds()
    render(request, path)
    return time.perf_counter() - start, cpu_seconds() - cpu


def measure_prompt(setting: Setting, prompt: str, work: Path) -> dict[str, Any]:
    """One prompt at one setting: encoder-only and render() interleaved, best of N."""
    request = make_request(setting.resolution, setting.fps, prompt=prompt)
    scene_s, convert_s = stage_times(request)
    frames = pregenerate(request)
    ceiling_path, render_path = work / f"{setting.name}-ceiling.mp4", work / f"{setting.name}.mp4"
    ceilings, renders = [], []  # (wall, cpu) per run
    for _ in range(setting.runs):
        ceilings.append(encode_only(frames, request, ceiling_path))
        renders.append(time_render(request, render_path))
    del frames
    best_ceiling, best_render = min(ceilings), min(renders)
    log(f"  {best_ceiling[0]:.2f} s encoder-only, {best_render[0]:.2f} s render "
        f"({best_render[0] / best_ceiling[0]:.2f}x): {prompt[:60]}")
    return {
        "prompt": prompt,
        "ceiling_s": best_ceiling[0],
        "render_s": best_render[0],
        "ceiling_cpu_s": min(cpu for _, cpu in ceilings),
        "render_cpu_s": min(cpu for _, cpu in renders),
        "ceiling_all_s": [wall for wall, _ in ceilings],
        "render_all_s": [wall for wall, _ in renders],
        "ratio": best_render[0] / best_ceiling[0],
        "scene_s": scene_s,
        "convert_s": convert_s,
        "mp4_bytes": render_path.stat().st_size,
        "same_bytes": ceiling_path.read_bytes() == render_path.read_bytes(),
    }


def measure_setting(setting: Setting, work: Path) -> dict[str, Any]:
    prompts = HEAVY_PROMPTS if setting.resolution == "4k" else PROMPTS
    request = make_request(setting.resolution, setting.fps)
    log(f"{setting.name}: {request.width}x{request.height}, {request.frame_count} frames, "
        f"{len(prompts)} prompts, best of {setting.runs}")
    rows = [measure_prompt(setting, prompt, work) for prompt in prompts]
    total = {key: sum(row[key] for row in rows)
             for key in ("ceiling_s", "render_s", "ceiling_cpu_s", "render_cpu_s", "scene_s", "convert_s")}
    worst = max(rows, key=lambda row: row["ratio"])
    return {
        "setting": setting.name,
        "width": request.width,
        "height": request.height,
        "fps": request.fps,
        "frames": request.frame_count,
        "runs": setting.runs,
        **total,
        # The suite: all prompts' best render times over all their best encoder-only times.
        "ratio": total["render_s"] / total["ceiling_s"],
        "cpu_ratio": total["render_cpu_s"] / total["ceiling_cpu_s"],
        "worst_ratio": worst["ratio"],
        "worst_prompt": worst["prompt"],
        "slowest_render_s": max(row["render_s"] for row in rows),
        "same_bytes": all(row["same_bytes"] for row in rows),
        "prompts": rows,
    }


# --- peak memory -------------------------------------------------------------------------------

# The child's own high-water mark. Not ru_maxrss: Linux folds the RSS that the forked child
# inherited from this (large) process into it at exec, so it would read at least our own size.
_HWM = """
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("VmHWM", int(line.split()[1]) * 1024, flush=True)
"""
_RENDER_CHILD = """
import sys
from pathlib import Path
from vidgate.engine import RenderRequest, optimize_prompt, render
from vidgate.media.dimensions import output_dimensions
w, h = output_dimensions("4k", "16:9")
render(RenderRequest(mode="text_to_video", prompt=sys.argv[1], width=w, height=h, fps=30,
                     duration_seconds=10.0, seed=int(sys.argv[2])), Path(sys.argv[3]))
""" + _HWM
_IMPORT_CHILD = "import vidgate.engine, vidgate.media.dimensions\n" + _HWM


def child_peak(code: str, *args: str) -> tuple[float, float]:
    """Peak RSS (bytes, the child's VmHWM at its end) and wall seconds of ``python -c code``."""
    start = time.perf_counter()
    proc = subprocess.run([PYTHON, "-c", code, *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, text=True, timeout=600, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"memory child exited with {proc.returncode}")
    for line in proc.stdout.splitlines():
        if line.startswith("VmHWM "):
            return float(line.split()[1]), wall
    raise BenchError(f"memory child printed no VmHWM: {proc.stdout!r}")


def measure_peak(work: Path) -> dict[str, Any]:
    log("peak memory: 10 s 4k30 render in a fresh subprocess")
    baseline, _ = child_peak(_IMPORT_CHILD)
    path = work / "peak-4k-10s.mp4"
    peak, wall = child_peak(_RENDER_CHILD, HEAVY_PROMPTS[0], str(SEED), str(path))
    log(f"  peak RSS {peak / MIB:.0f} MiB (import alone {baseline / MIB:.0f} MiB), {wall:.1f} s")
    return {"peak_rss_mib": peak / MIB, "import_rss_mib": baseline / MIB, "wall_s": wall,
            "mp4_bytes": path.stat().st_size}


# --- MoviePy -----------------------------------------------------------------------------------


def moviepy_version() -> str | None:
    try:
        import moviepy
    except ImportError:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moviepy")
    except PackageNotFoundError:
        return getattr(moviepy, "__version__", "unknown")


def moviepy_render(request: RenderRequest, path: Path) -> float:
    """The same animation written by MoviePy (frames from the engine's source, RGB arrays)."""
    start = time.perf_counter()
    try:
        from moviepy import VideoClip  # MoviePy 2.x
        new_api = True
    except ImportError:
        from moviepy.editor import VideoClip  # MoviePy 1.x
        new_api = False
    source = open_source(request)
    reformatter = VideoReformatter()

    def frame_function(t: float) -> np.ndarray:
        frame = source.frame(t)
        return reformatter.reformat(
            frame, width=request.width, height=request.height, format="rgb24",
            interpolation=Interpolation.BICUBIC,
        ).to_ndarray()

    try:
        if new_api:
            clip = VideoClip(frame_function=frame_function, duration=request.duration_seconds)
        else:
            clip = VideoClip(make_frame=frame_function, duration=request.duration_seconds)
        clip.write_videofile(
            str(path), fps=request.fps, codec="libx264", preset=PRESET,
            ffmpeg_params=["-crf", str(CRF), "-movflags", "+faststart",
                           *(["-x264-params", X264_PARAMS] if X264_PARAMS else [])],
            threads=THREADS,
            audio=False, logger=None,
        )
        clip.close()
    finally:
        source.close()
    return time.perf_counter() - start


def measure_moviepy(runs: int, work: Path) -> dict[str, Any]:
    version = moviepy_version()
    if version is None:
        log("MoviePy is not importable: skipping the MoviePy row "
            "(.venv/bin/python -m pip install moviepy to include it)")
        return {"skipped": "moviepy is not importable"}
    request = make_request("720p", 30)
    log(f"MoviePy {version}: 720p30 5 s, {runs} run(s) interleaved with render()")
    mps, vgs = [], []
    for run in range(runs):
        mps.append(moviepy_render(request, work / "moviepy.mp4"))
        vgs.append(time_render(request, work / "vidgate.mp4")[0])
        log(f"  run {run + 1}/{runs}: MoviePy {mps[-1]:.2f} s, vidgate {vgs[-1]:.2f} s")
    return {
        "version": version,
        "moviepy_s": min(mps),
        "vidgate_s": min(vgs),
        "moviepy_all_s": mps,
        "vidgate_all_s": vgs,
        "ratio": min(mps) / min(vgs),
        "mp4_bytes": {"moviepy": (work / "moviepy.mp4").stat().st_size,
                      "vidgate": (work / "vidgate.mp4").stat().st_size},
    }


# --- the run -----------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    return {
        "loadavg_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pyav": av.__version__,
        "ffmpeg_libavcodec": ".".join(str(v) for v in av.library_versions["libavcodec"]),
        "numpy": np.__version__,
        "preset": PRESET,
        "crf": CRF,
        "threads": THREADS,
        "x264_params": X264_PARAMS,
        "moviepy": moviepy_version(),
    }


def run(cfg: Config) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="vidgate-engine-bench-"))
    env = environment()
    try:
        # A warm-up render, so that the first timed row pays no import or first-call cost.
        render(make_request("720p", 30, 1.0), work / "warmup.mp4")
        settings = [measure_setting(s, work) for s in cfg.settings]
        peak = measure_peak(work) if cfg.peak_memory else None
        moviepy = measure_moviepy(cfg.moviepy_runs, work)
        return {"config": asdict(cfg), "environment": env, "settings": settings,
                "peak": peak, "moviepy": moviepy}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- report ------------------------------------------------------------------------------------


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {row["setting"]: row for row in results["settings"]}
    out = []
    for name in TARGETS["ratio_settings"]:
        if name in rows:
            for label, key in (("suite", "ratio"), ("worst prompt", "worst_ratio")):
                r = rows[name][key]
                out.append({"name": f"{name} render / encoder-only, {label}", "value": f"{r:.2f}x",
                            "target": f"<= {TARGETS['ratio_max']}x", "pass": r <= TARGETS["ratio_max"]})
    if "720p30" in rows:
        s = rows["720p30"]["slowest_render_s"]
        out.append({"name": "5 s 720p30 render, slowest prompt", "value": f"{s:.2f} s",
                    "target": f"< {TARGETS['720p30_s']:g} s", "pass": s < TARGETS["720p30_s"]})
    peak = results["peak"]
    if peak is not None:
        mib = peak["peak_rss_mib"]
        limit = TARGETS["peak_bytes"] / MIB
        out.append({"name": "10 s 4k30 render peak RSS", "value": f"{mib:.0f} MiB",
                    "target": f"< 1.5 GB ({limit:.0f} MiB)", "pass": mib < limit})
    mp = results["moviepy"]
    if "skipped" not in mp:
        out.append({"name": "vs MoviePy (720p30, MoviePy time / vidgate time)",
                    "value": f"{mp['ratio']:.2f}x", "target": "> 1x (vidgate faster)",
                    "pass": mp["ratio"] > TARGETS["moviepy_ratio_min"]})
    return out


def report(results: dict[str, Any]) -> str:
    env, cfg = results["environment"], results["config"]
    out = [
        f"vidgate engine benchmark ({cfg['name']}): Python {env['python']}, {env['cpus']} CPUs "
        f"(1-min load average {env['loadavg_at_start']:.2f} at the start), PyAV {env['pyav']} "
        f"(libavcodec {env['ffmpeg_libavcodec']}), numpy {env['numpy']}",
        f"libx264 preset {env['preset']}, crf {env['crf']}, threads {env['threads']}, "
        f"x264-params {env['x264_params'] or '-'}, yuv420p, +faststart; text_to_video, "
        "the seed's example prompts (optimized, as the API renders them), seed 1, 5 s clips, 16:9",
        "",
        "render() against encoder-only (Mp4Writer encoding pre-generated yuv420p frames at the "
        "output size), summed over the prompts,",
        "  interleaved, best of N (wall time); frames/s from render; cores = CPU time / wall time "
        "of that best run (all threads);",
        "  CPU ratio = least CPU time of the render runs / least CPU time of the encoder-only runs;",
        "  the last two columns: the frames made alone, streamed as render() makes them:",
        "  scene = the engine's frame source, reformat = upscale + RGB->yuv420p (writer's "
        "settings)",
        f"  {'setting':9} {'size':>9} {'frames':>6} {'N':>2} {'encoder-only':>12} "
        f"{'render':>8} {'ratio':>6} {'fps':>6} {'cores enc/rnd':>13} {'CPU ratio':>9} "
        f"{'same MP4':>8} "
        f"{'scene':>7} {'reformat':>8}",
    ]
    for row in results["settings"]:
        out.append(
            f"  {row['setting']:9} {row['width']:>4}x{row['height']:<4} {row['frames']:6d} "
            f"{row['runs']:2d} {row['ceiling_s']:10.2f} s {row['render_s']:6.2f} s "
            f"{row['ratio']:5.2f}x {row['frames'] * len(row['prompts']) / row['render_s']:6.1f} "
            f"{row['ceiling_cpu_s'] / row['ceiling_s']:6.2f}/{row['render_cpu_s'] / row['render_s']:<6.2f} "
            f"{row['cpu_ratio']:8.2f}x "
            f"{'yes' if row['same_bytes'] else 'NO':>8} {row['scene_s']:5.2f} s "
            f"{row['convert_s']:6.2f} s")
    out += ["", "Per prompt (best of N, wall time):"]
    for row in results["settings"]:
        for one in row["prompts"]:
            out.append(f"  {row['setting']:9} {one['ceiling_s']:6.2f} s {one['render_s']:6.2f} s "
                       f"{one['ratio']:5.2f}x  scene {one['scene_s']:5.2f} s  {one['prompt'][:70]}")
    peak = results["peak"]
    out.append("")
    if peak is None:
        out.append("Peak memory: skipped (--quick)")
    else:
        out.append(f"Peak memory, 10 s 4k30 render in a fresh subprocess: peak RSS "
                   f"{peak['peak_rss_mib']:.0f} MiB (the interpreter with the engine imported: "
                   f"{peak['import_rss_mib']:.0f} MiB); {peak['wall_s']:.1f} s")
    mp = results["moviepy"]
    if "skipped" in mp:
        out.append(f"MoviePy: skipped ({mp['skipped']})")
    else:
        out.append(f"MoviePy {mp['version']} (same frames as RGB arrays, libx264 via its ffmpeg, "
                   f"same preset/crf/threads/x264-params/faststart), 5 s 720p30, best of "
                   f"{len(mp['moviepy_all_s'])}:")
        out.append(f"  MoviePy {mp['moviepy_s']:.2f} s, vidgate render {mp['vidgate_s']:.2f} s: "
                   f"vidgate {mp['ratio']:.2f}x faster")
    out += ["", "Targets:"]
    for v in verdicts(results):
        out.append(f"  {v['name']}: {v['value']} (target {v['target']}) "
                   f"{'PASS' if v['pass'] else 'FAIL'}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="720p30 and 1080p30 once each, no 4k, no peak-memory run")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the table goes to stderr)")
    args = parser.parse_args()
    try:
        results = run(QUICK if args.quick else FULL)
    except (BenchError, OSError, av.FFmpegError, subprocess.TimeoutExpired) as exc:
        log(f"the bench broke: {exc!r}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    results["targets"] = verdicts(results)
    table = report(results)
    if args.json:
        print(table, file=sys.stderr)
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
