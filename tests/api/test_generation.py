"""The generation and jobs API end to end on the embedded default, with real renders."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
from PIL import Image

from tests.conftest import SEED_PORTRAIT_URL, Harness, auth, fake_internet, running_harness, sparse_png

GEN = "/api/v1/videos/generations"


async def _video_bytes(harness: Harness, url: str) -> bytes:
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = await harness.client.get("/" + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    return response.content


def _probe(data: bytes) -> tuple[int, int, float, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, float(stream.average_rate), frames


async def test_async_job_runs_to_a_real_mp4(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "Ocean waves crashing on rocks", "duration_seconds": 2, "aspect_ratio": "16:9"}
    response = await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    submitted = response.json()
    assert submitted["status"] == "pending"
    assert submitted["id"].startswith("job_")
    assert submitted["model"] == "fal-ai/minimax/video-01"
    assert submitted["estimated_credits"] == 200
    assert response.headers["x-vidgate-provider"] == "local"

    job = (await harness.client.get(f"/api/v1/jobs/{submitted['id']}?poll=true", headers=auth(key))).json()
    while job["status"] not in ("completed", "failed"):
        job = (await harness.client.get(f"/api/v1/jobs/{submitted['id']}?poll=true", headers=auth(key))).json()
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert job["tool"] == "video"
    assert job["provider"] == "local"
    assert job["actualCredits"] == 200
    assert job["estimatedCredits"] == 200
    assert job["modelTier"] == "standard"
    assert job["errorMessage"] is None
    assert job["createdAt"].endswith("Z") and job["completedAt"].endswith("Z")
    assert job["inputParams"]["prompt"] == body["prompt"]
    assert isinstance(job["inputParams"]["seed"], int)
    # prompt_optimizer is on by default: the prompt as rendered is shown
    assert job["outputData"]["optimized_prompt"].startswith("Ocean waves crashing on rocks, ")
    assert job["outputData"]["optimized_prompt"] != body["prompt"]
    video = job["outputData"]["video"]
    assert (video["width"], video["height"]) == (1280, 720)
    assert video["thumbnail_url"].startswith("http://testserver/files/")
    assert video["thumbnail_url"].endswith("/poster.jpg")
    assert video["url"].startswith("http://testserver/files/")
    width, height, fps, frames = _probe(await _video_bytes(harness, video["url"]))
    assert (width, height, fps, frames) == (1280, 720, 30.0, 60)

    quota = await harness.quota(key)
    assert quota["credits"]["used"] == 200 and quota["credits"]["reserved"] == 0
    assert quota["video_seconds"]["used"] == 2


async def test_sync_request_returns_the_seed_response_shape(harness: Harness) -> None:
    key = await harness.key(credits=1000, seconds=60)
    body = {"prompt": "A timelapse of a flower blooming", "model": "fal-ai/minimax/video-01",
            "duration_seconds": 1, "resolution": "720p", "fps": 30, "aspect_ratio": "16:9",
            "mode": "text_to_video", "source_image": None, "negative_prompt": "blurry, static",
            "seed": None, "prompt_optimizer": True, "loop": False}
    response = await harness.client.post(GEN, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.headers["x-vidgate-provider"] == "local"
    result = response.json()
    assert set(result) >= {"created", "data", "model", "model_tier", "usage"}
    assert isinstance(result["created"], int)
    assert result["data"]["duration_seconds"] == 1
    assert (result["data"]["width"], result["data"]["height"]) == (1280, 720)
    assert result["model"] == "fal-ai/minimax/video-01"
    assert result["model_tier"] == "standard"
    assert result["usage"] == {"credits_used": 100, "seconds_used": 1, "seconds_remaining": 59,
                               "credits_remaining": 900}
    assert _probe(await _video_bytes(harness, result["data"]["url"]))[:2] == (1280, 720)
    poster = await harness.client.get("/" + result["data"]["thumbnail_url"].split("/", 3)[3])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.content)).size == (1280, 720)


async def test_sync_client_that_goes_away_leaves_the_job_running(harness: Harness) -> None:
    key = await harness.key()
    request = asyncio.create_task(
        harness.client.post(GEN, json={"prompt": "fire", "duration_seconds": 1}, headers=auth(key))
    )
    for _ in range(500):  # until the job exists: however slow the machine, never a guess
        jobs = (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"]
        if jobs:
            break
        await asyncio.sleep(0.02)
    request.cancel()
    assert len(jobs) == 1
    job = (await harness.client.get(f"/api/v1/jobs/{jobs[0]['id']}?poll=true", headers=auth(key))).json()
    assert job["status"] == "completed"


async def test_image_to_video_uses_the_default_model_for_its_mode(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "The person slowly turns and smiles", "mode": "image_to_video",
            "source_image": SEED_PORTRAIT_URL, "duration_seconds": 1}
    response = await harness.client.post(GEN, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "fal-ai/minimax/video-01/image-to-video"


async def test_unreachable_source_fails_the_job_and_releases_credits(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "p", "mode": "image_to_video", "source_image": "https://example.com/missing.png",
            "duration_seconds": 1}
    response = await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))
    job_id = response.json()["id"]
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
    assert job["status"] == "failed"
    assert job["errorMessage"] == "source_image could not be fetched from example.com: HTTP 404"
    assert job["actualCredits"] == 0
    quota = await harness.quota(key)
    assert quota["credits"]["used"] == 0 and quota["credits"]["reserved"] == 0
    # The sync form reports the same failure as the client's error (its URL), naming the job.
    response = await harness.client.post(GEN, json=body, headers=auth(key))
    assert response.status_code == 400
    assert response.json() == {
        "error": "Video generation failed: source_image could not be fetched from example.com: HTTP 404",
        "id": response.json()["id"],
    }


async def test_undecodable_source_media_is_the_clients_error(harness: Harness) -> None:
    """A 400, not a 502: the client sent it, and sending it again will not help."""
    key = await harness.key()
    for mode, field in (("image_to_video", "source_image"), ("video_to_video", "source_video")):
        body = {"prompt": "p", "mode": mode, "duration_seconds": 1,
                field: "data:application/octet-stream;base64,aGVsbG8gd29ybGQ="}
        response = await harness.client.post(GEN, json=body, headers=auth(key))
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(f"Video generation failed: {field} could not be")
    assert (await harness.quota(key))["credits"]["used"] == 0


async def test_a_source_image_of_too_many_pixels_is_refused_unread(tmp_path: Path, database_url: str | None) -> None:
    url = "https://example.com/bomb.png"
    internet = fake_internet({url: sparse_png(13_000, 13_000)})  # 2 MB that decode to 507 MB
    async with running_harness(tmp_path / "data", database_url, transport=internet) as harness:
        key = await harness.key()
        body = {"prompt": "p", "mode": "image_to_video", "duration_seconds": 1, "source_image": url}
        response = await harness.client.post(GEN, json=body, headers=auth(key))
        assert response.status_code == 400, response.text
        assert response.json()["error"] == (
            "Video generation failed: source_image is 13000x13000 pixels, more than this server decodes: "
            "at most 40 million pixels (a JPEG counts at the size it is decoded to, up to 8 times smaller "
            "each side)"
        )
        quota = await harness.quota(key)
        assert quota["credits"]["used"] == 0 and quota["credits"]["reserved"] == 0


async def test_other_keys_jobs_are_404_everywhere(harness: Harness) -> None:
    owner, stranger = await harness.key(), await harness.key()
    job_id = (await harness.client.post(f"{GEN}?async=true", json={"prompt": "a", "duration_seconds": 1},
                                        headers=auth(owner))).json()["id"]
    for method, path in [("get", f"/api/v1/jobs/{job_id}"), ("get", f"/api/v1/jobs/{job_id}?poll=true"),
                         ("post", f"/api/v1/jobs/{job_id}/cancel")]:
        response = await getattr(harness.client, method)(path, headers=auth(stranger))
        assert response.status_code == 404
        assert response.json() == {"error": "Job not found"}
    assert (await harness.client.get("/api/v1/jobs", headers=auth(stranger))).json() == {"jobs": []}
    assert (await harness.client.get("/api/v1/jobs/job_nope", headers=auth(owner))).status_code == 404


async def test_job_list_is_newest_first_and_filters(harness: Harness) -> None:
    key = await harness.key()
    ids = []
    for n in range(3):
        response = await harness.client.post(f"{GEN}?async=true", json={"prompt": f"p{n}", "duration_seconds": 1},
                                             headers=auth(key))
        ids.append(response.json()["id"])
    listed = (await harness.client.get("/api/v1/jobs?limit=2", headers=auth(key))).json()["jobs"]
    assert [job["id"] for job in listed] == [ids[2], ids[1]]
    for job_id in ids:
        await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))
    assert (await harness.client.get("/api/v1/jobs?pending=true", headers=auth(key))).json() == {"jobs": []}
    assert len((await harness.client.get("/api/v1/jobs?tool=video", headers=auth(key))).json()["jobs"]) == 3
    assert (await harness.client.get("/api/v1/jobs?tool=image", headers=auth(key))).json() == {"jobs": []}


async def test_output_supports_range_requests(harness: Harness) -> None:
    key = await harness.key()
    result = (await harness.client.post(GEN, json={"prompt": "stars", "duration_seconds": 1},
                                        headers=auth(key))).json()
    path = "/" + result["data"]["url"].split("/", 3)[3]
    whole = await harness.client.get(path)
    assert whole.headers["accept-ranges"] == "bytes"
    part = await harness.client.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    wrong_token = path.rsplit("/", 2)[0] + "/AAAA/video.mp4"
    assert (await harness.client.get(wrong_token)).status_code == 404
    assert (await harness.client.get(path.replace("video.mp4", "..%2F..%2Fvidgate.db"))).status_code == 404


async def test_cancel_pending_and_processing_jobs_release_credits(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "long", "model": "vidgate/local", "duration_seconds": 40, "resolution": "1080p"}
    ids = [(await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))).json()["id"]
           for _ in range(3)]  # two workers: the third waits
    for _ in range(100):
        jobs = {j["id"]: j for j in (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"]}
        if jobs[ids[0]]["status"] == "processing" and jobs[ids[0]]["progress"] > 0:
            break
        await asyncio.sleep(0.1)
    assert jobs[ids[2]]["status"] == "pending"
    cancelled = (await harness.client.post(f"/api/v1/jobs/{ids[2]}/cancel", headers=auth(key))).json()
    assert cancelled["status"] == "cancelled" and cancelled["actualCredits"] == 0
    running = (await harness.client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=auth(key))).json()
    assert running["status"] == "cancelled"
    await harness.client.post(f"/api/v1/jobs/{ids[1]}/cancel", headers=auth(key))
    again = await harness.client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=auth(key))
    assert again.status_code == 409
    assert again.json() == {"error": "Job cannot be cancelled: it is already cancelled"}
    quota = await harness.quota(key)
    assert quota["credits"]["used"] == 0 and quota["credits"]["reserved"] == 0


async def test_models_catalog(harness: Harness) -> None:
    listed = (await harness.client.get("/api/v1/models")).json()
    ids = {model["id"] for model in listed["data"]}
    seed_models = {
        "fal-ai/minimax/video-01", "fal-ai/minimax/hailuo-02/standard/text-to-video", "fal-ai/veo3",
        "fal-ai/veo3/fast", "fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
        "fal-ai/kling-video/v2/master/text-to-video", "fal-ai/pixverse/v5.5/text-to-video",
        "fal-ai/ltx-2/text-to-video/fast", "fal-ai/minimax/video-01/image-to-video",
        "fal-ai/veo2/image-to-video", "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        "fal-ai/wan-pro/image-to-video", "fal-ai/minimax/hailuo-2.3/pro/image-to-video",
        "fal-ai/bytedance/seedance/v1/pro/image-to-video",
    }
    assert seed_models | {"vidgate/local"} <= ids
    one = (await harness.client.get("/api/v1/models/fal-ai/minimax/video-01")).json()
    assert one["tier"] == "standard" and one["pricing"]["credits_per_second"] == 100
    multipliers = {model["id"]: model["pricing"]["quota_multiplier"] for model in listed["data"]}
    assert multipliers["fal-ai/pixverse/v5.5/text-to-video"] == 1.0  # basic
    assert multipliers["fal-ai/minimax/video-01"] == 2.0  # standard
    assert multipliers["fal-ai/veo3"] == 4.0  # powerful
    assert multipliers["vidgate/local"] == 0.2
    assert one["modes"] == ["text_to_video"]
    missing = await harness.client.get("/api/v1/models/fal-ai/nothing")
    assert missing.status_code == 404 and missing.json() == {"error": "Model not found: fal-ai/nothing"}


async def test_openapi_documents_the_routes(harness: Harness) -> None:
    spec = (await harness.client.get("/openapi.json")).json()
    assert {"/api/v1/videos/generations", "/api/v1/jobs", "/api/v1/jobs/{job_id}",
            "/api/v1/jobs/{job_id}/cancel", "/api/v1/models", "/api/v1/quota"} <= set(spec["paths"])
    body = spec["components"]["schemas"]["GenerationRequest"]
    assert body["required"] == ["prompt"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/jobs"]["get"]["security"] == [{"bearerAuth": []}]
    assert (await harness.client.get("/docs")).status_code == 200


async def test_sync_request_that_waits_too_long_is_a_504_and_the_job_goes_on(harness: Harness) -> None:
    harness.settings.sync_timeout_seconds = 0.3
    key = await harness.key()
    body = {"prompt": "slow", "model": "vidgate/local", "duration_seconds": 20, "resolution": "1080p"}
    response = await harness.client.post(GEN, json=body, headers=auth(key))
    assert response.status_code == 504
    assert response.json()["error"].startswith("The video is not ready yet; the job goes on")
    job = (await harness.client.get(f"/api/v1/jobs/{response.json()['id']}", headers=auth(key))).json()
    assert job["status"] in ("pending", "processing")
    cancelled = await harness.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth(key))
    assert cancelled.json()["status"] == "cancelled"


async def test_sync_request_whose_job_is_cancelled_is_a_409(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "slow", "model": "vidgate/local", "duration_seconds": 20, "resolution": "1080p"}
    request = asyncio.create_task(harness.client.post(GEN, json=body, headers=auth(key)))
    for _ in range(100):
        jobs = (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"]
        if jobs:
            break
        await asyncio.sleep(0.05)
    await harness.client.post(f"/api/v1/jobs/{jobs[0]['id']}/cancel", headers=auth(key))
    response = await request
    assert response.status_code == 409
    assert response.json() == {"error": "Video generation was cancelled", "id": jobs[0]["id"]}


async def test_prompt_optimizer_off_renders_the_prompt_as_given(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "ocean", "duration_seconds": 1, "prompt_optimizer": False}
    job_id = (await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))).json()["id"]
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
    assert job["status"] == "completed"
    assert "optimized_prompt" not in job["outputData"]


def _data_uri(image: Image.Image, *, exif_orientation: int | None = None) -> str:
    import base64

    buffer = io.BytesIO()
    if exif_orientation is None:
        image.save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    exif = Image.Exif()
    exif[0x0112] = exif_orientation  # Orientation
    image.save(buffer, format="JPEG", exif=exif)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


async def test_without_an_aspect_ratio_a_video_takes_its_sources_shape(harness: Harness) -> None:
    key = await harness.key()

    async def made(**body: object) -> tuple[dict, tuple[int, int, float, int]]:
        response = await harness.client.post(
            GEN, json={"prompt": "slow drift", "duration_seconds": 1, **body}, headers=auth(key)
        )
        assert response.status_code == 200, response.text
        video = response.json()["data"]
        return video, _probe(await _video_bytes(harness, video["url"]))

    portrait = _data_uri(Image.new("RGB", (600, 800), (90, 120, 200)))
    video, probed = await made(mode="image_to_video", source_image=portrait)
    assert (video["width"], video["height"]) == probed[:2] == (720, 960)
    # a phone photo: stored landscape, shown portrait by its EXIF orientation
    turned = _data_uri(Image.new("RGB", (800, 600), (200, 120, 90)), exif_orientation=6)
    video, probed = await made(mode="image_to_video", source_image=turned)
    assert (video["width"], video["height"]) == probed[:2] == (720, 960)
    video, probed = await made(mode="image_to_video", source_image=portrait, aspect_ratio="16:9")
    assert (video["width"], video["height"]) == probed[:2] == (1280, 720)  # asked for: kept

    tall, _ = await made(model="vidgate/local", aspect_ratio="9:16")
    video, probed = await made(mode="video_to_video", source_video=tall["url"])
    assert (video["width"], video["height"]) == probed[:2] == (720, 1280)

    jobs = (await harness.client.get("/api/v1/jobs?limit=5", headers=auth(key))).json()["jobs"]
    assert [job["inputParams"]["aspect_ratio"] for job in jobs] == ["auto", "9:16", "16:9", "auto", "auto"]


async def test_aspect_ratio_auto_needs_a_source(harness: Harness) -> None:
    key = await harness.key()
    response = await harness.client.post(
        GEN, json={"prompt": "p", "aspect_ratio": "auto"}, headers=auth(key)
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "aspect_ratio auto follows a source image or video, and text_to_video has none: "
        "choose one of 16:9, 9:16, 1:1, 4:3, 3:4"
    }
    default = await harness.client.post(f"{GEN}?async=true", json={"prompt": "p", "duration_seconds": 1},
                                        headers=auth(key))
    job = (await harness.client.get(f"/api/v1/jobs/{default.json()['id']}", headers=auth(key))).json()
    assert job["inputParams"]["aspect_ratio"] == "16:9"
