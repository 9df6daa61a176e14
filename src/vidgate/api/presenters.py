"""Turning rows into wire objects (job objects in camelCase, links made absolute)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from vidgate.auth.models import ApiKey
from vidgate.jobs.models import Job
from vidgate.storage import Storage
from vidgate.uploads.models import Upload
from vidgate.uploads.service import SOURCE_FIELD
from vidgate.webhooks.models import DeliveryStatus, WebhookDelivery

PROVIDER_HEADER = "X-Vidgate-Provider"
REPLAYED_HEADER = "Idempotent-Replayed"  # the answer is the job an Idempotency-Key made earlier


def base_url(request: Request) -> str:
    configured = request.app.state.api.settings.public_url
    return configured or str(request.base_url).rstrip("/")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def absolute(url: str, base: str) -> str:
    return base + url if url.startswith("/") else url


def link_url(storage: Storage, key: str, base: str) -> str:
    """A link to the stored file `key`, made now, absolute."""
    return absolute(storage.link(key).url, base)


def output_with_links(
    output: dict[str, Any] | None, storage: Storage, base: str, *, deleted: bool = False
) -> dict[str, Any] | None:
    """A job's output as clients see it: its stored files' keys turned into links, made now
    (an expiring link is fresh on every read), with the moment they expire; no links once
    retention has `deleted` the files."""
    if not output:
        return None
    linked = dict(output)
    if "video" in linked:
        video = dict(linked["video"])
        key, poster_key = video.pop("key", None), video.pop("poster_key", None)
        if deleted:
            key = poster_key = None
        link = storage.link(key) if key else None
        video["url"] = absolute(link.url, base) if link else None
        video["thumbnail_url"] = link_url(storage, poster_key, base) if poster_key else None
        video["url_expires_at"] = iso(link.expires_at) if link else None
        linked["video"] = video
    return linked


def job_object(job: Job, storage: Storage, base: str, *, queue_position: int | None = None) -> dict[str, Any]:
    """`queue_position`: a pending job's place in its lane's queue (1: next to start)."""
    return {
        "id": job.id,
        "userId": "api",
        "tool": job.tool,
        "status": job.status,
        "progress": job.progress,
        "queuePosition": queue_position,
        "inputParams": job.input_params,
        "outputData": output_with_links(
            job.output_data, storage, base, deleted=job.outputs_deleted_at is not None
        ),
        "estimatedCredits": job.estimated_credits,
        "actualCredits": job.actual_credits,
        "createdAt": iso(job.created_at),
        "completedAt": iso(job.completed_at),
        "model": job.model,
        "modelTier": job.model_tier,
        "provider": job.provider,
        "errorMessage": job.error_message,
        "outputsDeletedAt": iso(job.outputs_deleted_at),
    }


def async_response(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,  # "pending" unless an Idempotency-Key replays an older job
        "created": int(job.created_at.timestamp()),
        "model": job.model,
        "estimated_credits": job.estimated_credits,
        "provider": job.provider,
    }


def sync_response(job: Job, key: ApiKey, storage: Storage, base: str) -> dict[str, Any]:
    """The seed's sync shape, for a completed job; `key` carries balances after settlement."""
    output = output_with_links(job.output_data, storage, base, deleted=job.outputs_deleted_at is not None) or {}
    video = output["video"]
    return {
        "id": job.id,
        "created": int(job.created_at.timestamp()),
        "data": {
            "url": video["url"],
            "duration_seconds": video["duration_seconds"],
            "width": video["width"],
            "height": video["height"],
            "thumbnail_url": video.get("thumbnail_url"),
            "url_expires_at": video.get("url_expires_at"),
        },
        "model": job.model,
        "model_tier": job.model_tier,
        "provider": job.provider,
        "usage": {
            "credits_used": job.actual_credits or 0,
            "seconds_used": job.actual_seconds or 0,
            "seconds_remaining": key.seconds_remaining,
            "credits_remaining": key.credits_remaining,
        },
    }


def upload_object(upload: Upload, storage: Storage, base: str) -> dict[str, Any]:
    link = storage.link(upload.storage_key)
    return {
        "id": upload.id,
        "object": "file",
        "kind": upload.kind,
        "use_as": SOURCE_FIELD[upload.kind],
        "filename": upload.filename,
        "content_type": upload.content_type,
        "bytes": upload.bytes,
        "width": upload.width,
        "height": upload.height,
        "duration_seconds": upload.duration_seconds,
        "url": absolute(link.url, base),
        "url_expires_at": iso(link.expires_at),
        "created_at": iso(upload.created_at),
    }


def delivery_object(delivery: WebhookDelivery) -> dict[str, Any]:
    pending = delivery.status == DeliveryStatus.PENDING.value
    return {
        "id": delivery.id,
        "event": delivery.event,
        "jobAttempt": delivery.job_attempt,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "createdAt": iso(delivery.created_at),
        "lastAttemptAt": iso(delivery.last_attempt_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "nextAttemptAt": iso(delivery.next_attempt_at) if pending else None,
        "deliveredAt": iso(delivery.delivered_at),
    }
