"""Idempotency-Key on POST /videos/generations: a retried request never makes a second job
or a second charge."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Harness, auth
from vidgate.auth.keys import hash_key
from vidgate.auth.models import ApiKey
from vidgate.billing.models import LedgerEntry
from vidgate.jobs import store

GEN = "/api/v1/videos/generations"
ASYNC = f"{GEN}?async=true"
BODY = {"prompt": "rain on a window", "duration_seconds": 1}


def headers(key: str, idempotency_key: str) -> dict[str, str]:
    return {**auth(key), "Idempotency-Key": idempotency_key}


async def reservations(harness: Harness, key: str) -> int:
    async with harness.sessions() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
        count = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.key_id == key_id, LedgerEntry.kind == "reserve"
            )
        )
    return int(count or 0)


async def test_a_retried_async_request_gets_the_same_job(harness: Harness) -> None:
    key = await harness.key()
    first = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "order-1"))
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    again = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "order-1"))
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await harness.job_count(key) == 1
    assert await reservations(harness, key) == 1


async def test_the_same_request_written_differently_is_a_replay(harness: Harness) -> None:
    key = await harness.key()
    first = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "k"))
    spelled_out: dict[str, Any] = {"duration_seconds": 1, "resolution": "720p", "fps": 30,
                                   "prompt": "rain on a window", "seed": None}
    again = await harness.client.post(ASYNC, json=spelled_out, headers=headers(key, "k"))
    assert again.json()["id"] == first.json()["id"]


async def test_a_retried_sync_request_returns_the_same_video_charged_once(harness: Harness) -> None:
    key = await harness.key()
    first = await harness.client.post(GEN, json=BODY, headers=headers(key, "sync-1"))
    assert first.status_code == 200, first.text
    again = await harness.client.post(GEN, json=BODY, headers=headers(key, "sync-1"))
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["url"] == first.json()["data"]["url"]
    quota = await harness.quota(key)
    assert quota["credits"]["used"] == first.json()["usage"]["credits_used"]
    # and an async replay of a finished job says so
    replay = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "sync-1"))
    assert replay.json()["status"] == "completed"


async def test_a_key_reused_with_a_different_request_is_a_422_and_changes_nothing(
    harness: Harness,
) -> None:
    key = await harness.key()
    first = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "k"))
    job_id = first.json()["id"]
    before = await harness.quota(key)
    other = {**BODY, "prompt": "snow on a window"}
    response = await harness.client.post(ASYNC, json=other, headers=headers(key, "k"))
    assert response.status_code == 422
    assert response.json() == {
        "error": f"Idempotency-Key 'k' was already used with a different request (job {job_id}); "
        "use a new key for a new request",
        "id": job_id,
    }
    assert await harness.job_count(key) == 1
    assert await harness.quota(key) == before


async def test_keys_belong_to_one_api_key(harness: Harness) -> None:
    alice, bob = await harness.key(), await harness.key()
    a = await harness.client.post(ASYNC, json=BODY, headers=headers(alice, "shared"))
    b = await harness.client.post(ASYNC, json=BODY, headers=headers(bob, "shared"))
    assert a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in b.headers


async def test_a_refused_request_does_not_use_up_its_key(harness: Harness) -> None:
    key = await harness.key(credits=150)  # affords 1 s at 100 credits/s, not 2 s
    refused = await harness.client.post(
        ASYNC, json={**BODY, "duration_seconds": 2}, headers=headers(key, "k")
    )
    assert refused.status_code == 402
    accepted = await harness.client.post(ASYNC, json=BODY, headers=headers(key, "k"))
    assert accepted.status_code == 200
    assert "Idempotent-Replayed" not in accepted.headers


async def test_fifty_concurrent_retries_make_one_job(harness: Harness) -> None:
    key = await harness.key()
    responses = await asyncio.gather(
        *(harness.client.post(ASYNC, json=BODY, headers=headers(key, "burst")) for _ in range(50))
    )
    assert {response.status_code for response in responses} == {200}
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum("Idempotent-Replayed" not in response.headers for response in responses) == 1
    assert await harness.job_count(key) == 1
    assert await reservations(harness, key) == 1


async def test_two_writers_racing_on_one_key_make_one_job(harness: Harness) -> None:
    """Two transactions that both look before either inserts (two servers on one database):
    the unique index stops the second insert, and its retry finds the first job."""
    key = await harness.key()
    async with harness.sessions() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
    new = store.NewJob(
        key_id=str(key_id), model="vidgate/local", model_tier="local", provider="local", lane="local",
        input_params={"prompt": "p"}, credits=10, seconds=1, max_active_jobs=100,
        idempotency_key="race", request_fingerprint="f" * 64,
    )
    results = await asyncio.gather(*(store.submit(harness.sessions, new) for _ in range(4)))
    made = [result for result in results if isinstance(result, store.Job)]
    replayed = [result for result in results if isinstance(result, store.Replayed)]
    assert len(made) == 1 and len(replayed) == 3
    assert {result.job.id for result in replayed} == {made[0].id}
    assert await reservations(harness, key) == 1


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "caf\u00e9"])
async def test_a_malformed_key_is_a_400(harness: Harness, value: str) -> None:
    key = await harness.key()
    response = await harness.client.post(
        ASYNC, json=BODY, headers={**auth(key), "Idempotency-Key": value.encode()}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces"
    }
    assert await harness.job_count(key) == 0
