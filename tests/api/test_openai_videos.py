"""/v1/videos driven by the official `openai` package (3.x) against a running server: create
with and without an input file, poll to completion, download both variants, list with paging,
delete; errors in OpenAI's shape; the same jobs as the NovaKit API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import auth, make_png, running_harness, settings_for_tests
from tests.fal_fake import render_mp4
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.cli import with_database

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # OpenAI retired the videos API


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A server on loopback and a sandbox key; yields (base URL, key)."""
    settings = settings_for_tests(tmp_path / "data")
    _row, key = with_database(settings, lambda sessions: keys.create_key(
        sessions, name="openai", scopes=("video", "jobs", "usage"), credits=100_000,
        video_seconds=10_000, sandbox=True,
    ))
    with serve_in_thread(create_app(settings)) as base:
        yield base, key


def client(live: tuple[str, str]) -> openai.OpenAI:
    base, key = live
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def test_the_sdk_creates_polls_and_downloads_a_video(live: tuple[str, str]) -> None:
    sdk = client(live)
    video = sdk.videos.create(prompt="ocean waves at sunset", model="vidgate/local", seconds="2", size="1280x720")
    assert (video.object, video.status, video.model, video.size, video.seconds) == (
        "video", "queued", "vidgate/local", "1280x720", "2")
    done = sdk.videos.poll(video.id)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert done.completed_at is not None and done.completed_at >= done.created_at
    mp4 = sdk.videos.download_content(video.id).read()
    assert mp4[4:8] == b"ftyp" and len(mp4) > 10_000
    poster = sdk.videos.download_content(video.id, variant="thumbnail").read()
    assert poster[:3] == b"\xff\xd8\xff"  # a JPEG
    with pytest.raises(openai.BadRequestError):  # no spritesheet is made here
        sdk.videos.download_content(video.id, variant="spritesheet")
    assert sdk.videos.retrieve(video.id).status == "completed"

    base, key = live  # the same job, through the NovaKit API
    job = httpx.get(f"{base}/api/v1/jobs/{video.id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["status"] == "completed" and job["outputData"]["video"]["width"] == 1280


def test_an_input_reference_file_makes_an_image_to_video(live: tuple[str, str]) -> None:
    sdk = client(live)
    video = sdk.videos.create_and_poll(prompt="she turns and smiles", model="vidgate/local", seconds="1",
                                       input_reference=("portrait.png", make_png(240, 320), "image/png"))
    assert video.status == "completed" and video.size == "720x960"  # the image's 3:4
    base, key = live
    job = httpx.get(f"{base}/api/v1/jobs/{video.id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["inputParams"]["mode"] == "image_to_video"
    assert job["inputParams"]["source_image"].startswith(f"{base}/files/file_")


def test_videos_are_listed_a_page_at_a_time_and_deleted(live: tuple[str, str]) -> None:
    sdk = client(live)
    made = [sdk.videos.create(prompt=f"clip {i}", model="vidgate/local", seconds="1").id for i in range(3)]
    first = sdk.videos.list(limit=2)
    assert [video.id for video in first.data] == made[:0:-1] and first.has_more
    rest = first.get_next_page()
    assert [video.id for video in rest.data] == [made[0]] and not rest.has_more
    oldest_first = sdk.videos.list(order="asc", limit=10)
    assert [video.id for video in oldest_first.data] == made
    with pytest.raises(openai.BadRequestError):  # a cursor that is none of the key's videos
        sdk.videos.list(after="job_nope")

    finished = sdk.videos.poll(made[0])
    assert finished.status == "completed"
    deleted = sdk.videos.delete(made[0])
    assert (deleted.id, deleted.deleted, deleted.object) == (made[0], True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        sdk.videos.download_content(made[0])


def test_what_a_model_cannot_do_is_a_400_in_openais_shape_listing_what_it_can(live: tuple[str, str]) -> None:
    sdk = client(live)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.videos.create(prompt="p", model="vidgate/local", size="1024x1792")
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "invalid_request_error" and body["param"] == "size"
    assert body["message"].startswith("size 1024x1792 is not one vidgate/local makes; it makes 1280x720, ")
    assert "720x1280" in body["message"]
    for fields, param, message in (
        ({"seconds": "90", "model": "vidgate/local"}, "seconds", "duration_seconds must be between 1 and 60 for model vidgate/local"),
        ({"model": "no/such-model"}, "model", "Invalid model: no/such-model."),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.videos.create(prompt="p", **fields)  # type: ignore[arg-type]
        assert isinstance(refused.value.body, dict)
        assert refused.value.body["param"] == param and refused.value.body["message"].startswith(message)
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve("job_missing")
    base, _key = live
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{base}/v1", api_key="sk_wrong", max_retries=0).videos.retrieve("job_x")


def test_raw_json_with_an_image_url_and_the_poll_header(live: tuple[str, str]) -> None:
    base, key = live
    import base64

    data_uri = "data:image/png;base64," + base64.b64encode(make_png(240, 320)).decode()
    made = httpx.post(f"{base}/v1/videos", headers={"Authorization": f"Bearer {key}"}, json={
        "prompt": "a portrait", "model": "vidgate/local", "seconds": 1, "input_reference": {"image_url": data_uri},
    })
    assert made.status_code == 200, made.text
    assert made.headers["openai-poll-after-ms"] == "1000"
    assert made.json()["status"] in ("queued", "in_progress")
    unknown = httpx.post(f"{base}/v1/videos", headers={"Authorization": f"Bearer {key}"},
                         json={"prompt": "p", "colour": "red"})
    assert unknown.status_code == 400 and unknown.json()["error"]["type"] == "invalid_request_error"


def test_a_completed_video_is_remixed_into_a_new_one(live: tuple[str, str]) -> None:
    sdk = client(live)
    original = sdk.videos.create(prompt="ocean waves", model="vidgate/local", seconds="1", size="720x1280")
    with pytest.raises(openai.ConflictError):  # not made yet (or just being made)
        sdk.videos.remix(original.id, prompt="the same waves, at night")
    original = sdk.videos.poll(original.id)
    remix = sdk.videos.remix(original.id, prompt="the same waves, at night")
    assert remix.remixed_from_video_id == original.id and remix.status == "queued"
    remix = sdk.videos.poll(remix.id)
    assert remix.status == "completed", remix.error
    assert (remix.size, remix.seconds, remix.remixed_from_video_id) == ("720x1280", "1", original.id)
    base, key = live
    job = httpx.get(f"{base}/api/v1/jobs/{remix.id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["inputParams"]["mode"] == "video_to_video" and job["inputParams"]["prompt"] == "the same waves, at night"


async def test_a_body_past_the_limit_is_refused_in_openais_shape(tmp_path: Path) -> None:
    async with running_harness(tmp_path / "data", None, transport=None, max_source_bytes=1000) as harness:
        key = await harness.key()
        answer = await harness.client.post("/v1/videos", headers=auth(key),
                                           files={"input_reference": ("a.png", bytes(200_000))}, data={"prompt": "p"})
        assert answer.status_code == 413
        assert answer.json() == {"error": {"message": f"Request body larger than {1000 + 64 * 1024} bytes",
                                           "type": "invalid_request_error", "param": None, "code": None}}


async def test_hostile_or_refused_creates_leave_nothing_behind(tmp_path: Path) -> None:
    async with running_harness(tmp_path / "data", None, transport=None) as harness:
        key, poor = await harness.key(), await harness.key(credits=10)
        deep = await harness.client.post("/v1/videos", headers={**auth(key), "Content-Type": "application/json"},
                                         content=b"[" * 100_000 + b"]" * 100_000)
        assert deep.status_code == 400
        assert deep.json()["error"]["message"] == "Request body is nested too deeply"
        big = await harness.client.post("/v1/videos", headers={**auth(key), "Content-Type": "application/json"},
                                        content=b" " * (21 * 1024 * 1024))
        assert big.status_code == 413  # JSON gets the API's body limit; only a form may carry a file

        refused = await harness.client.post("/v1/videos", headers=auth(poor), data={"prompt": "p", "model": "vidgate/local"},
                                            files={"input_reference": ("a.png", make_png(), "image/png")})
        assert refused.status_code == 402
        assert (await harness.client.get("/api/v1/files", headers=auth(poor))).json()["data"] == []

        clip = await harness.client.post("/api/v1/files", headers=auth(key), files={"file": ("c.mp4", render_mp4(64, 36, 24, 1.0))})
        as_image = await harness.client.post("/v1/videos", headers=auth(key), json={
            "prompt": "p", "model": "vidgate/local", "input_reference": {"file_id": clip.json()["id"]}})
        assert as_image.status_code == 400 and as_image.json()["error"]["param"] == "input_reference"
        assert (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"] == []


async def test_a_retried_create_with_its_idempotency_key_is_the_same_video(tmp_path: Path) -> None:
    async with running_harness(tmp_path / "data", None, transport=None) as harness:
        key = await harness.key()
        form = {"prompt": "p", "model": "vidgate/local", "seconds": "1"}
        retry = {**auth(key), "Idempotency-Key": "create-1"}
        first, second = [await harness.client.post("/v1/videos", headers=retry, data=form,
                                                   files={"input_reference": ("a.png", make_png(), "image/png")})
                         for _ in range(2)]
        assert first.status_code == second.status_code == 200
        assert second.json()["id"] == first.json()["id"] and second.headers["Idempotent-Replayed"] == "true"
        assert len((await harness.client.get("/api/v1/files", headers=auth(key))).json()["data"]) == 1
        as_json = [await harness.client.post("/v1/videos", headers={**auth(key), "Idempotency-Key": "create-2"},
                                             json=form) for _ in range(2)]
        assert as_json[1].json()["id"] == as_json[0].json()["id"] and as_json[1].headers["Idempotent-Replayed"] == "true"
