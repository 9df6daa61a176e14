"""The GPU backend (diffusers) on the CPU, with a tiny LTX-Video made in the test and loaded by
the real loader with the hub switched off: sizes and frame counts of the family's form, the
weights check, progress, cancellation, determinism, refused requests, and text and image to
video through the API on the gpu lane."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from click.testing import CliRunner

from tests.backends.gpu_support import save_tiny_ltx, save_tiny_wan
from tests.conftest import Harness, auth, make_png, serving, settings_for_tests
from vidgate.auth import service as keys
from vidgate.backends import local
from vidgate.backends.base import JobContext, VideoRequest
from vidgate.backends.errors import BackendCancelled, BackendError
from vidgate.backends.gpu import plugin as gpu_plugin
from vidgate.backends.gpu.backend import DiffusersBackend
from vidgate.backends.gpu.config import GpuSettings
from vidgate.backends.gpu.families import LTX, WAN
from vidgate.backends.gpu.models import missing_parts
from vidgate.cli import main as cli
from vidgate.config import Settings
from vidgate.media.limits import SourceLimits

LTX_IDS = ["local/ltx-video", "local/ltx-video/image-to-video"]
GEN = "/api/v1/videos/generations"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_tiny_ltx(root / "ltx-video")
    return root


def gpu(models_dir: Path, **overrides: Any) -> GpuSettings:
    return GpuSettings(models_dir=models_dir, steps=4, **overrides)


def test_sizes_and_frame_counts_take_each_familys_form() -> None:
    assert LTX.size("720p", "16:9") == (1280, 704) and LTX.size("720p", "4:3") == (960, 704)
    assert WAN.size("720p", "16:9") == (1280, 720) and WAN.size("720p", "1:1") == (720, 720)
    assert [LTX.frames(seconds) for seconds in (1, 2, 5, 10.2, 12)] == [25, 49, 121, 257, 257]
    assert [WAN.frames(seconds) for seconds in (1, 2, 5)] == [17, 33, 81]
    assert all((LTX.frames(s / 10) - 1) % 8 == 0 and (WAN.frames(s / 10) - 1) % 4 == 0 for s in range(10, 120))
    assert (LTX.fps, WAN.fps, LTX.max_duration, WAN.max_duration) == (25, 16, 10.2, 5.0)


def test_the_weights_check_names_what_is_missing(tmp_path: Path, models_dir: Path) -> None:
    assert missing_parts(tmp_path / "nothing") == [f"{tmp_path / 'nothing'} (no such folder)"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text((models_dir / "ltx-video" / "model_index.json").read_text())
    for part in ("scheduler", "tokenizer", "text_encoder", "vae"):
        (broken / part).symlink_to(models_dir / "ltx-video" / part)
    (broken / "transformer").mkdir()
    (broken / "transformer" / "config.json").write_text("{}")
    assert missing_parts(broken) == [f"{broken / 'transformer'} (its weights, *.safetensors)"]
    assert missing_parts(models_dir / "ltx-video") == []


def test_models_are_listed_only_where_their_weights_are(tmp_path: Path, models_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    empty = gpu_plugin.plugin(settings, GpuSettings(models_dir=tmp_path))
    assert empty.models == () and not empty.configured
    ready = gpu_plugin.plugin(settings, gpu(models_dir))
    assert [model.id for model in ready.models] == LTX_IDS and ready.configured and ready.lane == "gpu"
    assert ready.models[0].resolutions == ("720p",) and ready.models[0].max_duration == 10.2
    assert "fps" in ready.models[0].ignores  # clips play at the family's own rate, and say so


def test_models_check_says_what_is_ready_and_where_the_rest_goes(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGATE_GPU_MODELS_DIR", str(models_dir))
    checked = CliRunner().invoke(cli, ["models", "check"])
    assert checked.exit_code == 0, checked.output
    lines = checked.output.splitlines()
    assert lines[0] == f"local/ltx-video, local/ltx-video/image-to-video: ready ({models_dir / 'ltx-video'})"
    assert lines[1] == f"local/wan-2.1-t2v-1.3b: missing {models_dir / 'wan-2.1-t2v-1.3b'} (no such folder)"
    assert "hf download Wan-AI/Wan2.1-T2V-1.3B-Diffusers --local-dir" in lines[2]
    monkeypatch.setenv("VIDGATE_GPU_MODELS_DIR", str(models_dir / "elsewhere"))
    assert CliRunner().invoke(cli, ["models", "check"]).exit_code == 1  # nothing to serve


def request(**fields: Any) -> VideoRequest:
    """A request as the API passes it on; 0.3 s (shorter than the API takes) is the family's
    shortest clip, 9 frames at 25 fps, quick to make on a CPU."""
    return VideoRequest.from_params({"prompt": "a paper boat drifting down a rainy street", "model": LTX_IDS[0],
                                     "duration_seconds": 0.3, "seed": 7, **fields})


def backend(tmp_path: Path, models_dir: Path) -> DiffusersBackend:
    folder = models_dir / "ltx-video"
    return DiffusersBackend(gpu=gpu(models_dir), folders=dict.fromkeys(LTX_IDS, folder), storage=None,  # type: ignore[arg-type]
                            max_source_bytes=10_000_000, source_limits=SourceLimits())


async def run(engine: DiffusersBackend, work: Path, job: VideoRequest, **context: Any) -> Any:
    work.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient() as http:
        ctx = JobContext(job_id="job_x", request=job, work_dir=work, http=http,
                         report_progress=context.pop("report_progress", lambda _f: None), **context)
        return await engine.run(ctx)


async def test_a_clip_of_the_familys_size_with_progress_by_step_and_the_same_frames_for_a_seed(
    tmp_path: Path, models_dir: Path
) -> None:
    engine = backend(tmp_path, models_dir)
    seen: list[float] = []
    made = await run(engine, tmp_path / "a", request(), report_progress=seen.append)
    assert (made.width, made.height, made.fps, made.duration_seconds) == (1280, 704, 25, 9 / 25)
    with av.open(str(made.video_path)) as video:
        stream = video.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height, stream.codec_context.name) == (1280, 704, "h264")
        assert sum(1 for _ in video.decode(stream)) == 9
    assert made.poster_path.read_bytes()[:3] == b"\xff\xd8\xff"
    assert seen == pytest.approx([0.225, 0.45, 0.675, 0.9, 0.9])  # a step at a time, then the encode
    again = await run(engine, tmp_path / "b", request())
    other = await run(engine, tmp_path / "c", request(seed=8))
    assert again.video_path.read_bytes() == made.video_path.read_bytes()
    assert other.video_path.read_bytes() != made.video_path.read_bytes()


async def test_a_cancel_stops_between_steps_and_writes_no_file(tmp_path: Path, models_dir: Path) -> None:
    engine = backend(tmp_path, models_dir)
    import asyncio

    cancelled = asyncio.Event()
    steps: list[float] = []

    def progress(fraction: float) -> None:
        steps.append(fraction)
        cancelled.set()  # asked to stop after the first step

    with pytest.raises(BackendCancelled):
        await run(engine, tmp_path / "job", request(), report_progress=progress, cancelled=cancelled)
    assert len(steps) < 4 and list((tmp_path / "job").iterdir()) == []
    done = await run(engine, tmp_path / "next", request())  # the weights serve the next job
    assert done.video_path.is_file()


async def test_running_out_of_gpu_memory_fails_the_job_clearly_and_the_next_one_runs(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import diffusers
    import torch

    engine = backend(tmp_path, models_dir)
    real_call = diffusers.LTXPipeline.__call__

    def exhausted(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB (GPU 0; 23.6 GiB total)")

    monkeypatch.setattr(diffusers.LTXPipeline, "__call__", exhausted)
    with pytest.raises(BackendError) as failed:
        await run(engine, tmp_path / "big", request())
    assert str(failed.value) == ("The GPU ran out of memory making 1280x704, 9 frames; a shorter clip, or "
                                 "VIDGATE_GPU_CPU_OFFLOAD=true, needs less")  # nothing of the device's own words
    assert list((tmp_path / "big").iterdir()) == []
    monkeypatch.setattr(diffusers.LTXPipeline, "__call__", real_call)
    assert (await run(engine, tmp_path / "next", request())).video_path.is_file()


async def test_wan_makes_its_own_form_and_one_model_at_a_time_is_loaded(
    tmp_path: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wan_folder = save_tiny_wan(tmp_path_factory.mktemp("wan") / "wan-2.1-t2v-1.3b")
    engine = backend(tmp_path, models_dir)
    engine.folders["local/wan-2.1-t2v-1.3b"] = wan_folder
    await run(engine, tmp_path / "ltx", request())
    made = await run(engine, tmp_path / "wan", request(model="local/wan-2.1-t2v-1.3b", aspect_ratio="1:1"))
    assert (made.width, made.height, made.fps) == (720, 720, 16)  # sides of 16, 16 fps
    with av.open(str(made.video_path)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 5  # 0.3 s at 16 fps: the nearest 4k+1
    assert engine._loaded is not None and engine._loaded[0] == wan_folder  # the LTX weights were let go


def test_the_image_pipeline_shares_the_weights_in_their_precision(models_dir: Path) -> None:
    import torch

    from vidgate.backends.gpu.pipelines import Loaded

    loaded = Loaded(models_dir / "ltx-video", gpu(models_dir, dtype="bfloat16"))
    image = loaded.pipeline("LTXImageToVideoPipeline")
    assert image.transformer is loaded.base.transformer and image.vae is loaded.base.vae
    assert {loaded.base.transformer.dtype, loaded.base.vae.dtype, loaded.base.text_encoder.dtype} == {torch.bfloat16}


@pytest.fixture
async def on_the_gpu_lane(tmp_path: Path, models_dir: Path) -> AsyncIterator[tuple[Harness, str]]:
    settings = settings_for_tests(tmp_path / "data")
    plugins = [local.plugin, lambda s: gpu_plugin.plugin(s, gpu(models_dir))]
    async with serving(settings, plugins=plugins) as harness:
        _row, key = await keys.create_key(harness.sessions, name="gpu", scopes=("video", "jobs", "usage"),
                                          credits=100_000, video_seconds=10_000, sandbox=False)
        yield harness, key


async def test_text_and_image_to_video_through_the_api_on_the_gpu_lane(on_the_gpu_lane: tuple[Harness, str]) -> None:
    harness, key = on_the_gpu_lane
    listed = (await harness.client.get("/api/v1/models")).json()["data"]
    assert [m["id"] for m in listed if m["provider"] == "diffusers"] == LTX_IDS
    made = await harness.client.post(GEN, headers=auth(key), json={
        "prompt": "a lighthouse at dusk", "model": "local/ltx-video", "duration_seconds": 1, "aspect_ratio": "9:16"})
    assert made.status_code == 200, made.text
    video = made.json()["data"]
    assert (video["width"], video["height"], video["duration_seconds"]) == (704, 1280, 1.0)  # 25 frames at 25 fps
    assert made.headers["X-Vidgate-Provider"] == "diffusers"

    picture = "data:image/png;base64," + base64.b64encode(make_png(640, 480)).decode()
    animated = await harness.client.post(GEN, headers=auth(key), json={
        "prompt": "the light turns slowly", "model": "local/ltx-video/image-to-video", "mode": "image_to_video",
        "source_image": picture, "duration_seconds": 1})
    assert animated.status_code == 200, animated.text
    assert (animated.json()["data"]["width"], animated.json()["data"]["height"]) == (960, 704)  # the source's 4:3


@pytest.mark.parametrize(("fields", "message"), [
    ({"resolution": "1080p"}, "resolution 1080p is not available for model local/ltx-video; allowed: 720p"),
    ({"duration_seconds": 11}, "duration_seconds must be between 1 and 10.2 for model local/ltx-video"),
    ({"mode": "image_to_video", "source_image": "https://example.com/a.png"},
     "model local/ltx-video does not support mode image_to_video; it supports: text_to_video"),
])
async def test_what_a_model_cannot_do_is_refused_before_the_gpu_is_touched(
    on_the_gpu_lane: tuple[Harness, str], fields: dict[str, Any], message: str
) -> None:
    harness, key = on_the_gpu_lane
    before = await harness.stored_state()
    refused = await harness.client.post(f"{GEN}?async=true", headers=auth(key),
                                        json={"prompt": "a boat", "model": "local/ltx-video", **fields})
    assert refused.status_code == 400 and refused.json()["error"] == message, refused.text
    assert await harness.stored_state() == before
    assert json.dumps(refused.json())
