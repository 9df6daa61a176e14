"""Imports every ORM model so that `metadata` knows all tables (for migrations and tests)."""

from vidgate.auth.models import ApiKey
from vidgate.billing.models import LedgerEntry
from vidgate.db.base import Base
from vidgate.jobs.models import Job

metadata = Base.metadata

__all__ = ["ApiKey", "Job", "LedgerEntry", "metadata"]
