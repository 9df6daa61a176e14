"""The fal.ai backend against a local server that speaks fal's queue protocol (tests/fal_fake.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Harness, auth, settings_for_tests
from tests.fal_fake import FakeFal
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.backends.fal import FalBackend

FAL_KEY = "fal-test-key"
GEN = "/api/v1/videos/generations"
PORTRAIT = "https://example.com/portrait.jpg"

# The seed's request example (text to video) and its image-to-video example.
SEED_T2V = {"prompt": "A timelapse of a flower blooming", "duration_seconds": 5, "resolution": "720p",
            "fps": 30, "aspect_ratio": "16:9", "mode": "text_to_video", "source_image": None,
            "negative_prompt": "blurry, static", "seed": None, "prompt_optimizer": True, "loop": False}
SEED_I2V = {"prompt": "The person slowly turns and smiles", "mode": "image_to_video",
            "source_image": PORTRAIT, "duration_seconds": 3}

T2V_PROMPT, I2V_PROMPT = SEED_T2V["prompt"], SEED_I2V["prompt"]
# What each model must receive, from the model schemas in the reference.
EXPECTED_INPUT: dict[str, dict[str, Any]] = {
    "fal-ai/minimax/video-01": {"prompt": T2V_PROMPT, "prompt_optimizer": True},
    "fal-ai/minimax/hailuo-02/standard/text-to-video":
        {"prompt": T2V_PROMPT, "prompt_optimizer": True, "duration": "6"},
    "fal-ai/veo3": {"prompt": T2V_PROMPT, "aspect_ratio": "16:9", "duration": "4s", "resolution": "720p",
                    "generate_audio": False, "negative_prompt": "blurry, static"},
    "fal-ai/veo3/fast": {"prompt": T2V_PROMPT, "aspect_ratio": "16:9", "duration": "4s",
                         "resolution": "720p", "generate_audio": False, "negative_prompt": "blurry, static"},
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video":
        {"prompt": T2V_PROMPT, "duration": "5", "aspect_ratio": "16:9", "negative_prompt": "blurry, static"},
    "fal-ai/kling-video/v2/master/text-to-video":
        {"prompt": T2V_PROMPT, "duration": "5", "aspect_ratio": "16:9", "negative_prompt": "blurry, static"},
    "fal-ai/pixverse/v5.5/text-to-video":
        {"prompt": T2V_PROMPT, "aspect_ratio": "16:9", "duration": "5", "resolution": "720p",
         "negative_prompt": "blurry, static"},
    "fal-ai/ltx-2/text-to-video/fast":
        {"prompt": T2V_PROMPT, "duration": "6", "resolution": "1080p", "aspect_ratio": "16:9", "fps": "25",
         "generate_audio": False},
    "fal-ai/luma-dream-machine/ray-2":
        {"prompt": T2V_PROMPT, "aspect_ratio": "16:9", "duration": "5s", "resolution": "720p", "loop": False},
    "fal-ai/luma-dream-machine/ray-2-flash":
        {"prompt": T2V_PROMPT, "aspect_ratio": "16:9", "duration": "5s", "resolution": "720p", "loop": False},
    "fal-ai/luma-dream-machine/ray-2/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "16:9", "duration": "5s",
         "resolution": "720p", "loop": False},
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "16:9", "duration": "5s",
         "resolution": "720p", "loop": False},
    "fal-ai/minimax/video-01/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "prompt_optimizer": True},
    "fal-ai/veo2/image-to-video": {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "duration": "5s"},
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "duration": "5"},
    "fal-ai/wan-pro/image-to-video": {"prompt": I2V_PROMPT, "image_url": PORTRAIT},
    "fal-ai/minimax/hailuo-2.3/pro/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "prompt_optimizer": True},
    "fal-ai/bytedance/seedance/v1/pro/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "16:9", "resolution": "720p",
         "duration": "3"},
}

SEEDED = {"fal-ai/veo3", "fal-ai/veo3/fast", "fal-ai/pixverse/v5.5/text-to-video",
          "fal-ai/wan-pro/image-to-video", "fal-ai/bytedance/seedance/v1/pro/image-to-video"}


@pytest.fixture
def fake_fal() -> Iterator[FakeFal]:
    fake = FakeFal(key=FAL_KEY)
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake


def _fast_fal(harness: Harness, fake: FakeFal) -> None:
    """Poll the fake every 50 ms instead of fal's half second."""
    harness.runtime.backends["fal"] = FalBackend(
        key=FAL_KEY, queue_url=fake.base_url, max_download_bytes=10**8, poll_first_seconds=0.05,
        rest_url=fake.base_url, storage=harness.runtime.storage,
    )


@pytest.fixture
async def fal(tmp_path: Path, fake_fal: FakeFal, database_url: str | None) -> AsyncIterator[tuple[Harness, FakeFal]]:
    settings = settings_for_tests(tmp_path / "data", database_url=database_url, fal_key=FAL_KEY,
                                  fal_queue_url=fake_fal.base_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     timeout=60) as client:
            harness = Harness(app, client)
            _fast_fal(harness, fake_fal)
            yield harness, fake_fal


async def _run(harness: Harness, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    while True:
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
        if job["status"] not in ("pending", "processing"):
            return job


@pytest.mark.parametrize("model", sorted(EXPECTED_INPUT))
async def test_every_seed_model_completes_through_fal(fal: tuple[Harness, FakeFal], model: str) -> None:
    harness, fake = fal
    key = await harness.key(sandbox=False)
    body = {**(SEED_I2V if "image-to-video" in model else SEED_T2V), "model": model}
    job = await _run(harness, key, body)
    assert job["status"] == "completed", job
    assert job["provider"] == "fal"
    assert len(fake.submissions) == 1
    submission = fake.submissions[0]
    assert submission.model_id == model
    expected = dict(EXPECTED_INPUT[model])
    if model in SEEDED:  # a seed left out is drawn by vidgate, kept with the job and sent
        expected["seed"] = job["inputParams"]["seed"]
    assert submission.body == expected
    assert submission.headers.get("authorization") == f"Key {FAL_KEY}"
    video = job["outputData"]["video"]
    assert video["url"].startswith("http://testserver/files/")  # stored by vidgate, not fal's URL
    assert (video["width"], video["height"]) == fake.video_size  # probed from the file
    assert video["duration_seconds"] == pytest.approx(fake.video_seconds, abs=0.1)
    seconds = int(body["duration_seconds"])
    assert job["actualCredits"] <= job["estimatedCredits"]
    quota = await harness.quota(key)
    assert quota["video_seconds"]["used"] == seconds and quota["credits"]["reserved"] == 0


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("outcome", "validation_error", "fal.ai rejected the input: prompt: field required"),
        ("outcome", "content_policy", "fal.ai refused the request under its content policy"),
        ("outcome", "error_completed", "fal.ai could not make the video"),
        ("submit_status", 403, "fal.ai refused this server's account"),
        ("drop_submit_response", True, "fal.ai did not confirm the submission"),
    ],
)
async def test_failures_end_failed_with_nothing_charged(
    fal: tuple[Harness, FakeFal], knob: str, value: object, message: str
) -> None:
    harness, fake = fal
    setattr(fake, knob, value)
    key = await harness.key(sandbox=False)
    job = await _run(harness, key, {"prompt": "a", "model": "fal-ai/minimax/video-01", "duration_seconds": 5})
    assert job["status"] == "failed"
    assert message in job["errorMessage"]
    assert job["actualCredits"] == 0
    quota = await harness.quota(key)
    assert quota["credits"]["used"] == 0 and quota["credits"]["reserved"] == 0
    assert len(fake.submissions) <= 1  # never submitted twice


async def test_transient_status_errors_are_retried(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.status_failures = 2
    key = await harness.key(sandbox=False)
    job = await _run(harness, key, {"prompt": "a", "model": "fal-ai/minimax/video-01", "duration_seconds": 5})
    assert job["status"] == "completed"


async def test_cancel_reaches_fal_and_releases(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.polls_in_progress = 10_000
    key = await harness.key(sandbox=False)
    response = await harness.client.post(f"{GEN}?async=true", json={"prompt": "a", "model": "fal-ai/veo3"},
                                         headers=auth(key))
    job_id = response.json()["id"]
    for _ in range(200):
        if fake.submissions:
            break
        await asyncio.sleep(0.02)
    cancelled = (await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))).json()
    assert cancelled["status"] == "cancelled"
    assert fake.cancels == [fake.submissions[0].request_id]
    assert (await harness.quota(key))["credits"]["reserved"] == 0


async def test_a_restart_resumes_without_a_second_submit(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> None:
    fake_fal.polls_in_progress = 10_000
    settings = settings_for_tests(tmp_path / "data", database_url=database_url, fal_key=FAL_KEY,
                                  fal_queue_url=fake_fal.base_url)
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://t") as client:
            harness = Harness(first, client)
            _fast_fal(harness, fake_fal)
            key = await harness.key(sandbox=False)
            job_id = (await client.post(f"{GEN}?async=true", json={"prompt": "a", "model": "fal-ai/veo3"},
                                        headers=auth(key))).json()["id"]
            for _ in range(200):
                job = (await client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
                if fake_fal.submissions and job["status"] == "processing":
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # the request id is stored with the job
    fake_fal.finish(fake_fal.submissions[0].request_id)  # done while the server is down
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://t") as client:
            harness = Harness(second, client)
            _fast_fal(harness, fake_fal)
            while True:
                job = (await client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
                if job["status"] not in ("pending", "processing"):
                    break
    assert job["status"] == "completed"
    assert len(fake_fal.submissions) == 1


@pytest.mark.parametrize(
    ("knob", "value", "status", "message"),
    [
        ("outcome", "validation_error", 400, "fal.ai rejected the input: prompt: field required"),
        ("outcome", "content_policy", 400, "fal.ai refused the request under its content policy"),
        ("submit_status", 403, 503, "fal.ai refused this server's account"),
        ("outcome", "error_completed", 502, "fal.ai could not make the video"),
    ],
)
async def test_sync_requests_report_fal_failures_with_fitting_statuses(
    fal: tuple[Harness, FakeFal], knob: str, value: object, status: int, message: str
) -> None:
    harness, fake = fal
    setattr(fake, knob, value)
    key = await harness.key(sandbox=False)
    response = await harness.client.post(GEN, json={"prompt": "a", "model": "fal-ai/minimax/video-01"},
                                         headers=auth(key))
    assert response.status_code == status
    assert response.json()["error"].startswith("Video generation failed: ")
    assert message in response.json()["error"]
    assert (await harness.quota(key))["credits"] == {"limit": 100_000, "used": 0, "reserved": 0,
                                                     "remaining": 100_000}


async def test_a_source_from_vidgates_own_storage_goes_through_fals_cdn(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    sandbox, live = await harness.key(), await harness.key(sandbox=False)
    made = (await harness.client.post(GEN, json={"prompt": "a portrait", "model": "vidgate/local",
                                                  "duration_seconds": 1}, headers=auth(sandbox))).json()
    poster_url = made["data"]["thumbnail_url"]
    poster_bytes = (await harness.client.get("/" + poster_url.split("/", 3)[3])).content
    job = await _run(harness, live, {**SEED_I2V, "source_image": poster_url,
                                     "model": "fal-ai/minimax/video-01/image-to-video"})
    assert job["status"] == "completed", job
    (upload,) = fake.uploads.values()
    assert upload.data == poster_bytes and upload.content_type == "image/jpeg"
    assert fake.submissions[0].body["image_url"].startswith(f"{fake.base_url}/cdn/files/")
    # a URL vidgate does not hold is passed through as it is
    await _run(harness, live, {**SEED_I2V, "model": "fal-ai/minimax/video-01/image-to-video"})
    assert fake.submissions[1].body["image_url"] == PORTRAIT
    assert len(fake.uploads) == 1


def test_progress_follows_queue_position_and_the_models_logs() -> None:
    from vidgate.backends.fal.backend import QUEUED_PROGRESS, _running_progress

    logs = lambda *messages: {"logs": [{"message": m} for m in messages]}  # noqa: E731
    assert _running_progress(logs("Generating: step 5/10"), 0) == pytest.approx(
        QUEUED_PROGRESS + (0.9 - QUEUED_PROGRESS) * 0.5)
    assert _running_progress(logs("loading", " 80%|########  | 16/20"), 0) > _running_progress(
        logs("Generating: step 5/10"), 0)
    assert _running_progress({"logs": None}, 0) == pytest.approx(QUEUED_PROGRESS)
    assert _running_progress({"logs": None}, 30) > _running_progress({"logs": None}, 1)


async def test_a_job_reports_rising_progress_while_fal_runs(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.polls_in_queue, fake.polls_in_progress = 2, 6
    key = await harness.key(sandbox=False)
    job_id = (await harness.client.post(f"{GEN}?async=true", json={"prompt": "a", "model": "fal-ai/veo3"},
                                        headers=auth(key))).json()["id"]
    seen = []
    for _ in range(150):
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
        seen.append(job["progress"])
        if job["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert job["status"] == "completed"
    assert seen == sorted(seen) and len(set(seen)) >= 3


async def test_status_calls_that_time_out_are_retried(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.slow_statuses, fake.slow_seconds = 2, 1.0
    harness.runtime.backends["fal"] = FalBackend(
        key=FAL_KEY, queue_url=fake.base_url, max_download_bytes=10**8, poll_first_seconds=0.05,
        http=httpx.AsyncClient(timeout=0.3),
    )
    key = await harness.key(sandbox=False)
    job = await _run(harness, key, {"prompt": "a", "model": "fal-ai/minimax/video-01", "duration_seconds": 5})
    assert job["status"] == "completed"
    assert fake.slow_statuses == 0 and len(fake.submissions) == 1
