"""The API key table. Balances live on the key; every change is also a ledger entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vidgate.db.base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "credits_used + credits_reserved <= credits_limit", name="credits_within_limit"
        ),
        CheckConstraint(
            "seconds_used + seconds_reserved <= seconds_limit", name="seconds_within_limit"
        ),
        CheckConstraint(
            "credits_reserved >= 0 AND seconds_reserved >= 0 AND active_jobs >= 0",
            name="reserved_positive",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_limit: Mapped[int] = mapped_column(Integer)
    credits_used: Mapped[int] = mapped_column(Integer, default=0)
    credits_reserved: Mapped[int] = mapped_column(Integer, default=0)
    seconds_limit: Mapped[int] = mapped_column(Integer)
    seconds_used: Mapped[int] = mapped_column(Integer, default=0)
    seconds_reserved: Mapped[int] = mapped_column(Integer, default=0)
    # Pending plus processing jobs, kept beside the reservations they hold.
    active_jobs: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Rate limits of this key ("120/minute", "none"); null: the server's defaults.
    rate_limit: Mapped[str | None] = mapped_column(String(64), default=None)
    generation_rate_limit: Mapped[str | None] = mapped_column(String(64), default=None)
    # Where the events of this key's jobs go unless a request names its own webhook_url.
    webhook_url: Mapped[str | None] = mapped_column(Text, default=None)
    # Signs them (Standard Webhooks, `whsec_...`). Kept as is, unlike the key: signing needs it.
    webhook_secret: Mapped[str | None] = mapped_column(String(64), default=None)

    @property
    def credits_remaining(self) -> int:
        return self.credits_limit - self.credits_used - self.credits_reserved

    @property
    def seconds_remaining(self) -> int:
        return self.seconds_limit - self.seconds_used - self.seconds_reserved
