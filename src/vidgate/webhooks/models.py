"""The webhook deliveries table: one row per event of a job to send, with its retries."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vidgate.db.base import Base, UTCDateTime, utcnow


class WebhookEvent(enum.StrEnum):
    STARTED = "generation.started"
    COMPLETED = "generation.completed"
    FAILED = "generation.failed"
    CANCELLED = "generation.cancelled"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # to be sent, or sent again at next_attempt_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt of the retry schedule failed


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_job", "job_id", "created_at"),
    )

    # Sent as `webhook-id`: the same on every retry, so a receiver can drop repeats.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))  # whose secret signs it
    event: Mapped[str] = mapped_column(String(32))
    job_attempt: Mapped[int] = mapped_column(Integer)  # the run of the job it tells of
    url: Mapped[str] = mapped_column(Text)
    # The job's columns at the event (times as ISO strings); links are made at each send.
    job_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # sends tried so far
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A sender holds the delivery until then; one that stopped mid-send is taken over after it.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lock_token: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
