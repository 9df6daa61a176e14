"""The fal.ai backend against a local server that speaks fal's queue protocol (tests/fal_fake.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.backends.fal_support import (
    FAL_KEY,
    GEN,
    fast_fal,
    finished_job,
    run_job,
    serving_fal,
    stored_request,
    submit_job,
    wait_for,
)
from tests.conftest import SEED_PORTRAIT_URL, Harness, auth, settings_for_tests
from tests.fal_fake import FakeFal
from vidgate.backends.base import JobContext, VideoRequest
from vidgate.backends.errors import BackendError, JobLost
from vidgate.backends.fal import FalBackend, queue
from vidgate.backends.fal.backend import SUBMIT_INTERRUPTED
from vidgate.config import Settings
from vidgate.db.base import utcnow
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.jobs.models import Job

PORTRAIT = SEED_PORTRAIT_URL
MINIMAX = "fal-ai/minimax/video-01"

# The seed's request example (text to video) and its image-to-video example.
SEED_T2V = {"prompt": "A timelapse of a flower blooming", "duration_seconds": 5, "resolution": "720p",
            "fps": 30, "aspect_ratio": "16:9", "mode": "text_to_video", "source_image": None,
            "negative_prompt": "blurry, static", "seed": None, "prompt_optimizer": True, "loop": False}
SEED_I2V = {"prompt": "The person slowly turns and smiles", "mode": "image_to_video",
            "source_image": PORTRAIT, "duration_seconds": 3}

T2V_PROMPT, I2V_PROMPT = SEED_T2V["prompt"], SEED_I2V["prompt"]
# What each model must receive, from the model schemas in the reference.
EXPECTED_INPUT: dict[str, dict[str, Any]] = {
    MINIMAX: {"prompt": T2V_PROMPT, "prompt_optimizer": True},
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
    # No aspect_ratio asked: the ratio Luma makes nearest the portrait's 3:4 (it has no auto).
    "fal-ai/luma-dream-machine/ray-2/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "3:4", "duration": "5s",
         "resolution": "720p", "loop": False},
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video":
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "3:4", "duration": "5s",
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
        {"prompt": I2V_PROMPT, "image_url": PORTRAIT, "aspect_ratio": "auto", "resolution": "720p",
         "duration": "3"},  # Seedance follows the image itself
}

SEEDED = {"fal-ai/veo3", "fal-ai/veo3/fast", "fal-ai/pixverse/v5.5/text-to-video",
          "fal-ai/wan-pro/image-to-video", "fal-ai/bytedance/seedance/v1/pro/image-to-video"}

# A second request, with every knob away from its default: 1080p, 9:16, 10 s, a seed, a
# negative prompt, loop on and the prompt optimizer off.
P2 = "A lighthouse in a storm, waves breaking"
SECOND = {"prompt": P2, "duration_seconds": 10, "resolution": "1080p", "fps": 30, "aspect_ratio": "9:16",
          "negative_prompt": "text, watermark", "seed": 4242, "prompt_optimizer": False, "loop": True}
NEG = SECOND["negative_prompt"]
# What a model cannot make of SECOND, and what it is asked for instead (else it gets a 400).
SECOND_ADJUSTED: dict[str, dict[str, Any]] = {
    MINIMAX: {"duration_seconds": 6, "aspect_ratio": "16:9"},
    "fal-ai/minimax/hailuo-02/standard/text-to-video": {"aspect_ratio": "16:9"},
    "fal-ai/veo3": {"duration_seconds": 8},
    "fal-ai/veo3/fast": {"duration_seconds": 8},
    "fal-ai/pixverse/v5.5/text-to-video": {"duration_seconds": 8},  # 1080p: 5 or 8 s only
    "fal-ai/ltx-2/text-to-video/fast": {"aspect_ratio": "16:9", "fps": 60},
    "fal-ai/luma-dream-machine/ray-2": {"duration_seconds": 9},
    "fal-ai/luma-dream-machine/ray-2-flash": {"duration_seconds": 9},
    "fal-ai/luma-dream-machine/ray-2/image-to-video": {"duration_seconds": 9},
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": {"duration_seconds": 9},
    "fal-ai/minimax/video-01/image-to-video": {"duration_seconds": 6},
    "fal-ai/veo2/image-to-video": {"duration_seconds": 8},
    "fal-ai/wan-pro/image-to-video": {"duration_seconds": 6},
    "fal-ai/minimax/hailuo-2.3/pro/image-to-video": {"duration_seconds": 6},
}
_VEO3_SECOND = {"prompt": P2, "aspect_ratio": "9:16", "duration": "8s", "resolution": "1080p",
                "generate_audio": False, "negative_prompt": NEG, "seed": 4242}
_KLING_SECOND = {"prompt": P2, "duration": "10", "aspect_ratio": "9:16", "negative_prompt": NEG}
_LUMA_SECOND = {"prompt": P2, "aspect_ratio": "9:16", "duration": "9s", "resolution": "1080p", "loop": True}
EXPECTED_SECOND: dict[str, dict[str, Any]] = {
    MINIMAX: {"prompt": P2, "prompt_optimizer": False},
    "fal-ai/minimax/hailuo-02/standard/text-to-video": {"prompt": P2, "prompt_optimizer": False,
                                                        "duration": "10"},
    "fal-ai/veo3": _VEO3_SECOND,
    "fal-ai/veo3/fast": _VEO3_SECOND,
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": _KLING_SECOND,
    "fal-ai/kling-video/v2/master/text-to-video": _KLING_SECOND,
    "fal-ai/pixverse/v5.5/text-to-video": {"prompt": P2, "aspect_ratio": "9:16", "duration": "8",
                                           "resolution": "1080p", "negative_prompt": NEG, "seed": 4242},
    "fal-ai/ltx-2/text-to-video/fast": {"prompt": P2, "duration": "10", "resolution": "1080p",
                                        "aspect_ratio": "16:9", "fps": "50", "generate_audio": False},
    "fal-ai/luma-dream-machine/ray-2": _LUMA_SECOND,
    "fal-ai/luma-dream-machine/ray-2-flash": _LUMA_SECOND,
    "fal-ai/luma-dream-machine/ray-2/image-to-video": {**_LUMA_SECOND, "image_url": PORTRAIT},
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": {**_LUMA_SECOND, "image_url": PORTRAIT},
    "fal-ai/minimax/video-01/image-to-video": {"prompt": P2, "image_url": PORTRAIT, "prompt_optimizer": False},
    "fal-ai/veo2/image-to-video": {"prompt": P2, "image_url": PORTRAIT, "duration": "8s"},
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": {"prompt": P2, "image_url": PORTRAIT, "duration": "10",
                                                         "negative_prompt": NEG},
    "fal-ai/wan-pro/image-to-video": {"prompt": P2, "image_url": PORTRAIT, "seed": 4242},
    "fal-ai/minimax/hailuo-2.3/pro/image-to-video": {"prompt": P2, "image_url": PORTRAIT,
                                                     "prompt_optimizer": False},
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": {"prompt": P2, "image_url": PORTRAIT,
                                                        "aspect_ratio": "9:16", "resolution": "1080p",
                                                        "duration": "10", "seed": 4242},
}


def _fal_settings(tmp_path: Path, database_url: str | None, **overrides: Any) -> Settings:
    return settings_for_tests(tmp_path / "data", database_url=database_url, **overrides)


async def _nothing_charged(harness: Harness, key: str) -> None:
    credits = (await harness.quota(key))["credits"]
    assert credits["used"] == 0 and credits["reserved"] == 0


@pytest.mark.parametrize("model", sorted(EXPECTED_INPUT))
async def test_every_seed_model_completes_through_fal(fal: tuple[Harness, FakeFal], model: str) -> None:
    harness, fake = fal
    key = await harness.key(sandbox=False)
    body = {**(SEED_I2V if "image-to-video" in model else SEED_T2V), "model": model}
    job = await run_job(harness, key, body)
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


@pytest.mark.parametrize("model", sorted(EXPECTED_SECOND))
async def test_every_model_gets_its_own_input_for_a_request_off_the_defaults(
    fal: tuple[Harness, FakeFal], model: str
) -> None:
    harness, fake = fal
    key = await harness.key(sandbox=False)
    image_to_video = "image-to-video" in model
    body = {**SECOND, "mode": "image_to_video" if image_to_video else "text_to_video",
            "source_image": PORTRAIT if image_to_video else None, **SECOND_ADJUSTED.get(model, {}),
            "model": model}
    job = await run_job(harness, key, body)
    assert job["status"] == "completed", job
    (submission,) = fake.submissions
    assert submission.body == EXPECTED_SECOND[model]


async def test_the_job_and_the_response_report_what_the_file_really_has(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    # Kling makes 5 or 10 s clips and has no size or fps control: this one comes out smaller,
    # slower and shorter than asked for.
    fake.video_size, fake.video_fps, fake.video_seconds = (960, 540), 24, 4.0
    key = await harness.key(sandbox=False)
    response = await harness.client.post(GEN, headers=auth(key), json={
        "prompt": "a", "model": "fal-ai/kling-video/v2.5-turbo/pro/text-to-video", "duration_seconds": 10,
        "resolution": "1080p", "fps": 60, "aspect_ratio": "16:9"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["width"], data["height"], data["duration_seconds"]) == (960, 540, 4.0)
    job = (await harness.client.get(f"/api/v1/jobs/{response.json()['id']}", headers=auth(key))).json()
    video = job["outputData"]["video"]
    assert (video["width"], video["height"], video["fps"], video["duration_seconds"]) == (960, 540, 24.0, 4.0)
    # billed per requested second, capped by the real length: 4 s at 100 credits
    assert job["actualCredits"] == 400 and response.json()["usage"]["credits_used"] == 400


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("outcome", "validation_error", "fal.ai rejected the input: prompt: field required"),
        ("outcome", "content_policy", "fal.ai refused the request under its content policy"),
        ("outcome", "error_completed", "fal.ai could not make the video: Internal error in the model runner"),
        ("outcome", "failed_status", "fal.ai could not make the video: Internal error in the model runner"),
        ("outcome", "no_video", "fal.ai finished without a video"),
        ("submit_status", 403, "fal.ai refused this server's account"),
        ("submit_status", 401, "fal.ai refused this server's account"),
        ("status_error", 403, "fal.ai refused this server's account"),
        ("result_error", 403, "fal.ai refused this server's account"),
        ("result_error", 404, "fal.ai answered HTTP 404"),
        ("file_status", 404, "the video fal.ai made could not be fetched (HTTP 404)"),
        ("drop_submit_response", True, "fal.ai did not confirm the submission"),
    ],
)
async def test_failures_end_failed_with_nothing_charged(
    fal: tuple[Harness, FakeFal], knob: str, value: object, message: str
) -> None:
    harness, fake = fal
    setattr(fake, knob, value)
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX, "duration_seconds": 5})
    assert job["status"] == "failed"
    assert message in job["errorMessage"]
    assert job["actualCredits"] == 0
    await _nothing_charged(harness, key)
    assert len(fake.submissions) <= 1  # never submitted twice


async def test_a_locked_account_is_logged_for_the_operator(
    fal: tuple[Harness, FakeFal], caplog: pytest.LogCaptureFixture
) -> None:
    harness, fake = fal
    fake.submit_status = 403
    key = await harness.key(sandbox=False)
    with caplog.at_level(logging.ERROR, logger="vidgate.backends.fal.queue"):
        job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed"
    (record,) = [r for r in caplog.records if r.name == "vidgate.backends.fal.queue"]
    assert record.levelno == logging.ERROR
    assert "refused vidgate's key or account (HTTP 403)" in record.getMessage()
    assert "User is locked. Reason: Exhausted balance" in record.getMessage()


async def test_outages_longer_than_any_retry_count_are_waited_out(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.status_failures = 3 * queue.RETRY_ATTEMPTS  # 503s on status calls ...
    fake.result_failures = 3 * queue.RETRY_ATTEMPTS  # ... and on the result once it is done
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX, "duration_seconds": 5})
    assert job["status"] == "completed", job
    assert fake.status_failures == 0 and fake.result_failures == 0
    assert len(fake.submissions) == 1


async def test_submits_turned_away_before_fal_saw_them_are_sent_again(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.submit_failures = [502, 503, 429]  # fal's ingress (nginx), then a 429
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "completed", job
    assert fake.submit_attempts == 4 and len(fake.submissions) == 1


@pytest.mark.parametrize(
    ("failures", "ingress", "message", "attempts"),
    [
        ([500], False, "fal.ai answered HTTP 500", 1),  # fal took it and failed: never resent
        ([503], False, "fal.ai answered HTTP 503", 1),  # a 503 from fal itself, not its ingress
        ([429] * 10, True, "fal.ai is too busy to take the request (HTTP 429)", queue.SUBMIT_ATTEMPTS),
    ],
)
async def test_submits_fal_may_have_seen_are_never_resent(
    fal: tuple[Harness, FakeFal], failures: list[int], ingress: bool, message: str, attempts: int
) -> None:
    harness, fake = fal
    fake.submit_failures, fake.submit_failures_from_ingress = failures, ingress
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed" and message in job["errorMessage"]
    assert fake.submit_attempts == attempts and fake.submissions == []
    await _nothing_charged(harness, key)


class _Unreachable(httpx.AsyncBaseTransport):
    """fal's queue as if it could not be reached for the first `times` submits."""

    def __init__(self, error: type[httpx.TransportError], times: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.error, self.left = error, times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.left > 0:
            self.left -= 1
            raise self.error("fal is unreachable", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_submits_that_never_left_are_sent_again(
    fal: tuple[Harness, FakeFal], error: type[httpx.TransportError]
) -> None:
    harness, fake = fal
    fast_fal(harness, fake, http=httpx.AsyncClient(transport=_Unreachable(error, 2)))
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "completed", job
    assert len(fake.submissions) == 1


async def test_a_submit_that_never_connects_fails_with_nothing_charged(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fast_fal(harness, fake, http=httpx.AsyncClient(transport=_Unreachable(httpx.ConnectError, 100)))
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed" and job["errorMessage"] == "fal.ai could not be reached"
    await _nothing_charged(harness, key)


async def test_a_submit_answer_lost_after_fal_got_it_is_not_resent(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.slow_submit_seconds = 1.0
    fast_fal(harness, fake, http=httpx.AsyncClient(timeout=0.3))  # gives up before fal answers
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed" and "did not confirm the submission" in job["errorMessage"]
    assert fake.submit_attempts == 1 and len(fake.submissions) == 1
    await _nothing_charged(harness, key)


async def test_a_submit_answer_without_urls_is_followed_by_rebuilt_urls(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.bare_submit_response = True
    key = await harness.key(sandbox=False)
    job_id = await submit_job(harness, key, {"prompt": "a", "model": "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"})
    job = await finished_job(harness, key, job_id)
    assert job["status"] == "completed", job
    request = await stored_request(harness, job_id)
    assert request is not None
    base = f"{fake.base_url}/fal-ai/kling-video/requests/{request['request_id']}"
    assert (request["status_url"], request["response_url"], request["cancel_url"]) == (
        f"{base}/status", base, f"{base}/cancel")


async def test_a_request_fal_never_finishes_is_cancelled_at_the_deadline(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.polls_in_progress = 10**6
    fast_fal(harness, fake, timeout_seconds=0.5)
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed"
    assert job["errorMessage"] == ("fal.ai did not finish the video within 0.5 s; the request was "
                                   "cancelled at fal.ai")
    assert fake.cancels == [fake.submissions[0].request_id]
    await _nothing_charged(harness, key)


async def test_an_outage_that_outlasts_the_deadline_ends_at_the_deadline(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.status_failures = 10**6
    fast_fal(harness, fake, timeout_seconds=0.5)
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "failed" and "did not finish the video within 0.5 s" in job["errorMessage"]
    assert fake.cancels == [fake.submissions[0].request_id]


async def test_unknown_statuses_are_logged_and_polled_through(
    fal: tuple[Harness, FakeFal], caplog: pytest.LogCaptureFixture
) -> None:
    harness, fake = fal
    fake.odd_statuses, fake.odd_status = 4, "SOMETHING_NEW"
    key = await harness.key(sandbox=False)
    with caplog.at_level(logging.WARNING, logger="vidgate.backends.fal.backend"):
        job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX})
    assert job["status"] == "completed", job
    assert fake.odd_statuses == 0
    odd = [r for r in caplog.records if "unknown status 'SOMETHING_NEW'" in r.getMessage()]
    assert len(odd) == 1  # once per request, not once per poll


async def test_cancel_reaches_fal_and_releases(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.polls_in_progress = 10_000
    key = await harness.key(sandbox=False)
    job_id = await submit_job(harness, key, {"prompt": "a", "model": "fal-ai/veo3"})
    await wait_for(lambda: stored_request(harness, job_id))
    cancelled = (await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))).json()
    assert cancelled["status"] == "cancelled"
    assert fake.cancels == [fake.submissions[0].request_id]
    assert (await harness.quota(key))["credits"]["reserved"] == 0


async def test_a_cancel_during_an_outage_stops_the_job_at_once(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    key = await harness.key(sandbox=False)
    job_id = await submit_job(harness, key, {"prompt": "a", "model": "fal-ai/veo3"})
    await wait_for(lambda: stored_request(harness, job_id))
    fake.status_failures = 10**6  # status calls now fail, and are retried until the deadline
    started = time.monotonic()
    cancelled = (await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))).json()
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - started < 5
    assert fake.cancels == [fake.submissions[0].request_id]


async def test_a_source_from_vidgates_own_storage_goes_through_fals_cdn(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    sandbox, live = await harness.key(), await harness.key(sandbox=False)
    made = (await harness.client.post(GEN, json={"prompt": "a portrait", "model": "vidgate/local",
                                                  "duration_seconds": 1}, headers=auth(sandbox))).json()
    poster_url = made["data"]["thumbnail_url"]
    poster_bytes = (await harness.client.get("/" + poster_url.split("/", 3)[3])).content
    job = await run_job(harness, live, {**SEED_I2V, "source_image": poster_url,
                                        "model": "fal-ai/minimax/video-01/image-to-video"})
    assert job["status"] == "completed", job
    (upload,) = fake.uploads.values()
    assert upload.data == poster_bytes and upload.content_type == "image/jpeg"
    assert fake.submissions[0].body["image_url"].startswith(f"{fake.base_url}/cdn/files/")
    # a URL vidgate does not hold is passed through as it is
    await run_job(harness, live, {**SEED_I2V, "model": "fal-ai/minimax/video-01/image-to-video"})
    assert fake.submissions[1].body["image_url"] == PORTRAIT
    assert len(fake.uploads) == 1


async def test_a_data_uri_source_goes_through_fals_cdn_with_one_token(fal: tuple[Harness, FakeFal]) -> None:
    import base64

    from tests.conftest import make_png

    harness, fake = fal
    png = make_png(64, 48)
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    key = await harness.key(sandbox=False)
    for _ in range(2):
        job = await run_job(harness, key, {**SEED_I2V, "source_image": data_uri,
                                           "model": "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"})
        assert job["status"] == "completed", job
    assert [(u.data, u.content_type, u.file_name) for u in fake.uploads.values()] == [
        (png, "image/png", "source_image.png")] * 2
    assert all(s.body["image_url"].startswith(f"{fake.base_url}/cdn/files/") for s in fake.submissions)
    assert fake.token_requests == 1  # the CDN token is kept until it expires


async def test_an_expired_cdn_token_is_not_reused(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.token_expires_at = "2000-01-01T00:00:00Z"
    backend = harness.worker.backends["fal"]
    assert isinstance(backend, FalBackend)
    for _ in range(2):
        await backend.queue.upload(b"x", content_type="image/png", file_name="x.png")
    assert fake.token_requests == 2


async def test_a_failed_cdn_upload_fails_the_job_before_any_submit(fal: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal
    fake.upload_status = 500
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {**SEED_I2V, "source_image": "data:image/png;base64,iVBORw0KGgo=",
                                       "model": "fal-ai/minimax/video-01/image-to-video"})
    assert job["status"] == "failed" and "fal.ai answered HTTP 500" in job["errorMessage"]
    assert fake.submissions == []
    await _nothing_charged(harness, key)


async def test_a_restart_resumes_without_a_second_submit(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> None:
    fake_fal.polls_in_progress = 10_000
    settings = _fal_settings(tmp_path, database_url)
    async with serving_fal(settings, fake_fal) as harness:
        key = await harness.key(sandbox=False)
        job_id = await submit_job(harness, key, {"prompt": "a", "model": "fal-ai/veo3"})
        await wait_for(lambda: stored_request(harness, job_id))
    fake_fal.finish(fake_fal.submissions[0].request_id)  # done while the server is down
    async with serving_fal(settings, fake_fal) as harness:
        job = await finished_job(harness, key, job_id)
    assert job["status"] == "completed"
    assert len(fake_fal.submissions) == 1


async def test_a_job_stopped_mid_submit_is_failed_not_submitted_again(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> None:
    fake_fal.slow_submit_seconds = 2.0  # fal has the submit, vidgate stops before the answer
    settings = _fal_settings(tmp_path, database_url)
    async with serving_fal(settings, fake_fal) as harness:
        key = await harness.key(sandbox=False)
        job_id = await submit_job(harness, key, {"prompt": "a", "model": MINIMAX})
        await wait_for(lambda: fake_fal.submissions)
    fake_fal.slow_submit_seconds = 0
    async with serving_fal(settings, fake_fal) as harness:
        job = await finished_job(harness, key, job_id)
        assert job["status"] == "failed" and job["errorMessage"] == SUBMIT_INTERRUPTED
        await _nothing_charged(harness, key)
    assert len(fake_fal.submissions) == 1


async def test_cancelling_a_waiting_job_that_holds_a_fal_request_cancels_it_at_fal(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> None:
    fake_fal.polls_in_progress = 10**6
    settings = _fal_settings(tmp_path, database_url)
    async with serving_fal(settings, fake_fal) as harness:
        key = await harness.key(sandbox=False)
        first, waiting = [await submit_job(harness, key, {"prompt": p, "model": MINIMAX}) for p in "ab"]
        for job_id in (first, waiting):
            await wait_for(lambda job_id=job_id: stored_request(harness, job_id))
    # Back after a graceful shutdown with one worker: it resumes the first job, and the
    # second waits, with its fal request still running.
    async with serving_fal(settings, fake_fal, concurrency=1) as harness:
        request = await stored_request(harness, waiting)
        assert request is not None
        response = await harness.client.post(f"/api/v1/jobs/{waiting}/cancel", headers=auth(key))
        assert response.json()["status"] == "cancelled"
        await wait_for(lambda: request["request_id"] in fake_fal.cancels)
        await harness.client.post(f"/api/v1/jobs/{first}/cancel", headers=auth(key))
        await _nothing_charged(harness, key)


@pytest.mark.parametrize("cancel_requested", [True, False])
async def test_a_crashed_job_that_will_not_run_again_has_its_fal_request_cancelled(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None, cancel_requested: bool
) -> None:
    fake_fal.polls_in_progress = 10**6
    settings = _fal_settings(tmp_path, database_url, job_max_attempts=1)
    async with serving_fal(settings, fake_fal) as harness:
        key = await harness.key(sandbox=False)
        job_id = await submit_job(harness, key, {"prompt": "a", "model": MINIMAX})
        request = await wait_for(lambda: stored_request(harness, job_id))
    # As a crash leaves it: processing, owned by a worker that is gone, lease run out.
    engine = create_engine(settings.resolved_database_url)
    async with create_sessionmaker(engine).begin() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(
            status="processing", worker_id="worker_gone", lease_expires_at=utcnow() - timedelta(minutes=1),
            attempts=1, requeues=0, cancel_requested=cancel_requested))
    await engine.dispose()
    async with serving_fal(settings, fake_fal) as harness:
        job = await finished_job(harness, key, job_id)
        assert job["status"] == ("cancelled" if cancel_requested else "failed")
        await wait_for(lambda: request["request_id"] in fake_fal.cancels)
        await _nothing_charged(harness, key)


async def _context(tmp_path: Path, http: httpx.AsyncClient, **fields: Any) -> JobContext:
    request = VideoRequest(prompt="a", model=MINIMAX, seed=1)
    return JobContext(job_id="job_x", request=request, work_dir=tmp_path, http=http,
                      report_progress=lambda _fraction: None, **fields)


@pytest.mark.parametrize("lost_at", [1, 2])
async def test_a_backend_that_loses_its_job_stops_and_leaves_no_request_running(
    tmp_path: Path, fake_fal: FakeFal, lost_at: int
) -> None:
    saves: list[dict[str, Any]] = []

    async def save_state(state: dict[str, Any]) -> None:
        saves.append(state)
        if len(saves) == lost_at:
            raise JobLost("job_x")

    backend = FalBackend(key=FAL_KEY, queue_url=fake_fal.base_url, max_download_bytes=10**8)
    async with httpx.AsyncClient() as http:
        with pytest.raises(JobLost):
            await backend.run(await _context(tmp_path, http, save_state=save_state))
    await backend.aclose()
    assert saves[0]["submitting"] is True
    if lost_at == 1:  # lost before the submit: nothing was sent
        assert fake_fal.submit_attempts == 0
    else:  # lost after it: the request nobody will collect is cancelled
        assert fake_fal.cancels == [fake_fal.submissions[0].request_id]


async def test_a_resumed_request_keeps_its_original_deadline(tmp_path: Path, fake_fal: FakeFal) -> None:
    fake_fal.polls_in_progress = 10**6
    async with httpx.AsyncClient(headers={"Authorization": f"Key {FAL_KEY}"}) as http:
        handle = (await http.post(f"{fake_fal.base_url}/{MINIMAX}", json={"prompt": "a"})).json()
        state = {name: handle[name] for name in ("request_id", "status_url", "response_url", "cancel_url")}
        backend = FalBackend(key=FAL_KEY, queue_url=fake_fal.base_url, max_download_bytes=10**8,
                             timeout_seconds=3600)
        ctx = await _context(tmp_path, http, state={**state, "submitted_at": time.time() - 7200})
        with pytest.raises(BackendError, match="did not finish the video within 3600 s"):
            await asyncio.wait_for(backend.run(ctx), 10)
        await backend.aclose()
    assert fake_fal.cancels == [handle["request_id"]]


@pytest.mark.parametrize(
    ("knob", "value", "status", "message"),
    [
        ("outcome", "validation_error", 400, "fal.ai rejected the input: prompt: field required"),
        ("outcome", "content_policy", 400, "fal.ai refused the request under its content policy"),
        ("submit_status", 403, 503, "fal.ai refused this server's account"),
        ("submit_status", 401, 503, "fal.ai refused this server's account"),
        ("result_error", 403, 503, "fal.ai refused this server's account"),
        ("outcome", "error_completed", 502, "fal.ai could not make the video"),
    ],
)
async def test_sync_requests_report_fal_failures_with_fitting_statuses(
    fal: tuple[Harness, FakeFal], knob: str, value: object, status: int, message: str
) -> None:
    harness, fake = fal
    setattr(fake, knob, value)
    key = await harness.key(sandbox=False)
    response = await harness.client.post(GEN, json={"prompt": "a", "model": MINIMAX}, headers=auth(key))
    assert response.status_code == status
    assert response.json()["error"].startswith("Video generation failed: ")
    assert message in response.json()["error"]
    assert (await harness.quota(key))["credits"] == {"limit": 100_000, "used": 0, "reserved": 0,
                                                     "remaining": 100_000}


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
    job_id = await submit_job(harness, key, {"prompt": "a", "model": "fal-ai/veo3"})
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
    fast_fal(harness, fake, http=httpx.AsyncClient(timeout=0.3))
    key = await harness.key(sandbox=False)
    job = await run_job(harness, key, {"prompt": "a", "model": MINIMAX, "duration_seconds": 5})
    assert job["status"] == "completed"
    assert fake.slow_statuses == 0 and len(fake.submissions) == 1
