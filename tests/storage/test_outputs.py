"""Where outputs go: an S3-compatible bucket (a real one, SeaweedFS) with links presigned when
a job is read, or the local folder; and retention, which deletes them from either."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Harness, auth, running_harness
from tests.s3_server import BUCKET, S3Server
from vidgate.storage.s3 import S3Storage

GEN = "/api/v1/videos/generations"


def expires(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def render(harness: Harness, key: str, **body: Any) -> dict[str, Any]:
    response = await harness.client.post(GEN, json={"prompt": "ocean waves", "duration_seconds": 1, **body},
                                         headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_outputs_go_to_the_bucket_and_links_are_presigned_when_read(
    tmp_path: Path, database_url: str | None, s3: S3Server
) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None,
                               link_seconds=3600, **s3.settings()) as harness:
        key = await harness.key()
        made = await render(harness, key)
        url = made["data"]["url"]
        assert url.startswith(f"{s3.endpoint}/{BUCKET}/job_") and "X-Amz-Signature=" in url
        left = (expires(made["data"]["url_expires_at"]) - datetime.now(UTC)).total_seconds()
        assert 3500 < left <= 3600
        await asyncio.sleep(1.1)
        job = (await harness.client.get(f"/api/v1/jobs/{made['id']}", headers=auth(key))).json()
        video = job["outputData"]["video"]
        # made anew when read: the same file, a link that expires later
        assert video["url"].split("?")[0] == url.split("?")[0]
        assert expires(video["url_expires_at"]) > expires(made["data"]["url_expires_at"])
        assert video["thumbnail_url"].split("?")[0].endswith("/poster.jpg")
        # nothing of the job is on local disk
        assert not any((tmp_path / "data" / "outputs").rglob("*.mp4"))
    async with httpx.AsyncClient() as http:
        whole = await http.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        part = await http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        assert (await http.get(tampered)).status_code == 403


async def test_a_presigned_link_stops_working_when_it_expires(tmp_path: Path, s3: S3Server) -> None:
    storage = S3Storage(bucket=BUCKET, endpoint_url=s3.endpoint, access_key_id="vidgate-test",
                        secret_access_key="vidgate-test-secret", link_seconds=2)
    video = tmp_path / "video.mp4"
    video.write_bytes(b"\0" * 1000)
    keys = await storage.put("job_expiry_test", {"video.mp4": video})
    link = storage.link(keys["video.mp4"])
    async with httpx.AsyncClient() as http:
        assert (await http.get(link.url)).status_code == 200
        await asyncio.sleep(3)
        assert (await http.get(link.url)).status_code == 403
    await storage.aclose()


async def test_an_output_link_in_the_bucket_is_a_source_and_an_altered_one_is_refused(
    tmp_path: Path, database_url: str | None, s3: S3Server
) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None, **s3.settings()) as harness:
        key = await harness.key()
        link = (await render(harness, key))["data"]["url"]  # on loopback: fetched as our own
        again = await render(harness, key, mode="video_to_video", source_video=link, prompt="black and white")
        assert again["data"]["duration_seconds"] == pytest.approx(1, abs=0.05)
        altered = link.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        body = {"prompt": "sepia", "mode": "video_to_video", "source_video": altered, "duration_seconds": 1}
        refused = await harness.client.post(GEN, json=body, headers=auth(key))
        assert refused.status_code == 400
        assert refused.json()["error"] == ("Video generation failed: source_video: the link was refused "
                                           "(HTTP 403): expired or altered")


async def _wait_for_deletion(harness: Harness, key: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
        if job["outputsDeletedAt"] is not None:
            return dict(job)
        assert time.monotonic() < deadline, "retention never deleted the outputs"
        await asyncio.sleep(0.2)


async def test_retention_deletes_outputs_from_the_bucket_and_the_job_says_so(
    tmp_path: Path, database_url: str | None, s3: S3Server
) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None,
                               output_retention_days=2 / 86_400, **s3.settings()) as harness:
        key = await harness.key()
        made = await render(harness, key)
        job = await _wait_for_deletion(harness, key, made["id"])
    assert job["status"] == "completed"
    assert job["outputData"]["video"]["url"] is None and job["outputData"]["video"]["thumbnail_url"] is None
    assert job["outputData"]["video"]["width"] == 1280  # what it was is kept
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{made['id']}/")  # type: ignore[attr-defined]
    assert listed.get("KeyCount", 0) == 0
    async with httpx.AsyncClient() as http:
        assert (await http.get(made["data"]["url"])).status_code == 404


async def test_retention_deletes_local_outputs_too(tmp_path: Path, database_url: str | None) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None,
                               output_retention_days=2 / 86_400) as harness:
        key = await harness.key()
        made = await render(harness, key)
        path = "/" + made["data"]["url"].split("/", 3)[3]
        assert (await harness.client.get(path)).status_code == 200
        job = await _wait_for_deletion(harness, key, made["id"])
        assert job["outputData"]["video"]["url"] is None
        assert (await harness.client.get(path)).status_code == 404
        assert not any((tmp_path / "data" / "outputs").rglob("*.mp4"))
