"""GET /api/v1/jobs/{id}/events: the job's status and progress as Server-Sent Events, read
from a running server to the end of the stream, and resumed with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.conftest import settings_for_tests
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.cli import with_database


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    """A server on loopback; yields a client with a sandbox key's Authorization, and the key."""
    settings = settings_for_tests(tmp_path / "data")
    _row, key = with_database(settings, lambda sessions: keys.create_key(
        sessions, name="sse", scopes=("video", "jobs", "usage"), credits=100_000, video_seconds=10_000, sandbox=True,
    ))
    with serve_in_thread(create_app(settings)) as base, httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        yield client, key


def submit(client: httpx.Client, seconds: int = 3, resolution: str = "720p") -> str:
    made = client.post("/api/v1/videos/generations?async=true", json={
        "prompt": "a slow sunrise", "model": "vidgate/local", "duration_seconds": seconds, "resolution": resolution})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def events(client: httpx.Client, job_id: str, last_event_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    with connect_sse(client, "GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.id, json.loads(event.data)) for event in source.iter_sse() if event.event == "job"]


def test_the_stream_shows_each_change_and_ends_with_the_finished_job(live: tuple[httpx.Client, str]) -> None:
    client, _key = live
    job_id = submit(client, seconds=8)  # rendered in a few seconds; progress is stored once a second
    seen = events(client, job_id)
    statuses = [job["status"] for _id, job in seen]
    progress = [job["progress"] for _id, job in seen if job["status"] == "processing"]
    assert statuses[-1] == "completed" and "completed" not in statuses[:-1]
    assert "processing" in statuses and len(set(progress)) >= 3  # progress moved while it rendered
    assert progress == sorted(progress) and len({event_id for event_id, _job in seen}) == len(seen)
    finished = seen[-1][1]
    assert finished["id"] == job_id and finished["outputData"]["video"]["url"].startswith("http")
    assert finished == client.get(f"/api/v1/jobs/{job_id}").json()


def test_a_resumed_stream_sends_only_what_was_not_seen(live: tuple[httpx.Client, str]) -> None:
    client, _key = live
    job_id = submit(client, seconds=1)
    seen = events(client, job_id)
    last_id = seen[-1][0]
    assert events(client, job_id, last_event_id=last_id) == []  # it has seen the end: nothing more
    resumed = events(client, job_id, last_event_id=seen[0][0])
    assert [event_id for event_id, _job in resumed] == [last_id]  # the job as it is now


def test_no_stream_for_a_job_that_is_not_the_keys(live: tuple[httpx.Client, str]) -> None:
    client, _key = live
    job_id = submit(client, seconds=1)
    assert client.get("/api/v1/jobs/job_missing/events").status_code == 404
    stranger = client.get(f"/api/v1/jobs/{job_id}/events", headers={"Authorization": "Bearer sk_test_nope"})
    assert stranger.status_code == 401 and stranger.json()["error"]


def test_a_pending_job_shows_its_place_in_the_queue_as_it_moves(tmp_path: Path) -> None:
    settings = settings_for_tests(tmp_path / "data", workers=1)
    _row, key = with_database(settings, lambda sessions: keys.create_key(
        sessions, name="queue", scopes=("video", "jobs", "usage"), credits=100_000, video_seconds=10_000, sandbox=True,
    ))
    with serve_in_thread(create_app(settings)) as base, httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        # holds the one worker for a minute or more, past the three recounts (up to 5 s each) below
        busy = submit(client, seconds=60, resolution="1080p")
        while client.get(f"/api/v1/jobs/{busy}").json()["status"] != "processing":
            pass
        waiting = [submit(client, seconds=1) for _ in range(3)]
        assert [client.get(f"/api/v1/jobs/{job_id}").json()["queuePosition"] for job_id in waiting] == [1, 2, 3]
        listed = {job["id"]: job["queuePosition"] for job in client.get("/api/v1/jobs").json()["jobs"]}
        assert listed == {busy: None, waiting[0]: 1, waiting[1]: 2, waiting[2]: 3}

        seen: list[tuple[str, int | None]] = []

        def cancel(job_id: str) -> None:
            # a connection of its own: a pooled one idle for the 5 s of a recount may be closing
            assert httpx.post(f"{base}/api/v1/jobs/{job_id}/cancel", headers=client.headers, timeout=30).status_code == 200

        with connect_sse(client, "GET", f"/api/v1/jobs/{waiting[2]}/events") as source:
            for event in source.iter_sse():
                if event.event != "job":
                    continue  # a keep-alive comment (every 15 s)
                job = json.loads(event.data)
                seen.append((job["status"], job["queuePosition"]))
                if seen == [("pending", 3)]:
                    cancel(waiting[0])
                elif seen[-1] == ("pending", 2):
                    cancel(waiting[1])
                elif seen[-1] == ("pending", 1):
                    cancel(busy)  # the worker takes this one
        assert seen[:3] == [("pending", 3), ("pending", 2), ("pending", 1)]
        assert seen[-1] == ("completed", None) and ("processing", None) in seen
