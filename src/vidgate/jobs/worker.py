"""The worker side: the backends and the executor that run jobs, fed by the embedded
dispatcher (in the server process) or by procrastinate (`vidgate worker` processes, and
`vidgate serve` on PostgreSQL), and the webhook sender."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

import httpx
import procrastinate

from vidgate.backends.base import Backend
from vidgate.backends.registry import BackendServices, lane_slots
from vidgate.jobs import queue, retention, store
from vidgate.jobs.dispatch import Dispatch, InProcessDispatch
from vidgate.jobs.dispatcher import Dispatcher
from vidgate.jobs.executor import Executor
from vidgate.media.fetch import source_client, source_policy
from vidgate.services import Services
from vidgate.webhooks.sender import WebhookSender, webhook_client

log = logging.getLogger(__name__)


class WorkerSide:
    def __init__(self, *, services: Services, dispatch: Dispatch, http: httpx.AsyncClient) -> None:
        self.services = services
        self.sessions = services.sessions
        self.settings = services.settings
        self.dispatch = dispatch
        self.http = http
        self.backends: dict[str, Backend] = build_backends(services, http)
        self.executor = Executor(
            services=services, backends=self.backends, http=http, dispatch=dispatch,
            worker_id="worker_" + secrets.token_hex(6),
        )
        self.webhooks = WebhookSender(services, webhook_client(services.settings))
        self.runner: Dispatcher | queue.QueueRunner | None = None
        self.queue_app: procrastinate.App | None = None
        self._stopped = False

    @classmethod
    async def start(
        cls,
        services: Services,
        dispatch: Dispatch,
        *,
        queue_app: procrastinate.App | None = None,
        lanes: Mapping[str, int] | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> WorkerSide:
        """Workers in this process for `lanes` (default: every lane this server runs), fed by
        procrastinate when a `queue_app` is given, else by the embedded dispatcher.
        `http_transport` stands in for the internet where sources are downloaded (tests)."""
        worker = cls(
            services=services, dispatch=dispatch,
            http=source_client(source_policy(services.settings), http_transport),
        )
        lanes = dict(lanes or lane_slots(services.plugins.values()))
        if queue_app is not None:
            worker.queue_app = queue_app
            worker.runner = queue.QueueRunner(
                queue_app, worker, lanes=lanes, heartbeat_seconds=services.settings.job_heartbeat_seconds
            )
        else:
            assert isinstance(dispatch, InProcessDispatch)
            dispatch.abandon = worker.executor.abandon
            worker.runner = Dispatcher(executor=worker.executor, dispatch=dispatch, lanes=lanes)
        await worker.runner.start()
        await worker.webhooks.start()
        return worker

    async def stop(self) -> None:
        """Claim nothing more, give running jobs back, close the backends. Once: a stop
        starts with it, and the process's exit calls it again."""
        if self._stopped:
            return
        self._stopped = True
        if self.runner is not None:
            await self.runner.stop()
        await self.webhooks.stop()
        await self.executor.heartbeats.stop()
        for backend in self.backends.values():
            await backend.aclose()
        await self.http.aclose()
        await self.webhooks.http.aclose()

    # What procrastinate's tasks do here (queue.QueuedWork).

    async def run_queued(self, job_id: str) -> None:
        """Run the job a task names: its next attempt, unless it is over (a task delivered
        twice, a job cancelled while it waited) or must not run again."""
        claimed = await store.claim(
            self.sessions, job_id, worker_id=self.executor.worker_id,
            lease_seconds=self.settings.job_lease_seconds, max_attempts=self.settings.job_max_attempts,
        )
        if isinstance(claimed, store.Ended):
            if claimed.ended_here and claimed.job is not None:
                log.warning("job %s: its worker stopped and it will not run again", job_id)
                await self.services.events.changed(job_id)
                await self.executor.abandon(claimed.job)
            return
        if claimed.attempts > 1 + claimed.requeues:
            log.warning("job %s: taken over from a worker that stopped (attempt %d)", job_id, claimed.attempts)
        await self.services.events.changed(job_id)
        await self.executor.run(claimed)

    async def abandon_request(self, job_id: str) -> None:
        job = await store.get(self.sessions, job_id)
        if job is not None:
            await self.executor.abandon(job)

    async def retry_stalled(self) -> None:
        assert self.queue_app is not None
        heartbeat = self.settings.job_heartbeat_seconds
        for task in await queue.stalled_tasks(self.queue_app, heartbeat_seconds=heartbeat):
            log.warning("task %s of a worker that stopped heartbeating: retried", task.id)
            await self.queue_app.job_manager.retry_job(task)

    async def dispatch_orphans(self) -> None:
        for job in await queue.orphans(self.sessions):
            log.warning("job %s was pending without a task: deferred again", job.id)
            await self.dispatch.submitted(job)

    async def delete_old_outputs(self) -> None:
        await retention.delete_old_outputs(self.services)


def build_backends(services: Services, http: httpx.AsyncClient) -> dict[str, Backend]:
    """A backend for every configured plugin."""
    given = BackendServices(
        settings=services.settings, storage=services.storage, http=http,
        source_limits=services.settings.source_limits,
    )
    return {name: plugin.create(given) for name, plugin in services.plugins.items() if plugin.configured}
