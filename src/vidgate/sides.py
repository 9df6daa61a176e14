"""Starting and stopping what one process runs: the shared services, the API side, the
worker side, or both (the embedded default)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import httpx
import procrastinate

from vidgate.api.side import ApiSide
from vidgate.backends.registry import BackendPlugin, lane_slots
from vidgate.config import Settings
from vidgate.jobs.dispatch import Dispatch, InProcessDispatch
from vidgate.jobs.queue import QueueDispatch, QueueRunner, queue_app
from vidgate.jobs.worker import WorkerSide
from vidgate.services import Services


@dataclass
class Sides:
    services: Services
    api: ApiSide | None
    worker: WorkerSide | None

    async def stop_taking_work(self) -> None:
        """The first steps of a stop, before connections close: held polls and sync requests
        are answered with their job as it stands, workers claim nothing more and give their
        running jobs back to the queue."""
        self.services.events.end_waits()
        if self.worker is not None:
            await self.worker.stop()


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    plugins: Sequence[BackendPlugin],
    *,
    api: bool = True,
    workers: bool = True,
    lanes: Mapping[str, int] | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Sides]:
    """The services, and the sides asked for. An API without workers, or workers without an
    API, need jobs queued through procrastinate (PostgreSQL), which carries them between
    processes."""
    if not (api and workers) and not settings.queued:
        raise ValueError(
            "API and workers in separate processes need PostgreSQL (DATABASE_URL=postgresql://...), "
            "whose procrastinate queue carries jobs between them"
        )
    async with contextlib.AsyncExitStack() as stack:
        services = await Services.open(settings, plugins)
        stack.push_async_callback(services.close)
        app: procrastinate.App | None = None
        dispatch: Dispatch
        if settings.queued:
            lanes = dict(lanes or lane_slots(services.plugins.values()))
            runners = QueueRunner.workers_for(lanes) if workers else 0
            app = queue_app(settings.resolved_database_url, workers=runners)
            await app.open_async()
            stack.push_async_callback(app.close_async)
            dispatch = QueueDispatch(app, services.events)
        else:
            dispatch = InProcessDispatch(services.events)
        sides = Sides(services=services, api=None, worker=None)
        if api:
            sides.api = ApiSide.start(services, dispatch)
            stack.push_async_callback(sides.api.stop)
        if workers:
            sides.worker = await WorkerSide.start(
                services, dispatch, queue_app=app, lanes=lanes, http_transport=http_transport
            )
            stack.push_async_callback(sides.worker.stop)
        yield sides
