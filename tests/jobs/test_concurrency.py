"""Credits are reserved atomically: concurrent submissions never overspend a key."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import Harness, auth
from vidgate.auth import service as keys
from vidgate.auth.keys import hash_key
from vidgate.auth.models import ApiKey
from vidgate.billing.ledger import Shortfall
from vidgate.billing.models import LedgerEntry
from vidgate.config import normalise_database_url
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import upgrade
from vidgate.jobs import store
from vidgate.jobs.models import Job

# Engines, each with its own connection pool: as many servers sharing one database.
SERVERS = 5


async def test_fifty_concurrent_submissions_against_ten_affordable(harness: Harness) -> None:
    # Each job: default model (100 credits/s) x 1 s = 100 credits; the key affords exactly 10.
    key = await harness.key(credits=1_000, seconds=1_000)
    body = {"prompt": "rain on a window", "duration_seconds": 1}

    async def submit() -> int:
        response = await harness.client.post(
            "/api/v1/videos/generations?async=true", json=body, headers=auth(key)
        )
        return response.status_code

    statuses = await asyncio.gather(*(submit() for _ in range(50)))
    assert statuses.count(200) == 10
    assert statuses.count(402) == 40

    async with harness.sessions() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        assert row is not None
        assert row.credits_remaining == 0
        reservations = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.key_id == row.id, LedgerEntry.kind == "reserve"
            )
        )
    assert reservations == 10
    assert await harness.job_count(key) == 10

    jobs = (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"]
    for job in jobs:
        done = (await harness.client.get(f"/api/v1/jobs/{job['id']}?poll=true", headers=auth(key))).json()
        while done["status"] == "processing" or done["status"] == "pending":
            done = (await harness.client.get(f"/api/v1/jobs/{job['id']}?poll=true", headers=auth(key))).json()
        assert done["status"] == "completed"
    quota = await harness.quota(key)
    assert quota["credits"] == {"limit": 1000, "used": 1000, "reserved": 0, "remaining": 0}


async def test_active_jobs_cap_is_a_429_and_changes_nothing(harness: Harness) -> None:
    harness.settings.max_active_jobs_per_key = 3
    harness.settings.workers = 1
    key = await harness.key()
    body = {"prompt": "long", "model": "vidgate/local", "duration_seconds": 30}
    statuses = [
        (await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key)))
        for _ in range(3)
    ]
    before = await harness.stored_state()
    statuses.append(
        await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key))
    )
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[3].headers["retry-after"] == "5"
    assert statuses[3].json() == {
        "error": "Too many active jobs for this API key (limit 3); wait for some to finish",
        "retryAfter": 5,
        "retry_after": 5,
    }
    assert await harness.stored_state() == before  # no job, reservation or ledger row added
    assert await harness.job_count(key) == 3
    assert (await harness.quota(key))["credits"]["reserved"] == 3 * 300
    first = statuses[0].json()["id"]
    await harness.client.post(f"/api/v1/jobs/{first}/cancel", headers=auth(key))
    again = await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key))
    assert again.status_code == 200
    for job in (await harness.client.get("/api/v1/jobs?pending=true", headers=auth(key))).json()["jobs"]:
        await harness.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth(key))


async def test_fifty_reservations_over_separate_connections_accept_exactly_ten(
    tmp_path: Path, database_url: str | None
) -> None:
    """Straight to the store, past the group-commit intake: every submission is its own
    transaction on its own connection, and only the database's guards keep them apart."""
    url = normalise_database_url(database_url or f"sqlite:///{tmp_path / 'race.db'}")
    engines = [create_engine(url) for _ in range(SERVERS)]
    await upgrade(engines[0])
    servers = [create_sessionmaker(engine) for engine in engines]
    key, _secret = await keys.create_key(
        servers[0], name="race", scopes=["video"], credits=1_000, video_seconds=1_000, sandbox=True
    )
    new = store.NewJob(key_id=key.id, model="vidgate/local", model_tier="basic", provider="local", lane="local",
                       input_params={}, credits=100, seconds=1, max_active_jobs=1_000)
    lowest: list[int] = []
    submitting = True

    async def watch_balance() -> None:
        while submitting:
            async with servers[0]() as session:
                row = await session.get(ApiKey, key.id)
                assert row is not None
                lowest.append(min(row.credits_remaining, row.seconds_remaining))

    watcher = asyncio.create_task(watch_balance())
    try:
        results = await asyncio.gather(*(store.submit(servers[n % SERVERS], new) for n in range(50)))
    finally:
        submitting = False
        await watcher
    assert sum(isinstance(result, Job) for result in results) == 10
    assert sum(isinstance(result, Shortfall) for result in results) == 40
    assert lowest and min(lowest) >= 0
    async with servers[0]() as session:
        row = await session.get(ApiKey, key.id)
        assert row is not None
        assert (row.credits_reserved, row.credits_remaining, row.active_jobs) == (1_000, 0, 10)
        assert await session.scalar(select(func.count()).select_from(Job)) == 10
        reservations = await session.scalar(select(func.count()).select_from(LedgerEntry))
    assert reservations == 10
    for engine in engines:
        await engine.dispose()
