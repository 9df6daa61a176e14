"""The credit ledger: one row per reservation, settlement or release of a job."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vidgate.db.base import Base, UTCDateTime, utcnow


class EntryKind(enum.StrEnum):
    RESERVE = "reserve"
    SETTLE = "settle"
    RELEASE = "release"


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    # At most one reservation, one settlement and one release per job: a retried or
    # replayed transition fails on this constraint instead of moving money twice.
    __table_args__ = (UniqueConstraint("job_id", "kind", name="uq_ledger_job_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    credits: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
