"""`GET /jobs/{id}?poll=true`: held while the job runs, answered the moment it ends."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Harness, auth
from tests.fal_fake import render_mp4
from vidgate.backends import Backend, BackendResult, JobContext
from vidgate.jobs.events import EventKind

GEN = "/api/v1/videos/generations?async=true"
# Generous: a woken long-poll answers in milliseconds; a sleep loop of a second would not.
WAKE_BOUND_SECONDS = 0.5


class Gated(Backend):
    """Holds each job in `processing` until the test opens the gate, then returns a small video."""

    name = "local"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def run(self, ctx: JobContext) -> BackendResult:
        self.started.set()
        await self.gate.wait()
        video = ctx.work_dir / "video.mp4"
        video.write_bytes(render_mp4(64, 36, 30, 1.0))
        return BackendResult(video_path=video, width=64, height=36, fps=30, duration_seconds=1.0)


@pytest.fixture
async def running_job(harness: Harness) -> tuple[Gated, str, str]:
    """(backend, key, job id) for a job held in processing by the backend."""
    backend = Gated()
    harness.worker.backends["local"] = backend
    key = await harness.key()
    response = await harness.client.post(GEN, json={"prompt": "p", "duration_seconds": 1}, headers=auth(key))
    await asyncio.wait_for(backend.started.wait(), 30)
    return backend, key, response.json()["id"]


async def test_a_held_poll_returns_as_soon_as_the_job_ends(
    harness: Harness, running_job: tuple[Gated, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, key, job_id = running_job
    events = harness.api.events
    loop = asyncio.get_running_loop()
    subscribed, ended_at = asyncio.Event(), []

    def subscribe(watched: str) -> asyncio.Future[None]:
        future = type(events).subscribe(events, watched)
        if watched == job_id:
            subscribed.set()
        return future

    def deliver(kind: EventKind, changed: str) -> None:
        if kind is EventKind.CHANGED and changed == job_id:
            ended_at.append(loop.time())
        type(events).deliver(events, kind, changed)

    monkeypatch.setattr(events, "subscribe", subscribe)
    monkeypatch.setattr(events, "deliver", deliver)
    poll = asyncio.create_task(harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key)))
    await asyncio.wait_for(subscribed.wait(), 30)  # the request is waiting on the job
    assert not poll.done()

    backend.gate.set()
    response = await asyncio.wait_for(poll, 30)
    answered_at = loop.time()
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert ended_at and answered_at - ended_at[0] < WAKE_BOUND_SECONDS


async def test_a_poll_that_times_out_returns_the_running_job(
    harness: Harness, running_job: tuple[Gated, str, str]
) -> None:
    backend, key, job_id = running_job
    harness.settings.poll_timeout_seconds = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))
    assert loop.time() - started >= 0.3  # it was held for the timeout, not answered at once
    assert response.status_code == 200
    job = response.json()
    assert job["id"] == job_id and job["status"] == "processing"
    backend.gate.set()
