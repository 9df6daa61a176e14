"""Moving credits and video seconds: hold at submission, settle or release at the end.

Each function runs inside the caller's transaction, beside the job change it pays for, and
starts with a guarded UPDATE so that SQLite takes its write lock first and a balance can never
go below zero whatever runs concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgate.auth.models import ApiKey
from vidgate.billing.models import EntryKind, LedgerEntry
from vidgate.db.base import utcnow

# Bulk UPDATEs here never need to refresh objects held by the session.
NO_SYNC = {"synchronize_session": False}

_RESERVE = (
    update(ApiKey)
    .where(
        ApiKey.id == bindparam("key_id"),
        ApiKey.credits_limit - ApiKey.credits_used - ApiKey.credits_reserved >= bindparam("credits"),
        ApiKey.seconds_limit - ApiKey.seconds_used - ApiKey.seconds_reserved >= bindparam("seconds"),
        ApiKey.active_jobs < bindparam("max_active"),
    )
    .values(
        credits_reserved=ApiKey.credits_reserved + bindparam("credits"),
        seconds_reserved=ApiKey.seconds_reserved + bindparam("seconds"),
        active_jobs=ApiKey.active_jobs + bindparam("jobs"),
    )
)


@dataclass(frozen=True)
class Shortfall:
    """Why a reservation was refused: what the key has left."""

    credits_remaining: int
    seconds_remaining: int
    active_jobs: int


async def hold(
    session: AsyncSession,
    *,
    key_id: str,
    credits: int,
    seconds: int,
    max_active_jobs: int,
    jobs: int = 1,
) -> Shortfall | None:
    """Hold credits, seconds and `jobs` active-job slots; if any falls short, hold nothing and
    return what the key has left. The caller records the reservations (`entry`) with the jobs."""
    connection = await session.connection()  # Core: this runs once per submission
    result = await connection.execute(
        _RESERVE,
        {
            "key_id": key_id,
            "credits": credits,
            "seconds": seconds,
            "jobs": jobs,
            "max_active": max_active_jobs - jobs + 1,
        },
    )
    if result.rowcount == 1:
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    assert key is not None
    return Shortfall(key.credits_remaining, key.seconds_remaining, key.active_jobs)


async def settle(
    session: AsyncSession,
    *,
    key_id: str,
    job_id: str,
    reserved: tuple[int, int],
    charged: tuple[int, int],
) -> None:
    """Turn a reservation into the charge (never more than was reserved)."""
    credits = min(charged[0], reserved[0])
    seconds = min(charged[1], reserved[1])
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(
            credits_reserved=ApiKey.credits_reserved - reserved[0],
            seconds_reserved=ApiKey.seconds_reserved - reserved[1],
            credits_used=ApiKey.credits_used + credits,
            seconds_used=ApiKey.seconds_used + seconds,
            active_jobs=ApiKey.active_jobs - 1,
        ),
        execution_options=NO_SYNC,
    )
    await _record(session, EntryKind.SETTLE, key_id, job_id, credits, seconds)


async def release(
    session: AsyncSession, *, key_id: str, job_id: str, reserved: tuple[int, int]
) -> None:
    """Give a reservation back: the job produced no video."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(
            credits_reserved=ApiKey.credits_reserved - reserved[0],
            seconds_reserved=ApiKey.seconds_reserved - reserved[1],
            active_jobs=ApiKey.active_jobs - 1,
        ),
        execution_options=NO_SYNC,
    )
    await _record(session, EntryKind.RELEASE, key_id, job_id, reserved[0], reserved[1])


def entry(kind: EntryKind, key_id: str, job_id: str, credits: int, seconds: int) -> dict[str, Any]:
    """A ledger row's values."""
    return {
        "key_id": key_id,
        "job_id": job_id,
        "kind": kind.value,
        "credits": credits,
        "seconds": seconds,
        "created_at": utcnow(),
    }


async def record(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    await session.execute(insert(LedgerEntry.__table__), entries)


async def _record(
    session: AsyncSession, kind: EntryKind, key_id: str, job_id: str, credits: int, seconds: int
) -> None:
    await record(session, [entry(kind, key_id, job_id, credits, seconds)])
