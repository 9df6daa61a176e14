"""Imports every ORM model so that `metadata` knows all tables (for migrations and tests)."""

from vidgate.auth.models import ApiKey
from vidgate.billing.models import LedgerEntry
from vidgate.db.base import Base
from vidgate.jobs.models import Job
from vidgate.uploads.models import Upload
from vidgate.webhooks.models import WebhookDelivery

metadata = Base.metadata

__all__ = ["ApiKey", "Job", "LedgerEntry", "Upload", "WebhookDelivery", "metadata", "vidgate_object"]


def vidgate_object(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether a schema object is vidgate's own (for comparing the database with the models):
    procrastinate's tables share the PostgreSQL database and are not."""
    return not (name or "").startswith("procrastinate_")
