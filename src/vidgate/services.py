"""What both sides of a server share: its settings, database, job events, storage and backend
plugins. The API side (api/side.py) and the worker side (jobs/worker.py) meet only through
these: the jobs table, the events, the storage, and the dispatch seam between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from vidgate.backends.registry import BackendPlugin
from vidgate.catalog import Catalog
from vidgate.config import Settings
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import check_current, upgrade
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.pg_events import PgJobEvents
from vidgate.storage import Storage, open_storage


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: store.Sessions
    events: JobEvents
    storage: Storage
    plugins: dict[str, BackendPlugin]  # by provider name
    catalog: Catalog

    @classmethod
    async def open(cls, settings: Settings, plugins: Sequence[BackendPlugin]) -> Services:
        """Open the database (migrated, or checked to be current), the job events (between
        processes when jobs are queued) and the storage."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
        try:
            await (upgrade(engine) if settings.migrate_on_start else check_current(engine))
        except BaseException:
            await engine.dispose()
            raise
        events = PgJobEvents(settings.resolved_database_url) if settings.queued else JobEvents()
        await events.start()
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            events=events,
            storage=open_storage(settings),
            plugins={plugin.name: plugin for plugin in plugins},
            catalog=Catalog(model for plugin in plugins for model in plugin.models),
        )

    def lane_of(self, provider: str) -> str:
        return self.plugins[provider].lane

    async def close(self) -> None:
        await self.events.stop()
        await self.storage.aclose()
        await self.engine.dispose()
