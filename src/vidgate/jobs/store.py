"""Every query on jobs. Each state change is one transaction guarded by the current state,
so a retry or a crash can never settle credits twice or bring a finished job back."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vidgate.backends.errors import FailureKind
from vidgate.billing import ledger
from vidgate.billing.ledger import Shortfall
from vidgate.billing.models import EntryKind
from vidgate.db.base import time_ordered_id, utcnow
from vidgate.jobs.models import TERMINAL_STATUSES, Job, JobStatus
from vidgate.webhooks import deliveries

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]
ACTIVE = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)


_JOB_ID = re.compile(r"job_[0-9a-f]{24}")


def _journal(event: str, job: Job | None, job_id: str | None = None, **fields: Any) -> None:
    """The log line of one state change of a job."""
    facts = {"job_id": job.id if job is not None else job_id, "event": event, **fields}
    if job is not None:
        facts.update(status=job.status, attempt=job.attempts, lane=job.lane, model=job.model)
    log.info("job %s %s", facts["job_id"], event, extra=facts)


def new_job_id() -> str:
    return time_ordered_id("job_")


@dataclass(frozen=True)
class NewJob:
    key_id: str
    model: str
    model_tier: str
    provider: str
    lane: str
    input_params: dict[str, Any]
    credits: int
    seconds: int
    max_active_jobs: int
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    remix_of: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True)
class Replayed:
    """The job made earlier under the same Idempotency-Key, for the same request."""

    job: Job


@dataclass(frozen=True)
class KeyReused:
    """The Idempotency-Key was first used with a different request."""

    job: Job


Submitted = Job | Replayed | KeyReused | Shortfall


async def submit(sessions: Sessions, new: NewJob) -> Submitted:
    """Create the job and reserve its price in one transaction; a shortfall creates nothing."""
    return (await submit_batch(sessions, [new]))[0]


async def submit_batch(sessions: Sessions, batch: Sequence[NewJob]) -> list[Submitted]:
    """Create many jobs in one transaction, each with its own guarded reservation: one that
    falls short gets its Shortfall and creates nothing; the others are not affected.

    A submission whose Idempotency-Key already has a job gets that job back and holds nothing.
    """
    try:
        return await _submit_batch_once(sessions, batch)
    except IntegrityError:
        if not any(new.idempotency_key for new in batch):
            raise
        # Another server stored one of these keys in the meantime; this time the lookup sees it.
        return await _submit_batch_once(sessions, batch)


async def _submit_batch_once(sessions: Sessions, batch: Sequence[NewJob]) -> list[Submitted]:
    results: list[Submitted | None] = [None] * len(batch)
    async with sessions() as session, session.begin():
        fresh, followers = await _match_idempotency_keys(session, batch, results)
        for indexes in _by_key(batch, fresh).values():
            await _hold_for_key(session, batch, indexes, results)
        jobs = [results[i] for i in fresh if isinstance(results[i], Job)]
        if jobs:
            await ledger.record(
                session,
                [
                    ledger.entry(EntryKind.RESERVE, job.key_id, job.id, job.estimated_credits,
                                 job.estimated_seconds)
                    for job in jobs
                ],
            )
            await session.execute(insert(Job.__table__), [_columns(job) for job in jobs])
    for job in jobs:
        _journal("submitted", job)
    for follower, leader in followers.items():
        first = results[leader]
        results[follower] = _replay(first, batch[follower]) if isinstance(first, Job) else first
    return [result for result in results if result is not None]


async def _match_idempotency_keys(
    session: AsyncSession, batch: Sequence[NewJob], results: list[Submitted | None]
) -> tuple[list[int], dict[int, int]]:
    """Answer the submissions whose Idempotency-Key already has a job. Return the indexes that
    need a new job, and the repeats within this batch mapped to the first of their key."""
    keyed = {(new.key_id, new.idempotency_key) for new in batch if new.idempotency_key}
    stored: dict[tuple[str, str | None], Job] = {}
    if keyed:
        wanted = or_(*(and_(Job.key_id == key, Job.idempotency_key == idem) for key, idem in keyed))
        for job in (await session.scalars(select(Job).where(wanted))).all():
            stored[(job.key_id, job.idempotency_key)] = job
    fresh: list[int] = []
    followers: dict[int, int] = {}
    leaders: dict[tuple[str, str | None], int] = {}
    for index, new in enumerate(batch):
        key = (new.key_id, new.idempotency_key)
        if new.idempotency_key is None:
            fresh.append(index)
        elif key in stored:
            results[index] = _replay(stored[key], new)
        elif key in leaders:
            followers[index] = leaders[key]
        else:
            leaders[key] = index
            fresh.append(index)
    return fresh, followers


def _replay(job: Job, new: NewJob) -> Replayed | KeyReused:
    same = job.request_fingerprint == new.request_fingerprint
    return Replayed(job) if same else KeyReused(job)


def _by_key(batch: Sequence[NewJob], indexes: list[int]) -> dict[tuple[str, int], list[int]]:
    groups: dict[tuple[str, int], list[int]] = {}
    for index in indexes:
        new = batch[index]
        groups.setdefault((new.key_id, new.max_active_jobs), []).append(index)
    return groups


async def _hold_for_key(
    session: AsyncSession,
    batch: Sequence[NewJob],
    indexes: list[int],
    results: list[Submitted | None],
) -> None:
    """One guarded UPDATE for all of a key's submissions when the key can afford them all;
    otherwise one each, in arrival order, so exactly those that fit are accepted."""
    first = batch[indexes[0]]
    if len(indexes) > 1:
        shortfall = await ledger.hold(
            session,
            key_id=first.key_id,
            credits=sum(batch[i].credits for i in indexes),
            seconds=sum(batch[i].seconds for i in indexes),
            max_active_jobs=first.max_active_jobs,
            jobs=len(indexes),
        )
        if shortfall is None:
            for i in indexes:
                results[i] = _new_job_row(new_job_id(), batch[i])
            return
    for i in indexes:
        new = batch[i]
        shortfall = await ledger.hold(
            session,
            key_id=new.key_id,
            credits=new.credits,
            seconds=new.seconds,
            max_active_jobs=new.max_active_jobs,
        )
        results[i] = shortfall or _new_job_row(new_job_id(), new)


def _columns(job: Job) -> dict[str, Any]:
    return {column.key: getattr(job, column.key) for column in Job.__table__.columns}


def _new_job_row(job_id: str, new: NewJob) -> Job:
    return Job(
        id=job_id,
        key_id=new.key_id,
        tool="video",
        status=JobStatus.PENDING.value,
        progress=0,
        model=new.model,
        model_tier=new.model_tier,
        provider=new.provider,
        lane=new.lane,
        input_params=new.input_params,
        estimated_credits=new.credits,
        estimated_seconds=new.seconds,
        created_at=utcnow(),
        attempts=0,
        requeues=0,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.request_fingerprint,
        cancel_requested=False,
        remix_of=new.remix_of,
        webhook_url=new.webhook_url,
    )


async def get(sessions: Sessions, job_id: str, *, key_id: str | None = None) -> Job | None:
    if not _JOB_ID.fullmatch(job_id):  # never stored; PostgreSQL would refuse some (a NUL)
        return None
    query = select(Job).where(Job.id == job_id)
    if key_id is not None:
        query = query.where(Job.key_id == key_id)
    async with sessions() as session:
        return await session.scalar(query)


async def list_for_key(
    sessions: Sessions, key_id: str, *, tool: str | None, pending_only: bool, limit: int
) -> Sequence[Job]:
    query = select(Job).where(Job.key_id == key_id)
    if tool is not None:
        query = query.where(Job.tool == tool)
    if pending_only:
        query = query.where(Job.status.in_(ACTIVE))
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    async with sessions() as session:
        return (await session.scalars(query)).all()


async def by_idempotency_key(sessions: Sessions, key_id: str, idempotency_key: str) -> Job | None:
    """The job an API key made under `idempotency_key`, if any."""
    async with sessions() as session:
        return await session.scalar(
            select(Job).where(Job.key_id == key_id, Job.idempotency_key == idempotency_key)
        )


async def queue_positions(sessions: Sessions) -> dict[str, int]:
    """Every pending job's place in its lane's queue, in the order workers claim them (1: the
    next to start), in one query."""
    place = func.row_number().over(partition_by=Job.lane, order_by=(Job.created_at, Job.id))
    async with sessions() as session:
        rows = await session.execute(select(Job.id, place).where(Job.status == JobStatus.PENDING.value))
    return {job_id: int(position) for job_id, position in rows.all()}


async def page_for_key(
    sessions: Sessions, key_id: str, *, after: str | None, limit: int, newest_first: bool
) -> tuple[list[Job], bool]:
    """Up to `limit` of the key's jobs after the job `after` (in the order asked for; ids sort
    by creation), and whether more follow."""
    query = select(Job).where(Job.key_id == key_id)
    if after is not None:
        query = query.where(Job.id < after if newest_first else Job.id > after)
    query = query.order_by(Job.id.desc() if newest_first else Job.id).limit(limit + 1)
    async with sessions() as session:
        jobs = list((await session.scalars(query)).all())
    return jobs[:limit], len(jobs) > limit


async def claim_next(
    sessions: Sessions, *, lanes: Sequence[str], worker_id: str, lease_seconds: float
) -> Job | None:
    """Move the oldest pending job of `lanes` to processing for this worker (its next attempt),
    or return None."""
    while True:
        async with sessions() as session:
            candidate = await session.scalar(
                select(Job.id)
                .where(Job.status == JobStatus.PENDING.value, Job.lane.in_(lanes))
                .order_by(Job.created_at, Job.id)
                .limit(1)
            )
        if candidate is None:
            return None
        claimed = await _start_attempt(
            sessions, and_(Job.id == candidate, Job.status == JobStatus.PENDING.value),
            worker_id=worker_id, lease_seconds=lease_seconds,
        )
        if claimed is not None:
            return claimed
        # Another worker took it first; look again.


@dataclass(frozen=True)
class Ended:
    """`claim` found the job over (or ended it): nothing to run."""

    job: Job | None
    ended_here: bool = False  # ended by this call: its provider request, if any, is abandoned


async def claim(
    sessions: Sessions, job_id: str, *, worker_id: str, lease_seconds: float, max_attempts: int
) -> Job | Ended:
    """Start the next attempt of a job the queue handed this worker: a pending one, or a
    processing one whose worker stopped (the queue hands a job on only once its worker is
    found dead). The attempt number fences the old worker out. A job already over, or one
    whose workers have stopped `max_attempts` times, or whose cancel was asked for while its
    worker was dead, is not started."""
    job = await get(sessions, job_id)
    if job is None or JobStatus(job.status).terminal:
        return Ended(job)
    if job.status == JobStatus.PROCESSING.value:
        taken_over = and_(
            Job.id == job_id, Job.status == JobStatus.PROCESSING.value, Job.attempts == job.attempts
        )
        ended = await _end_abandoned(sessions, job, taken_over, max_attempts)
        if ended is not None:
            return ended
        condition = taken_over
    else:
        condition = and_(Job.id == job_id, Job.status == JobStatus.PENDING.value)
    claimed = await _start_attempt(sessions, condition, worker_id=worker_id, lease_seconds=lease_seconds)
    return claimed if claimed is not None else Ended(await get(sessions, job_id))


async def _start_attempt(
    sessions: Sessions, condition: Any, *, worker_id: str, lease_seconds: float
) -> Job | None:
    now = utcnow()
    async with sessions.begin() as session:
        started: Job | None = await session.scalar(
            update(Job)
            .where(condition)
            .values(
                status=JobStatus.PROCESSING.value,
                worker_id=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=now,
                attempts=Job.attempts + 1,
            )
            .returning(Job)
        )
        if started is not None:
            deliveries.record(session, started)
    if started is not None:
        _journal("started", started, worker=worker_id)
    return started


async def _end_abandoned(
    sessions: Sessions, job: Job, condition: Any, max_attempts: int
) -> Ended | None:
    """End a job whose worker stopped, when it must not run again: cancelled, or out of
    attempts. None when it may run again."""
    if job.cancel_requested:
        ended = await _finish_and_release(sessions, job.id, condition, JobStatus.CANCELLED, None)
    elif job.attempts - job.requeues >= max_attempts:
        ended = await _finish_and_release(
            sessions, job.id, condition, JobStatus.FAILED, _gave_up(job.attempts - job.requeues),
            kind=FailureKind.INTERNAL,
        )
    else:
        return None
    return Ended(ended or await get(sessions, job.id), ended_here=ended is not None)


def _gave_up(stops: int) -> str:
    return f"The worker running this job stopped {stops} times; giving up"


HEARTBEAT_CHUNK = 1000

# One statement of one shape for every beat, run for many jobs at once (executemany): its SQL
# is compiled once, where an UPDATE naming each job would be built and compiled on every beat.
_RENEW = (
    update(Job.__table__)
    .where(
        Job.__table__.c.id == bindparam("beat_id"),
        Job.__table__.c.status == JobStatus.PROCESSING.value,
        Job.__table__.c.attempts == bindparam("beat_attempt"),
    )
    .values(lease_expires_at=bindparam("lease"), progress=bindparam("beat_progress"))
)


async def heartbeats(
    sessions: Sessions, beats: Sequence[tuple[str, int, int]], *, lease_seconds: float
) -> dict[str, bool]:
    """Renew the lease and store the progress of each (job id, attempt, progress) that is still
    the job's current run; return each such job's cancel flag (a job missing from the answer
    is no longer that run's: taken back, cancelled, finished)."""
    found: dict[str, bool] = {}
    lease = utcnow() + timedelta(seconds=lease_seconds)
    for start in range(0, len(beats), HEARTBEAT_CHUNK):
        chunk = beats[start : start + HEARTBEAT_CHUNK]
        attempts = {job_id: attempt for job_id, attempt, _progress in chunk}
        async with sessions() as session, session.begin():
            await session.execute(_RENEW, [
                {"beat_id": job_id, "beat_attempt": attempt, "beat_progress": progress, "lease": lease}
                for job_id, attempt, progress in chunk
            ])
            rows = await session.execute(
                select(Job.id, Job.attempts, Job.status, Job.cancel_requested).where(Job.id.in_(list(attempts)))
            )
            found.update({
                job_id: bool(cancel) for job_id, attempt, status, cancel in rows.all()
                if attempt == attempts[job_id] and status == JobStatus.PROCESSING.value
            })
    return found


async def save_provider_state(
    sessions: Sessions, job_id: str, *, attempt: int, state: dict[str, Any]
) -> bool:
    """Store what the backend needs to resume the job. False (nothing stored) when the attempt
    is no longer the job's current one: the caller must stop, not go on as if it were saved."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Job).where(_owned(job_id, attempt)).values(provider_state=state)
        )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def complete(
    sessions: Sessions,
    job_id: str,
    *,
    attempt: int,
    output_data: dict[str, Any],
    charged: tuple[int, int],
) -> Job | None:
    """processing -> completed, settling the reservation (never charging more than it holds).
    None if the attempt was not the job's current one."""
    async with sessions() as session, session.begin():
        job = await _finish(
            session,
            _owned(job_id, attempt),
            status=JobStatus.COMPLETED,
            output_data=output_data,
            progress=100,
            actual_credits=_at_most(charged[0], Job.estimated_credits),
            actual_seconds=_at_most(charged[1], Job.estimated_seconds),
        )
        if job is None:
            return None
        reserved = (job.estimated_credits, job.estimated_seconds)
        charged = (job.actual_credits or 0, job.actual_seconds or 0)
        await ledger.settle(session, key_id=job.key_id, job_id=job_id, reserved=reserved, charged=charged)
        deliveries.record(session, job)
    _journal("completed", job, credits=charged[0], seconds=charged[1])
    return job


def _at_most(value: int, column: Any) -> Any:
    return case((column < value, column), else_=value)


async def fail(
    sessions: Sessions,
    job_id: str,
    *,
    error: str,
    attempt: int | None = None,
    kind: FailureKind = FailureKind.PROVIDER,
) -> Job | None:
    """-> failed, releasing the reservation. With an attempt, only if it is still the job's
    current one."""
    condition = _owned(job_id, attempt) if attempt is not None else _active(job_id)
    return await _finish_and_release(sessions, job_id, condition, JobStatus.FAILED, error, kind=kind)


async def cancel_pending(sessions: Sessions, job_id: str) -> Job | None:
    condition = and_(Job.id == job_id, Job.status == JobStatus.PENDING.value)
    return await _finish_and_release(sessions, job_id, condition, JobStatus.CANCELLED, None)


async def cancel_running(sessions: Sessions, job_id: str, *, attempt: int) -> Job | None:
    return await _finish_and_release(sessions, job_id, _owned(job_id, attempt), JobStatus.CANCELLED, None)


async def request_cancel(sessions: Sessions, job_id: str) -> bool:
    """Flag a processing job; its worker sees the flag on its next heartbeat."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.PROCESSING.value)
            .values(cancel_requested=True)
        )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def requeue(sessions: Sessions, job_id: str, *, attempt: int) -> bool:
    """Give a processing job back to the queue (graceful shutdown). The attempt still counts
    for fencing; `requeues` keeps it from counting as a worker that stopped."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Job)
            .where(_owned(job_id, attempt))
            .values(
                status=JobStatus.PENDING.value,
                worker_id=None,
                lease_expires_at=None,
                progress=0,
                requeues=Job.requeues + 1,
            )
        )
    given_back = result.rowcount == 1  # type: ignore[attr-defined]
    if given_back:
        _journal("requeued", None, job_id, attempt=attempt)
    return given_back


async def reclaim_expired(sessions: Sessions, *, max_attempts: int) -> list[str]:
    """Take back jobs whose worker stopped renewing its lease: retry them, or fail them with
    their reservation released once they have used up their attempts. Returns the ids."""
    now = utcnow()
    async with sessions() as session:
        expired = (
            await session.scalars(
                select(Job).where(Job.status == JobStatus.PROCESSING.value, Job.lease_expires_at < now)
            )
        ).all()
    touched = []
    for job in expired:
        condition = and_(
            Job.id == job.id,
            Job.status == JobStatus.PROCESSING.value,
            Job.attempts == job.attempts,
            Job.lease_expires_at < now,
        )
        ended = await _end_abandoned(sessions, job, condition, max_attempts)
        if ended.ended_here if ended is not None else await _back_to_pending(sessions, job, condition):
            touched.append(job.id)
    return touched


async def _back_to_pending(sessions: Sessions, job: Job, condition: Any) -> bool:
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Job)
            .where(condition)
            .values(status=JobStatus.PENDING.value, worker_id=None, lease_expires_at=None, progress=0)
        )
    taken_back = result.rowcount == 1  # type: ignore[attr-defined]
    if taken_back:
        _journal("taken back", job, lease_expired_at=str(job.lease_expires_at))
    return taken_back


async def _finish_and_release(
    sessions: Sessions,
    job_id: str,
    condition: Any,
    status: JobStatus,
    error: str | None,
    *,
    kind: FailureKind | None = None,
) -> Job | None:
    async with sessions() as session, session.begin():
        job = await _finish(
            session, condition, status=status, error_message=error, actual_credits=0, actual_seconds=0,
            error_kind=kind.value if kind is not None else None,
        )
        if job is None:
            return None
        reserved = (job.estimated_credits, job.estimated_seconds)
        await ledger.release(session, key_id=job.key_id, job_id=job_id, reserved=reserved)
        deliveries.record(session, job)
    _journal(status.value, job, **({"error_kind": kind.value, "error": error} if kind else {}))
    return job


async def _finish(session: AsyncSession, condition: Any, *, status: JobStatus, **values: Any) -> Job | None:
    """The job, ended with `status` and `values`, if `condition` still holds."""
    assert status in TERMINAL_STATUSES
    ended: Job | None = await session.scalar(
        update(Job)
        .where(condition)
        .values(
            status=status.value,
            completed_at=utcnow(),
            worker_id=None,
            lease_expires_at=None,
            **{k: v for k, v in values.items() if v is not None or k == "error_message"},
        )
        .returning(Job)
    )
    return ended


def _owned(job_id: str, attempt: int) -> Any:
    """The job, while `attempt` is its current run."""
    return and_(Job.id == job_id, Job.status == JobStatus.PROCESSING.value, Job.attempts == attempt)


async def running_job_with_request(sessions: Sessions, provider: str, request_id: str) -> str | None:
    """The processing job of `provider` whose stored provider state names `request_id`."""
    async with sessions() as session:
        found: str | None = await session.scalar(
            select(Job.id).where(
                Job.status == JobStatus.PROCESSING.value,
                Job.provider == provider,
                Job.provider_state["request_id"].as_string() == request_id,
            ).limit(1)
        )
    return found


def _active(job_id: str) -> Any:
    return and_(Job.id == job_id, or_(*(Job.status == s for s in ACTIVE)))


async def with_outputs_to_delete(sessions: Sessions, *, completed_before: datetime, limit: int) -> Sequence[Job]:
    """Completed jobs older than `completed_before` whose outputs are still stored."""
    async with sessions() as session:
        return (
            await session.scalars(
                select(Job)
                .where(
                    Job.status == JobStatus.COMPLETED.value,
                    Job.completed_at < completed_before,
                    Job.outputs_deleted_at.is_(None),
                )
                .order_by(Job.completed_at)
                .limit(limit)
            )
        ).all()


async def mark_outputs_deleted(sessions: Sessions, job_ids: Sequence[str]) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Job).where(Job.id.in_(job_ids)).values(outputs_deleted_at=utcnow()))


async def active_counts(sessions: Sessions) -> list[tuple[str, str, str, int]]:
    """(status, model, lane, jobs) of the pending and processing jobs."""
    async with sessions() as session:
        rows = await session.execute(
            select(Job.status, Job.model, Job.lane, func.count())
            .where(Job.status.in_(ACTIVE))
            .group_by(Job.status, Job.model, Job.lane)
        )
    return [(status, model, lane, int(count)) for status, model, lane, count in rows.all()]
