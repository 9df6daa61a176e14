"""Alembic environment: runs migrations on vidgate's async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from vidgate.config import load_settings
from vidgate.db.engine import create_engine
from vidgate.db.models import metadata, vidgate_object

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        include_name=vidgate_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _settings_url() -> str:
    """The database of vidgate's settings, when Alembic's own CLI runs this."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or _settings_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("vidgate migrations run online only")
existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async())
