"""Every query on webhook deliveries.

A delivery is written in the same transaction as the job's state change it tells of, so an
event is never lost to a crash between the two, nor sent for a change that was rolled back.
Senders claim due deliveries for a while (`locked_until`), so processes sharing the database
never send one at the same time; one left by a sender that stopped is claimed again once its
hold runs out (the receiver may then see it twice, with the same `webhook-id`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vidgate.db.base import UTCDateTime, time_ordered_id, utcnow
from vidgate.jobs.models import Job, JobStatus
from vidgate.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent

Sessions = async_sessionmaker[AsyncSession]

EVENT_OF_STATUS = {
    JobStatus.PROCESSING: WebhookEvent.STARTED,
    JobStatus.COMPLETED: WebhookEvent.COMPLETED,
    JobStatus.FAILED: WebhookEvent.FAILED,
    JobStatus.CANCELLED: WebhookEvent.CANCELLED,
}
_TIMES = frozenset(c.key for c in Job.__table__.columns if isinstance(c.type, UTCDateTime))


def job_snapshot(job: Job) -> dict[str, Any]:
    """The job's columns, as JSON can hold them."""
    values = {column.key: getattr(job, column.key) for column in Job.__table__.columns}
    return {name: value.isoformat() if name in _TIMES and value is not None else value
            for name, value in values.items()}


def job_from_snapshot(snapshot: dict[str, Any]) -> Job:
    """The job as it was at the event (not attached to any session)."""
    return Job(**{name: datetime.fromisoformat(value) if name in _TIMES and value is not None else value
                  for name, value in snapshot.items()})


def record(session: AsyncSession, job: Job) -> None:
    """Add the delivery of the event `job`'s new status makes, when the job has a webhook URL,
    to the transaction that changed it."""
    event = EVENT_OF_STATUS.get(JobStatus(job.status))
    if job.webhook_url is None or event is None:
        return
    now = utcnow()
    session.add(WebhookDelivery(
        id=time_ordered_id("msg_"),
        job_id=job.id,
        key_id=job.key_id,
        event=event.value,
        job_attempt=job.attempts,
        url=job.webhook_url,
        job_snapshot=job_snapshot(job),
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    ))


@dataclass(frozen=True)
class Claimed:
    deliveries: Sequence[WebhookDelivery]
    token: str  # proves the hold when the outcome is written


def _due(now: datetime) -> Any:
    return (
        (WebhookDelivery.status == DeliveryStatus.PENDING.value)
        & (WebhookDelivery.next_attempt_at <= now)
        & or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now)
    )


async def claim_due(sessions: Sessions, *, limit: int, hold_seconds: float) -> Claimed:
    """Hold up to `limit` deliveries due now, oldest first. Nothing is written when none is
    due, so an idle sender never takes the database's write lock."""
    now = utcnow()
    token = secrets.token_hex(8)
    async with sessions() as session:
        ids = (await session.scalars(
            select(WebhookDelivery.id).where(_due(now)).order_by(WebhookDelivery.next_attempt_at).limit(limit)
        )).all()
    if not ids:
        return Claimed((), token)
    async with sessions.begin() as session:
        held = (await session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), _due(now))  # another sender may have taken some
            .values(locked_until=now + timedelta(seconds=hold_seconds), lock_token=token)
            .returning(WebhookDelivery)
        )).all()
    return Claimed(held, token)


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    token: str  # of the claim that sent it
    at: datetime
    status_code: int | None
    error: str | None  # None: delivered
    retry_at: datetime | None  # None with an error: no attempt left

    def values(self) -> dict[str, Any]:
        if self.error is None:
            status, next_at, delivered = DeliveryStatus.DELIVERED, self.at, self.at
        elif self.retry_at is not None:
            status, next_at, delivered = DeliveryStatus.PENDING, self.retry_at, None
        else:
            status, next_at, delivered = DeliveryStatus.FAILED, self.at, None
        return {"out_id": self.delivery_id, "out_token": self.token, "out_status": status.value,
                "out_at": self.at, "out_code": self.status_code, "out_error": self.error,
                "out_next": next_at, "out_delivered": delivered}


# One statement of one shape for every outcome, run for many at once (executemany).
_SETTLE = (
    update(WebhookDelivery.__table__)
    .where(
        WebhookDelivery.__table__.c.id == bindparam("out_id"),
        WebhookDelivery.__table__.c.lock_token == bindparam("out_token"),
    )
    .values(
        status=bindparam("out_status"),
        attempts=WebhookDelivery.__table__.c.attempts + 1,
        last_attempt_at=bindparam("out_at"),
        last_status_code=bindparam("out_code"),
        last_error=bindparam("out_error"),
        next_attempt_at=bindparam("out_next"),
        delivered_at=bindparam("out_delivered"),
        locked_until=None,
        lock_token=None,
    )
)


async def settle(sessions: Sessions, outcomes: Sequence[Outcome]) -> None:
    """Write what each send gave, for the deliveries their claims still hold, in one
    transaction."""
    if not outcomes:
        return
    async with sessions.begin() as session:
        await session.execute(_SETTLE, [outcome.values() for outcome in outcomes])


async def release(sessions: Sessions, token: str) -> None:
    """Give back what `token` holds and was not settled (a sender stopping): due again now."""
    async with sessions.begin() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.lock_token == token)
            .values(locked_until=None, lock_token=None)
        )


async def for_job(sessions: Sessions, job_id: str) -> Sequence[WebhookDelivery]:
    async with sessions() as session:
        return (await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )).all()


async def forget_finished(sessions: Sessions, *, created_before: datetime) -> int:
    """Delete the delivered and given-up deliveries made before `created_before`."""
    async with sessions.begin() as session:
        result = await session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.created_at < created_before,
                WebhookDelivery.status != DeliveryStatus.PENDING.value,
            )
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
