"""Uploads (POST /api/v1/files): a key stores a source image or video and gives its link as
`source_image` / `source_video`; what is no source this server takes is refused with the
reason and stores nothing; uploads are the key's own and go with retention."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import update

from tests.conftest import Harness, auth, fake_internet, make_png, running_harness, sparse_png
from tests.fal_fake import render_mp4
from tests.s3_server import BUCKET, S3Server
from vidgate.db.base import utcnow
from vidgate.jobs.retention import delete_old_outputs
from vidgate.uploads.models import Upload

GEN = "/api/v1/videos/generations"
FILES = "/api/v1/files"


@pytest.fixture
async def offline(tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    """A server with no internet at all: an upload's link must be read from storage."""
    async with running_harness(tmp_path / "data", database_url, transport=fake_internet({})) as ready:
        yield ready


async def upload(harness: Harness, key: str, content: bytes, name: str = "portrait.png") -> Any:
    return await harness.client.post(FILES, files={"file": (name, content)}, headers=auth(key))


def stored_uploads(harness: Harness) -> list[Path]:
    return sorted(harness.settings.outputs_dir.glob("file_*/*/*"))


async def test_an_uploaded_image_is_the_source_of_an_image_to_video_job(offline: Harness) -> None:
    key = await offline.key()
    picture = make_png(240, 320)
    answer = await upload(offline, key, picture, name="C:\\photos\\portrait.png")
    assert answer.status_code == 200, answer.text
    stored = answer.json()
    assert stored["id"].startswith("file_") and stored["object"] == "file"
    assert {name: stored[name] for name in ("kind", "use_as", "filename", "content_type", "bytes",
                                            "width", "height", "duration_seconds", "url_expires_at")} == {
        "kind": "image", "use_as": "source_image", "filename": "portrait.png", "content_type": "image/png",
        "bytes": len(picture), "width": 240, "height": 320, "duration_seconds": None, "url_expires_at": None,
    }
    assert stored["url"].startswith(f"http://testserver/files/{stored['id']}/")
    fetched = await offline.client.get(stored["url"])
    assert fetched.status_code == 200 and fetched.content == picture
    assert fetched.headers["content-type"] == "image/png"

    body = {"prompt": "a portrait comes alive", "mode": "image_to_video", "source_image": stored["url"],
            "duration_seconds": 1}
    made = await offline.client.post(GEN, json=body, headers=auth(key))
    assert made.status_code == 200, made.text
    assert (made.json()["data"]["width"], made.json()["data"]["height"]) == (720, 960)  # the source's 3:4

    assert (await offline.client.get(f"{FILES}/{stored['id']}", headers=auth(key))).json() == stored
    listed = await offline.client.get(FILES, headers=auth(key))
    assert listed.json() == {"object": "list", "data": [stored], "has_more": False, "last_id": stored["id"]}


async def test_uploads_are_listed_a_page_at_a_time(offline: Harness) -> None:
    key = await offline.key()
    made = [(await upload(offline, key, make_png(64, 48 + n), name=f"{n}.png")).json()["id"] for n in range(3)]
    first = (await offline.client.get(f"{FILES}?limit=2", headers=auth(key))).json()
    assert [f["id"] for f in first["data"]] == made[:0:-1] and first["has_more"] is True
    rest = (await offline.client.get(f"{FILES}?limit=2&after={first['last_id']}", headers=auth(key))).json()
    assert [f["id"] for f in rest["data"]] == made[:1] and rest["has_more"] is False
    assert rest["last_id"] == made[0]


async def test_an_uploaded_video_is_the_source_of_a_video_to_video_job(offline: Harness) -> None:
    key = await offline.key()
    clip = render_mp4(320, 180, 24, 1.0)
    answer = await upload(offline, key, clip, name="clip.mp4")
    assert answer.status_code == 200, answer.text
    stored = answer.json()
    assert (stored["kind"], stored["use_as"], stored["content_type"]) == ("video", "source_video", "video/mp4")
    assert (stored["width"], stored["height"], stored["bytes"]) == (320, 180, len(clip))
    assert stored["duration_seconds"] == pytest.approx(1.0, abs=0.05)

    body = {"prompt": "black and white film", "mode": "video_to_video", "source_video": stored["url"],
            "duration_seconds": 1}
    made = await offline.client.post(GEN, json=body, headers=auth(key))
    assert made.status_code == 200, made.text
    assert (made.json()["data"]["width"], made.json()["data"]["height"]) == (1280, 720)


def h264_mkv() -> bytes:
    """An H.264 video in a Matroska file: what a WebM is not."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="BMP")
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "status", "error"), [
    (b"", 400, "file is empty"),
    (b"just some text, not a picture\n", 400, "file is neither an image nor a video this server can read"),
    (make_png()[:200], 400, "source_image could not be decoded as an image"),
    (bmp(), 400, "file is a BMP image; source images may be JPEG, PNG, WEBP, GIF"),
    (sparse_png(3000, 3000), 400, "source_image is 3000x3000 pixels, more than this server decodes"),
    (render_mp4(320, 180, 24, 1.0)[:3000], 400, "file is neither an image nor a video"),  # cut short
    (bytes(420_000), 413, "file is larger than 400000 bytes, the most this server takes"),
    (h264_mkv(), 400, "file is a video in a container this server does not take"),
])
async def test_what_is_no_source_is_refused_with_the_reason_and_nothing_is_stored(
    tmp_path: Path, database_url: str | None, content: bytes, status: int, error: str
) -> None:
    async with running_harness(
        tmp_path / "data", database_url, transport=None, max_source_pixels=4_000_000, max_source_bytes=400_000,
    ) as harness:
        key = await harness.key()
        answer = await upload(harness, key, content)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"].startswith(error)
        assert (await harness.client.get(FILES, headers=auth(key))).json()["data"] == []
        assert stored_uploads(harness) == []
        assert list(harness.settings.work_dir.iterdir()) == []  # nothing left behind either


async def test_a_body_past_the_upload_limit_is_refused_before_it_is_read(
    tmp_path: Path, database_url: str | None
) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None, max_source_bytes=20_000) as harness:
        key = await harness.key()
        answer = await upload(harness, key, bytes(200_000))
        assert answer.status_code == 413
        assert answer.json() == {"error": f"Request body larger than {20_000 + 64 * 1024} bytes"}


async def test_a_form_without_a_file_or_a_key_is_refused(offline: Harness) -> None:
    key = await offline.key()
    no_file = await offline.client.post(FILES, data={"purpose": "source"}, headers=auth(key))
    assert no_file.status_code == 400 and "file" in no_file.json()["error"]
    assert (await offline.client.post(FILES, files={"file": ("a.png", make_png())})).status_code == 401
    reader = await offline.key(scopes=("jobs",))
    refused = await upload(offline, reader, make_png())
    assert refused.status_code == 403
    assert stored_uploads(offline) == []


async def test_uploads_are_their_keys_own_and_deleting_one_removes_its_file(offline: Harness) -> None:
    owner, other = await offline.key(), await offline.key()
    stored = (await upload(offline, owner, make_png())).json()
    path = f"{FILES}/{stored['id']}"
    assert (await offline.client.get(path, headers=auth(other))).status_code == 404
    assert (await offline.client.delete(path, headers=auth(other))).status_code == 404
    assert (await offline.client.get(FILES, headers=auth(other))).json()["data"] == []

    deleted = await offline.client.delete(path, headers=auth(owner))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": stored["id"], "object": "file", "deleted": True}
    assert (await offline.client.get(path, headers=auth(owner))).status_code == 404
    assert (await offline.client.get(stored["url"])).status_code == 404
    assert stored_uploads(offline) == []


async def test_retention_deletes_old_uploads_file_and_record(tmp_path: Path, database_url: str | None) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None, output_retention_days=1) as harness:
        key = await harness.key()
        old, new = [(await upload(harness, key, make_png())).json() for _ in range(2)]
        async with harness.sessions() as session, session.begin():
            await session.execute(
                update(Upload).where(Upload.id == old["id"]).values(created_at=utcnow() - timedelta(days=2))
            )
        await delete_old_outputs(harness.api.services)
        listed = (await harness.client.get(FILES, headers=auth(key))).json()["data"]
        assert [item["id"] for item in listed] == [new["id"]]
        assert (await harness.client.get(old["url"])).status_code == 404
        assert (await harness.client.get(new["url"])).status_code == 200


async def test_an_upload_in_the_bucket_is_a_presigned_source(
    tmp_path: Path, database_url: str | None, s3: S3Server
) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=fake_internet({}),
                               link_seconds=3600, **s3.settings()) as harness:
        key = await harness.key()
        stored = (await upload(harness, key, make_png(240, 320))).json()
        assert stored["url"].startswith(f"{s3.endpoint}/{BUCKET}/{stored['id']}/")
        assert "X-Amz-Signature=" in stored["url"] and stored["url_expires_at"] is not None
        body = {"prompt": "p", "mode": "image_to_video", "source_image": stored["url"], "duration_seconds": 1}
        made = await harness.client.post(GEN, json=body, headers=auth(key))
        assert made.status_code == 200, made.text
        assert made.json()["data"]["height"] == 960
        deleted = await harness.client.delete(f"{FILES}/{stored['id']}", headers=auth(key))
        assert deleted.status_code == 200
        listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{stored['id']}/")  # type: ignore[attr-defined]
        assert listed.get("KeyCount", 0) == 0


async def test_a_method_the_resource_lacks_is_answered_with_every_method_it_has(offline: Harness) -> None:
    key = await offline.key()
    answer = await offline.client.put(f"{FILES}/file_x", headers=auth(key))
    assert answer.status_code == 405 and answer.headers["Allow"] == "DELETE, GET"
    assert answer.json() == {"error": "Method Not Allowed"}
