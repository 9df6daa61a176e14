"""Credits are reserved atomically: concurrent submissions never overspend a key."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.conftest import Harness, auth
from vidgate.auth.keys import hash_key
from vidgate.auth.models import ApiKey
from vidgate.billing.models import LedgerEntry


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

    async with harness.runtime.sessions() as session:
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
    harness.runtime.settings.max_active_jobs_per_key = 3
    harness.runtime.settings.workers = 1
    key = await harness.key()
    body = {"prompt": "long", "model": "vidgate/local", "duration_seconds": 30}
    statuses = [
        (await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key)))
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[3].headers["retry-after"] == "5"
    assert statuses[3].json() == {
        "error": "Too many active jobs for this API key (limit 3); wait for some to finish",
        "retryAfter": 5,
        "retry_after": 5,
    }
    assert (await harness.quota(key))["credits"]["reserved"] == 3 * 300
    first = statuses[0].json()["id"]
    await harness.client.post(f"/api/v1/jobs/{first}/cancel", headers=auth(key))
    again = await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key))
    assert again.status_code == 200
    for job in (await harness.client.get("/api/v1/jobs?pending=true", headers=auth(key))).json()["jobs"]:
        await harness.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=auth(key))
