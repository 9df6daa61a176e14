"""Bringing a database to the newest schema with Alembic, and checking that it is there."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
# PostgreSQL advisory lock held while migrating: processes starting together take turns, and
# each after the first finds the schema current. On SQLite the write lock, taken first, does
# the same.
MIGRATION_LOCK = 7_346_001


class SchemaOutdated(RuntimeError):
    """The database is not at the schema this release needs."""


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration not yet applied (up to `revision`), on the engine's database."""
    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))

    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            # the driver would run the DDL outside any transaction, each statement on its own
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str:
    """The schema revision the database is at ("none" for an empty one)."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current) or "none"


async def check_current(engine: AsyncEngine) -> None:
    """Raise SchemaOutdated unless the database is at the newest revision."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    current = await current_revision(engine)
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current}, this release needs {head}: "
            "run `vidgate db upgrade`"
        )
