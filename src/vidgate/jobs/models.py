"""The job table and its status enum."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from vidgate.db.base import Base, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_key_created", "key_id", "created_at"),
        Index("ix_jobs_status_lane_created", "status", "lane", "created_at"),
        # One job per client-chosen Idempotency-Key and API key. Partial: jobs without a key
        # (most of them) cost the index nothing.
        Index(
            "ix_jobs_key_idempotency",
            "key_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    tool: Mapped[str] = mapped_column(String(16), default="video")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(200))
    model_tier: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    lane: Mapped[str] = mapped_column(String(16))  # the queue it runs on: its backend's lane
    input_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    estimated_credits: Mapped[int] = mapped_column(Integer)
    estimated_seconds: Mapped[int] = mapped_column(Integer)
    actual_credits: Mapped[int | None] = mapped_column(Integer, default=None)
    actual_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # Whose fault a failure is (backends.errors.FailureKind); the API maps it to a status.
    error_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When retention deleted its outputs (output_data keeps their keys and facts).
    outputs_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Runs started; the current one's number fences every state change of a run, so a worker
    # presumed dead that comes back, or a task delivered twice, changes nothing.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Runs given back by a worker shutting down: they do not count as workers that stopped.
    requeues: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # What a remote backend needs to resume a job after a restart (e.g. fal's request id).
    provider_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # SHA-256 of the request a key was first used with; a different request under it is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    # The job whose video this one remakes (POST /v1/videos/{id}/remix).
    remix_of: Mapped[str | None] = mapped_column(String(40), default=None)
    # Where its events are sent (the request's webhook_url, else its key's default).
    webhook_url: Mapped[str | None] = mapped_column(Text, default=None)
