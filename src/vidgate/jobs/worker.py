"""The worker side: the backends and the executor that run jobs, fed by a dispatcher (the
embedded one in the server process, or procrastinate in `vidgate worker` processes)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping

import httpx

from vidgate.backends.base import Backend
from vidgate.backends.registry import BackendServices
from vidgate.jobs.dispatch import InProcessDispatch
from vidgate.jobs.dispatcher import Dispatcher
from vidgate.jobs.executor import Executor
from vidgate.media.fetch import source_client, source_policy
from vidgate.services import Services


def lane_slots(services: Services) -> dict[str, int]:
    """How many jobs of each lane one worker process runs at once: the concurrency of the
    configured backends on it."""
    slots: Counter[str] = Counter()
    for plugin in services.plugins.values():
        if plugin.configured:
            slots[plugin.lane] += plugin.concurrency
    return dict(slots)


class WorkerSide:
    def __init__(self, *, services: Services, backends: dict[str, Backend], executor: Executor,
                 http: httpx.AsyncClient, dispatcher: Dispatcher) -> None:
        self.services = services
        self.backends = backends
        self.executor = executor
        self.http = http
        self.dispatcher = dispatcher

    @classmethod
    async def start_embedded(
        cls,
        services: Services,
        dispatch: InProcessDispatch,
        *,
        lanes: Mapping[str, int] | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> WorkerSide:
        """Workers in this process, fed by the embedded dispatcher. `http_transport` stands in
        for the internet where sources are downloaded (tests)."""
        http = source_client(source_policy(services.settings), http_transport)
        backends = build_backends(services, http)
        executor = Executor(
            services=services, backends=backends, http=http, dispatch=dispatch,
            worker_id="worker_" + secrets.token_hex(6),
        )
        dispatch.abandon = executor.abandon
        dispatcher = Dispatcher(executor=executor, dispatch=dispatch, lanes=lanes or lane_slots(services))
        await dispatcher.start()
        return cls(services=services, backends=backends, executor=executor, http=http, dispatcher=dispatcher)

    async def stop(self) -> None:
        await self.dispatcher.stop()
        for backend in self.backends.values():
            await backend.aclose()
        await self.http.aclose()


def build_backends(services: Services, http: httpx.AsyncClient) -> dict[str, Backend]:
    """A backend for every configured plugin."""
    given = BackendServices(
        settings=services.settings, storage=services.storage, http=http,
        source_limits=services.settings.source_limits,
    )
    return {name: plugin.create(given) for name, plugin in services.plugins.items() if plugin.configured}
