"""The migrations build exactly the schema the models describe (on PostgreSQL too, with
VIDGATE_TEST_DATABASE_URL set)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from vidgate.config import normalise_database_url
from vidgate.db.engine import create_engine
from vidgate.db.migrate import upgrade
from vidgate.db.models import metadata, vidgate_object


async def test_migrations_match_the_models(tmp_path: Path, database_url: str | None) -> None:
    engine = create_engine(normalise_database_url(database_url or f"sqlite:///{tmp_path / 'm.db'}"))
    await upgrade(engine)
    await upgrade(engine)  # a second run is a no-op

    def diff(connection: object) -> list:
        context = MigrationContext.configure(connection, opts={"include_name": vidgate_object})
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await engine.dispose()
