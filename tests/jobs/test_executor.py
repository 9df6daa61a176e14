"""The executor around any backend: progress, unexpected errors, cancellation."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.conftest import Harness, auth
from vidgate.backends import Backend, BackendResult, JobContext

GEN = "/api/v1/videos/generations?async=true"


class Exploding(Backend):
    name = "local"

    async def run(self, ctx: JobContext) -> BackendResult:
        raise RuntimeError("disk on fire")


class Stepping(Backend):
    """Reports progress in steps, each released by the test."""

    name = "local"

    def __init__(self) -> None:
        self.step = asyncio.Event()

    async def run(self, ctx: JobContext) -> BackendResult:
        for fraction in (0.25, 0.5, 0.75):
            await self.step.wait()
            self.step.clear()
            ctx.report_progress(fraction)
        await ctx.cancelled.wait()
        from vidgate.backends import BackendCancelled

        raise BackendCancelled()


async def _job(harness: Harness, key: str, job_id: str) -> dict:
    return (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()


async def test_unexpected_backend_error_fails_the_job_and_releases(harness: Harness) -> None:
    harness.worker.backends["local"] = Exploding()
    key = await harness.key()
    job_id = (await harness.client.post(GEN, json={"prompt": "p", "duration_seconds": 1},
                                        headers=auth(key))).json()["id"]
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
    assert job["status"] == "failed"
    assert job["errorMessage"] == "Internal error while generating the video (RuntimeError)"
    assert (await harness.quota(key))["credits"]["reserved"] == 0


async def test_a_failed_job_logs_why(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.worker.backends["local"] = Exploding()
    key = await harness.key()
    with caplog.at_level(logging.INFO):
        job_id = (await harness.client.post(GEN, json={"prompt": "p", "duration_seconds": 1},
                                            headers=auth(key))).json()["id"]
        await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))
    failed = [record for record in caplog.records if getattr(record, "event", None) == "failed"]
    assert [record.job_id for record in failed] == [job_id]  # type: ignore[attr-defined]
    assert failed[0].error_kind == "internal"  # type: ignore[attr-defined]
    assert "RuntimeError" in failed[0].error  # type: ignore[attr-defined]
    unexpected = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert unexpected and "disk on fire" in (unexpected[0].exc_text or str(unexpected[0].exc_info))


async def test_progress_rises_while_the_job_runs(harness: Harness) -> None:
    backend = Stepping()
    harness.worker.backends["local"] = backend
    key = await harness.key()
    job_id = (await harness.client.post(GEN, json={"prompt": "p", "duration_seconds": 1},
                                        headers=auth(key))).json()["id"]
    seen = []
    for expected in (25, 50, 75):
        backend.step.set()
        for _ in range(50):  # the heartbeat stores progress every half second at most
            job = await _job(harness, key, job_id)
            if job["progress"] >= expected:
                break
            await asyncio.sleep(0.1)
        seen.append(job["progress"])
        assert job["status"] == "processing"
    assert seen == [25, 50, 75]
    cancelled = (await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))).json()
    assert cancelled["status"] == "cancelled"
