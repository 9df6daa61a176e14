"""The migrations build exactly the schema the models describe (on PostgreSQL too, with
VIDGATE_TEST_DATABASE_URL set)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from vidgate.config import normalise_database_url
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import SchemaOutdated, alembic_config, check_current, upgrade
from vidgate.db.models import metadata, vidgate_object
from vidgate.jobs.models import Job


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


async def test_processes_starting_together_migrate_in_turn(tmp_path: Path, database_url: str | None) -> None:
    """Two upgrades at once, as two processes of a scale-out starting together: the advisory
    lock makes them take turns, and the second finds the schema current."""
    url = normalise_database_url(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    engines = [create_engine(url), create_engine(url)]
    await asyncio.gather(*(upgrade(engine) for engine in engines))
    await check_current(engines[0])
    for engine in engines:
        await engine.dispose()


async def test_a_process_that_does_not_migrate_names_the_revision_it_needs(
    tmp_path: Path, database_url: str | None
) -> None:
    engine = create_engine(normalise_database_url(database_url or f"sqlite:///{tmp_path / 'm.db'}"))
    await upgrade(engine, "0006")
    with pytest.raises(SchemaOutdated, match=r"at revision 0006, this release needs \d{4}: run `vidgate db upgrade`"):
        await check_current(engine)
    await upgrade(engine)
    await check_current(engine)
    await engine.dispose()


async def test_every_migration_goes_down_and_up_again(tmp_path: Path, database_url: str | None) -> None:
    engine = create_engine(normalise_database_url(database_url or f"sqlite:///{tmp_path / 'm.db'}"))
    await upgrade(engine)

    def down(connection: object) -> None:
        config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    async with engine.begin() as connection:
        await connection.run_sync(down)
    await upgrade(engine)
    await check_current(engine)
    await engine.dispose()


_OLD_KEY = """INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes, sandbox, credits_limit, credits_used,
    credits_reserved, seconds_limit, seconds_used, seconds_reserved, active_jobs, created_at)
    VALUES ('key_old', 'old', 'h', 'sk_', '["video"]', false, 100, 0, 0, 10, 0, 0, 0, :now)"""
_OLD_JOB = """INSERT INTO jobs (id, key_id, tool, status, progress, model, model_tier, provider, input_params,
    output_data, estimated_credits, estimated_seconds, error_message, error_status, created_at, attempts,
    cancel_requested) VALUES (:id, 'key_old', 'video', :status, 100, 'vidgate/local', 'basic', :provider,
    '{}', :output, 10, 1, :error, :error_status, :now, 1, false)"""


async def test_jobs_stored_before_the_scale_out_schema_read_the_same(tmp_path: Path, database_url: str | None) -> None:
    """Rows of revision 0003: links become keys, HTTP statuses become fault kinds, providers
    become lanes."""
    engine = create_engine(normalise_database_url(database_url or f"sqlite:///{tmp_path / 'm.db'}"))
    await upgrade(engine, "0003")
    output = {"video": {"url": "/files/job_a/TOKEN/video.mp4", "thumbnail_url": "/files/job_a/TOKEN/poster.jpg",
                        "width": 64}}
    async with engine.begin() as connection:
        now = datetime.now(UTC)
        await connection.execute(text(_OLD_KEY), {"now": now})
        rows = [("job_a", "completed", "local", json.dumps(output), None, None),
                ("job_b", "failed", "fal", None, "fal.ai rejected the input", 400),
                ("job_c", "failed", "fal", None, "fal.ai refused the key", 503),
                ("job_d", "failed", "local", None, "boom", 502)]
        for job_id, status, provider, out, error, error_status in rows:
            await connection.execute(text(_OLD_JOB), {"id": job_id, "status": status, "provider": provider,
                                                      "output": out, "error": error, "error_status": error_status,
                                                      "now": now})
    await upgrade(engine)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        jobs = {job.id: job for job in (await session.scalars(select(Job))).all()}
    assert jobs["job_a"].output_data == {"video": {"key": "job_a/TOKEN/video.mp4",
                                                   "poster_key": "job_a/TOKEN/poster.jpg", "width": 64}}
    assert [jobs[j].error_kind for j in ("job_a", "job_b", "job_c", "job_d")] == [None, "input", "account", "provider"]
    assert [jobs[j].lane for j in ("job_a", "job_b")] == ["local", "fal"]
    assert all(job.requeues == 0 for job in jobs.values())
    await engine.dispose()
