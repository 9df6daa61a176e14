"""Moving credits and video seconds: reserve at submission, settle or release at the end.

Each function runs inside the caller's transaction, beside the job change it pays for, and
starts with a guarded UPDATE so that SQLite takes its write lock first and a balance can never
go below zero whatever runs concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgate.auth.models import ApiKey
from vidgate.billing.models import EntryKind, LedgerEntry
from vidgate.db.base import utcnow


@dataclass(frozen=True)
class Shortfall:
    credits_remaining: int
    seconds_remaining: int


async def reserve(
    session: AsyncSession, *, key_id: str, job_id: str, credits: int, seconds: int
) -> Shortfall | None:
    """Hold credits and seconds for a job; return the shortfall (and reserve nothing) if short."""
    result = await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            ApiKey.credits_limit - ApiKey.credits_used - ApiKey.credits_reserved >= credits,
            ApiKey.seconds_limit - ApiKey.seconds_used - ApiKey.seconds_reserved >= seconds,
        )
        .values(
            credits_reserved=ApiKey.credits_reserved + credits,
            seconds_reserved=ApiKey.seconds_reserved + seconds,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
        assert key is not None
        return Shortfall(key.credits_remaining, key.seconds_remaining)
    session.add(_entry(EntryKind.RESERVE, key_id, job_id, credits, seconds))
    return None


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
        )
    )
    session.add(_entry(EntryKind.SETTLE, key_id, job_id, credits, seconds))


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
        )
    )
    session.add(_entry(EntryKind.RELEASE, key_id, job_id, reserved[0], reserved[1]))


def _entry(kind: EntryKind, key_id: str, job_id: str, credits: int, seconds: int) -> LedgerEntry:
    return LedgerEntry(
        key_id=key_id, job_id=job_id, kind=kind.value, credits=credits, seconds=seconds,
        created_at=utcnow(),
    )
