"""Retention: outputs of jobs completed longer ago than `output_retention_days` are deleted
from storage (either kind), and the job records when; uploads older than that are deleted,
file and record, and so are webhook deliveries that are over. Run periodically by the embedded
dispatcher, or by a maintenance task in scale-out."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from vidgate.db.base import utcnow
from vidgate.jobs import store
from vidgate.services import Services
from vidgate.uploads import service as uploads
from vidgate.webhooks import deliveries

log = logging.getLogger(__name__)

BATCH = 500
# How often retention runs: at most this often, and at least twice per retention period.
MAX_INTERVAL_SECONDS = 300.0


def retention_interval(days: float) -> float:
    return min(MAX_INTERVAL_SECONDS, days * 86_400 / 2)


def output_keys(output: dict[str, Any] | None) -> list[str]:
    video = (output or {}).get("video") or {}
    return [key for key in (video.get("key"), video.get("poster_key")) if key]


async def delete_old_outputs(services: Services) -> None:
    """Delete every output and upload past retention, a batch at a time."""
    while await _delete_batch(services) == BATCH:
        pass
    while await _delete_uploads_batch(services) == BATCH:
        pass
    await _forget_deliveries(services)


async def _delete_batch(services: Services) -> int:
    """Delete the outputs past retention (a batch at most); return how many jobs had theirs
    deleted. Files go first, so a stop between the two deletes them again next time."""
    days = services.settings.output_retention_days
    if days is None:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    jobs = await store.with_outputs_to_delete(services.sessions, completed_before=cutoff, limit=BATCH)
    if not jobs:
        return 0
    await services.storage.delete([key for job in jobs for key in output_keys(job.output_data)])
    await store.mark_outputs_deleted(services.sessions, [job.id for job in jobs])
    for job in jobs:
        await services.events.changed(job.id)
    log.info("retention deleted the outputs of %d jobs completed before %s", len(jobs), cutoff.isoformat())
    return len(jobs)


async def _delete_uploads_batch(services: Services) -> int:
    """Delete the uploads past retention (a batch at most); return how many."""
    days = services.settings.output_retention_days
    if days is None:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    old = await uploads.created_before(services.sessions, cutoff, limit=BATCH)
    if not old:
        return 0
    await services.storage.delete([upload.storage_key for upload in old])
    await uploads.forget(services.sessions, [upload.id for upload in old])
    log.info("retention deleted %d uploads made before %s", len(old), cutoff.isoformat())
    return len(old)


async def _forget_deliveries(services: Services) -> None:
    """Delete the webhook deliveries past retention that are over (delivered or given up)."""
    days = services.settings.output_retention_days
    if days is None:
        return
    cutoff = utcnow() - timedelta(days=days)
    forgotten = await deliveries.forget_finished(services.sessions, created_before=cutoff)
    if forgotten:
        log.info("retention deleted %d webhook deliveries made before %s", forgotten, cutoff.isoformat())
