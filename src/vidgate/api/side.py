"""The API side of a server: what the routes use. It meets the workers only through the
shared services (the jobs table, the events, the storage) and the dispatch seam."""

from __future__ import annotations

from dataclasses import dataclass

from ssrfguard import Policy

from vidgate.auth.cache import AuthenticatedKey, key_cache
from vidgate.auth.rate_limits import RateLimits
from vidgate.cache import ExpiringCache
from vidgate.catalog import Catalog
from vidgate.config import Settings
from vidgate.jobs import store
from vidgate.jobs.cache import QueuePositions, SharedReads, job_cache
from vidgate.jobs.dispatch import Dispatch
from vidgate.jobs.events import EventKind, JobEvents
from vidgate.jobs.intake import SubmissionWriter
from vidgate.jobs.models import Job
from vidgate.media.fetch import source_policy
from vidgate.services import Services
from vidgate.storage import Storage

# This process drops a cached job as soon as it hears the job changed; the limit bounds how
# stale a job can look should an event be missed, like the key cache.
ACTIVE_JOB_CACHE_SECONDS = 5.0
# How long a pending job's counted place in its lane's queue is shown before it is counted again.
POSITION_SECONDS = 5.0


@dataclass
class ApiSide:
    services: Services
    dispatch: Dispatch
    intake: SubmissionWriter
    key_cache: ExpiringCache[AuthenticatedKey]
    job_cache: ExpiringCache[Job]
    job_reads: SharedReads  # for streams, which must see every change
    positions: QueuePositions
    source_policy: Policy  # where source URLs may lead
    rate_limits: RateLimits

    @classmethod
    def start(cls, services: Services, dispatch: Dispatch) -> ApiSide:
        jobs_seen = job_cache(active_ttl=ACTIVE_JOB_CACHE_SECONDS)
        job_reads = SharedReads(lambda job_id: store.get(services.sessions, job_id))
        for kind in (EventKind.CHANGED, EventKind.PROGRESS):
            services.events.on(kind, jobs_seen.forget)
            services.events.on(kind, job_reads.forget)
        api = cls(
            services=services,
            dispatch=dispatch,
            intake=SubmissionWriter(services.sessions),
            key_cache=key_cache(ttl=services.settings.key_cache_seconds),
            job_cache=jobs_seen,
            job_reads=job_reads,
            positions=QueuePositions(lambda: store.queue_positions(services.sessions), max_age=POSITION_SECONDS),
            source_policy=source_policy(services.settings),
            rate_limits=RateLimits(
                requests=services.settings.rate_limit,
                generations=services.settings.generation_rate_limit,
                storage=services.settings.rate_limit_storage,
            ),
        )
        api.intake.start()
        return api

    async def stop(self) -> None:
        await self.intake.stop()

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def sessions(self) -> store.Sessions:
        return self.services.sessions

    @property
    def events(self) -> JobEvents:
        return self.services.events

    @property
    def storage(self) -> Storage:
        return self.services.storage

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    @property
    def configured_providers(self) -> set[str]:
        return {name for name, plugin in self.services.plugins.items() if plugin.configured}
