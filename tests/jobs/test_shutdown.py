"""Stopping the server: every background loop ends, whatever it was doing when asked."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Harness, auth
from vidgate.backends import Backend, BackendResult, JobContext
from vidgate.jobs import dispatcher as dispatcher_module
from vidgate.jobs.dispatch import InProcessDispatch
from vidgate.jobs.dispatcher import Dispatcher
from vidgate.jobs.events import JobEvents

STOP_WITHIN_SECONDS = 5


async def test_a_worker_stops_when_work_arrives_in_the_same_instant() -> None:
    dispatch = InProcessDispatch(JobEvents())
    waiting = asyncio.create_task(dispatch.wait_for_work("local", 60))
    await asyncio.sleep(0.01)
    dispatch._work["local"].set()  # what submitted() does for a job on that lane
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, STOP_WITHIN_SECONDS)


async def test_workers_stop_when_a_cancelled_query_surfaces_as_a_driver_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_query = asyncio.Event()

    async def claim_that_breaks_on_cancel(*_args: object, **_kwargs: object) -> None:
        in_query.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("unexpected connection_lost() call") from None

    monkeypatch.setattr(dispatcher_module.store, "claim_next", claim_that_breaks_on_cancel)
    worker = harness.worker
    workers = Dispatcher(executor=worker.executor, dispatch=InProcessDispatch(worker.services.events), lanes={"local": 2})
    await workers.start()
    await asyncio.wait_for(in_query.wait(), STOP_WITHIN_SECONDS)
    await asyncio.wait_for(workers.stop(), STOP_WITHIN_SECONDS)


class BreaksOnCancel(Backend):
    """A backend whose clean-up fails when the server stops it mid-run."""

    name = "local"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def run(self, ctx: JobContext) -> BackendResult:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise OSError("pipe closed") from None
        raise AssertionError("unreachable")


async def test_a_job_stopped_by_shutdown_goes_back_to_the_queue_even_if_its_backend_errs(
    harness: Harness,
) -> None:
    backend = BreaksOnCancel()
    harness.worker.backends["local"] = backend
    key = await harness.key()
    response = await harness.client.post(
        "/api/v1/videos/generations?async=true", json={"prompt": "p", "duration_seconds": 1},
        headers=auth(key),
    )
    job_id = response.json()["id"]
    await asyncio.wait_for(backend.started.wait(), STOP_WITHIN_SECONDS)
    await asyncio.wait_for(harness.worker.runner.stop(), STOP_WITHIN_SECONDS)
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
    assert job["status"] == "pending"  # not failed: the next start runs it
    assert job["errorMessage"] is None
