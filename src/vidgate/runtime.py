"""Everything a running server holds: database, events, storage, backends, dispatcher."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from ssrfguard import Policy

from vidgate.auth.cache import AuthenticatedKey, key_cache
from vidgate.backends.base import Backend
from vidgate.backends.fal import FalBackend
from vidgate.backends.local import LocalBackend
from vidgate.cache import ExpiringCache
from vidgate.config import Settings
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import upgrade
from vidgate.jobs import store
from vidgate.jobs.cache import job_cache
from vidgate.jobs.dispatcher import Dispatcher
from vidgate.jobs.events import JobEvents
from vidgate.jobs.executor import Executor
from vidgate.jobs.intake import SubmissionWriter
from vidgate.jobs.models import Job
from vidgate.outbound import EVERY_ADDRESS, address_policy, guarded_client
from vidgate.storage import LocalStorage

SOURCE_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
FAL_WEBHOOK_PATH = "/api/v1/webhooks/fal"
# This process drops a cached job as soon as it changes it; the limit bounds how stale a job
# changed by another process (a second server on the same database) can look, like the key cache.
ACTIVE_JOB_CACHE_SECONDS = 5.0


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: store.Sessions
    events: JobEvents
    storage: LocalStorage
    http: httpx.AsyncClient
    backends: dict[str, Backend]
    executor: Executor
    dispatcher: Dispatcher
    key_cache: ExpiringCache[AuthenticatedKey]
    job_cache: ExpiringCache[Job]
    intake: SubmissionWriter
    source_policy: Policy  # where source URLs may lead

    @classmethod
    async def start(
        cls, settings: Settings, *, http_transport: httpx.AsyncBaseTransport | None = None
    ) -> Runtime:
        """Open the database (migrating it), then start the workers."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        jobs_seen = job_cache(active_ttl=ACTIVE_JOB_CACHE_SECONDS)
        events = JobEvents(on_change=jobs_seen.forget)
        storage = LocalStorage(settings.outputs_dir)
        source_policy = address_policy(
            EVERY_ADDRESS if settings.allow_private_sources else settings.source_allowed_networks
        )
        http = _source_client(source_policy, http_transport)
        backends: dict[str, Backend] = {
            "local": LocalBackend(
                max_source_bytes=settings.max_source_bytes,
                source_limits=settings.source_limits,
                storage=storage,
            )
        }
        if settings.fal_key:
            backends["fal"] = FalBackend(
                key=settings.fal_key,
                queue_url=settings.fal_queue_url,
                max_download_bytes=settings.max_source_bytes,
                # fal can only call back a server it can reach: with a public URL configured.
                webhook_url=f"{settings.public_url}{FAL_WEBHOOK_PATH}" if settings.public_url else None,
                jwks_url=settings.fal_jwks_url,
                rest_url=settings.fal_rest_url,
                storage=storage,
                poll_first_seconds=settings.fal_poll_seconds,
                timeout_seconds=settings.fal_timeout_seconds,
            )
        executor = Executor(
            sessions=sessions,
            events=events,
            storage=storage,
            backends=backends,
            http=http,
            settings=settings,
            worker_id="worker_" + secrets.token_hex(6),
        )
        dispatcher = Dispatcher(executor=executor, sessions=sessions, events=events, settings=settings)
        keys_seen = key_cache(ttl=settings.key_cache_seconds)
        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            events=events,
            storage=storage,
            http=http,
            backends=backends,
            executor=executor,
            dispatcher=dispatcher,
            key_cache=keys_seen,
            job_cache=jobs_seen,
            intake=SubmissionWriter(sessions),
            source_policy=source_policy,
        )
        runtime.intake.start()
        await dispatcher.start()
        return runtime

    async def cancel_pending(self, job_id: str) -> Job | None:
        """Cancel a job that is waiting for a worker. One that already has a request at its
        provider (put back after a shutdown, or taken back after a crash) has it cancelled
        there too."""
        job = await store.cancel_pending(self.sessions, job_id)
        if job is not None:
            await self.executor.abandon(job)
        return job

    @property
    def configured_providers(self) -> set[str]:
        return set(self.backends)

    async def stop(self) -> None:
        await self.intake.stop()
        await self.dispatcher.stop()
        for backend in self.backends.values():
            await backend.aclose()
        await self.http.aclose()
        await self.engine.dispose()


def _source_client(policy: Policy, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """The client that downloads sources named by clients. A transport given by a test stands
    in for the internet and needs no guard."""
    if transport is not None:
        return httpx.AsyncClient(timeout=SOURCE_FETCH_TIMEOUT, transport=transport, follow_redirects=False)
    return guarded_client(policy, timeout=SOURCE_FETCH_TIMEOUT)
