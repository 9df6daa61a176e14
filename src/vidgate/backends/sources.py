"""A job's source media as a file, for the backends that read it themselves."""

from __future__ import annotations

from pathlib import Path

from vidgate.backends.base import JobContext
from vidgate.backends.errors import BackendError, FailureKind
from vidgate.media.fetch import FetchError, fetch_to_file
from vidgate.storage import LinkRefused, Storage


async def source_file(ctx: JobContext, field: str, *, storage: Storage | None, max_bytes: int) -> Path:
    """The request's `field` (source_image or source_video) on local disk: one of vidgate's
    own outputs is read where it is stored, anything else downloaded (a data: URI decoded) into
    the job's work folder. A source that cannot be had is the client's (FailureKind.INPUT)."""
    url = getattr(ctx.request, field)
    try:
        stored = await storage.local_copy(url, ctx.work_dir) if storage is not None else None
        return stored or await fetch_to_file(ctx.http, url, ctx.work_dir / field, field=field, max_bytes=max_bytes)
    except LinkRefused as exc:
        raise BackendError(f"{field}: {exc}", kind=FailureKind.INPUT) from exc
    except FetchError as exc:
        raise BackendError(str(exc), kind=FailureKind.INPUT) from exc
