"""State changes are guarded: settlement and release happen exactly once, whatever repeats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from vidgate.auth import service as keys
from vidgate.auth.models import ApiKey
from vidgate.billing.models import LedgerEntry
from vidgate.config import normalise_database_url
from vidgate.db.base import utcnow
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import upgrade
from vidgate.jobs import store
from vidgate.jobs.models import Job


@pytest.fixture
async def sessions(tmp_path: Path, database_url: str | None) -> AsyncIterator[store.Sessions]:
    url = normalise_database_url(database_url) if database_url else f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _key_and_job(sessions: store.Sessions) -> tuple[ApiKey, Job]:
    key, _ = await keys.create_key(
        sessions, name="k", scopes=["video"], credits=1000, video_seconds=100, sandbox=True
    )
    job = await store.submit(
        sessions,
        store.NewJob(key_id=key.id, model="vidgate/local", model_tier="basic", provider="local", lane="local",
                     input_params={}, credits=300, seconds=3, max_active_jobs=10),
    )
    assert isinstance(job, Job)
    return key, job


async def _balances(sessions: store.Sessions, key_id: str) -> tuple[int, int, int, int]:
    async with sessions() as session:
        key = await session.get(ApiKey, key_id)
        assert key is not None
        return key.credits_used, key.credits_reserved, key.seconds_used, key.seconds_reserved


async def _ledger(sessions: store.Sessions, job_id: str) -> list[str]:
    async with sessions() as session:
        return sorted((await session.scalars(select(LedgerEntry.kind).where(LedgerEntry.job_id == job_id))).all())


async def test_complete_settles_once(sessions: store.Sessions) -> None:
    key, job = await _key_and_job(sessions)
    assert await _balances(sessions, key.id) == (0, 300, 0, 3)
    claimed = await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30)
    assert claimed is not None and claimed.id == job.id and claimed.attempts == 1
    assert await store.claim_next(sessions, lanes=["local"], worker_id="w2", lease_seconds=30) is None
    done = await store.complete(sessions, job.id, attempt=1, output_data={"video": {}}, charged=(200, 2))
    assert done is not None and done.status == "completed" and done.actual_credits == 200
    # A replay of the same completion, a late failure and a cancel change nothing.
    assert await store.complete(sessions, job.id, attempt=1, output_data={}, charged=(300, 3)) is None
    assert await store.fail(sessions, job.id, error="late") is None
    assert await store.cancel_pending(sessions, job.id) is None
    assert await store.cancel_running(sessions, job.id, attempt=1) is None
    assert await _balances(sessions, key.id) == (200, 0, 2, 0)
    assert await _ledger(sessions, job.id) == ["reserve", "settle"]


async def test_charge_never_exceeds_the_reservation(sessions: store.Sessions) -> None:
    key, job = await _key_and_job(sessions)
    await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30)
    done = await store.complete(sessions, job.id, attempt=1, output_data={}, charged=(900, 9))
    assert done is not None and done.actual_credits == 300 and done.actual_seconds == 3
    assert await _balances(sessions, key.id) == (300, 0, 3, 0)


async def test_failure_releases_once(sessions: store.Sessions) -> None:
    key, job = await _key_and_job(sessions)
    await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30)
    assert await store.fail(sessions, job.id, error="boom", attempt=2) is None  # not its job
    failed = await store.fail(sessions, job.id, error="boom", attempt=1)
    assert failed is not None and failed.error_message == "boom" and failed.actual_credits == 0
    assert await store.fail(sessions, job.id, error="again") is None
    assert await _balances(sessions, key.id) == (0, 0, 0, 0)
    assert await _ledger(sessions, job.id) == ["release", "reserve"]


async def test_expired_lease_is_retried_then_failed(sessions: store.Sessions) -> None:
    key, job = await _key_and_job(sessions)

    async def expire() -> None:
        async with sessions.begin() as session:
            await session.execute(
                update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )

    for attempt in (1, 2):
        claimed = await store.claim_next(sessions, lanes=["local"], worker_id=f"w{attempt}", lease_seconds=30)
        assert claimed is not None and claimed.attempts == attempt
        assert await store.reclaim_expired(sessions, max_attempts=2) == []  # lease still valid
        await expire()
        assert await store.reclaim_expired(sessions, max_attempts=2) == [job.id]
    final = await store.get(sessions, job.id)
    assert final is not None and final.status == "failed"
    assert "stopped 2 times" in (final.error_message or "")
    assert await _balances(sessions, key.id) == (0, 0, 0, 0)
    # The first worker coming back late cannot complete the job any more.
    assert await store.complete(sessions, job.id, attempt=1, output_data={}, charged=(1, 1)) is None


async def test_heartbeats_report_cancellation_and_lost_ownership(sessions: store.Sessions) -> None:
    _key, job = await _key_and_job(sessions)
    await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30)
    beat = store.heartbeats
    assert await beat(sessions, [(job.id, 1, 40)], lease_seconds=30) == {job.id: False}
    assert await store.request_cancel(sessions, job.id)
    assert await beat(sessions, [(job.id, 1, 40)], lease_seconds=30) == {job.id: True}
    # a run that is no longer the job's gets no answer and changes nothing
    assert await beat(sessions, [(job.id, 99, 70)], lease_seconds=30) == {}
    assert (await store.get(sessions, job.id)).progress == 40  # type: ignore[union-attr]


async def test_heartbeats_write_many_jobs_in_chunks(
    sessions: store.Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "HEARTBEAT_CHUNK", 2)
    key, _ = await keys.create_key(
        sessions, name="k", scopes=["video"], credits=1000, video_seconds=100, sandbox=True
    )
    for _ in range(5):
        await store.submit(
            sessions,
            store.NewJob(key_id=key.id, model="vidgate/local", model_tier="basic", provider="local", lane="local",
                         input_params={}, credits=10, seconds=1, max_active_jobs=10),
        )
    claimed = []
    while job := await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30):
        claimed.append(job)
    beats = [(job.id, 1, 10 * n) for n, job in enumerate(claimed, start=1)]
    assert await store.heartbeats(sessions, beats, lease_seconds=30) == {job.id: False for job in claimed}
    for job_id, _attempt, progress in beats:
        assert (await store.get(sessions, job_id)).progress == progress  # type: ignore[union-attr]


async def test_provider_state_is_saved_only_by_the_jobs_own_worker(sessions: store.Sessions) -> None:
    _key, job = await _key_and_job(sessions)
    await store.claim_next(sessions, lanes=["local"], worker_id="w1", lease_seconds=30)
    assert await store.save_provider_state(sessions, job.id, attempt=1, state={"request_id": "r1"})
    # a worker whose lease was lost (the job is another's now) is told, and changes nothing
    assert not await store.save_provider_state(sessions, job.id, attempt=2, state={"request_id": "r2"})
    assert (await store.get(sessions, job.id)).provider_state == {"request_id": "r1"}  # type: ignore[union-attr]


async def test_shortfall_creates_nothing(sessions: store.Sessions) -> None:
    key, _job = await _key_and_job(sessions)
    result = await store.submit(
        sessions,
        store.NewJob(key_id=key.id, model="m", model_tier="basic", provider="local", lane="local",
                     input_params={}, credits=800, seconds=1, max_active_jobs=10),
    )
    assert isinstance(result, store.Shortfall)
    assert result.credits_remaining == 700
    async with sessions() as session:
        assert len((await session.scalars(select(Job))).all()) == 1


async def test_a_batch_reserves_each_submission_on_its_own(sessions: store.Sessions) -> None:
    poor, _ = await keys.create_key(sessions, name="a", scopes=["video"], credits=250,
                                    video_seconds=100, sandbox=True)
    rich, _ = await keys.create_key(sessions, name="b", scopes=["video"], credits=10_000,
                                    video_seconds=100, sandbox=True)

    def new(key: ApiKey) -> store.NewJob:
        return store.NewJob(key_id=key.id, model="vidgate/local", model_tier="basic",
                            provider="local", lane="local", input_params={}, credits=100, seconds=1,
                            max_active_jobs=10)

    results = await store.submit_batch(sessions, [new(poor), new(rich), new(poor), new(poor), new(rich)])
    kinds = [type(result).__name__ for result in results]
    assert kinds == ["Job", "Job", "Job", "Shortfall", "Job"]
    assert results[3].credits_remaining == 50  # type: ignore[union-attr]
    assert await _balances(sessions, poor.id) == (0, 200, 0, 2)
    assert await _balances(sessions, rich.id) == (0, 200, 0, 2)
    async with sessions() as session:
        assert len((await session.scalars(select(Job))).all()) == 4
        assert len((await session.scalars(select(LedgerEntry))).all()) == 4


async def test_the_active_job_cap_holds_inside_a_batch(sessions: store.Sessions) -> None:
    key, _ = await keys.create_key(sessions, name="a", scopes=["video"], credits=10_000,
                                   video_seconds=100, sandbox=True)
    capped = store.NewJob(key_id=key.id, model="m", model_tier="basic", provider="local", lane="local",
                          input_params={}, credits=1, seconds=1, max_active_jobs=3)
    results = await store.submit_batch(sessions, [capped] * 5)
    assert [isinstance(result, Job) for result in results] == [True, True, True, False, False]
