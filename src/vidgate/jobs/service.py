"""Submitting generations and waiting for jobs: what the routes call."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ssrfguard import Policy

from vidgate.auth.cache import AuthenticatedKey
from vidgate.backends.base import VideoRequest
from vidgate.billing.ledger import Shortfall
from vidgate.catalog import DEFAULT_MODEL_BY_MODE, Catalog, ModelSpec
from vidgate.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    UnprocessableContent,
)
from vidgate.jobs import store
from vidgate.jobs.events import JobEvents
from vidgate.jobs.models import Job, JobStatus
from vidgate.media.fetch import SOURCE_FIELDS
from vidgate.outbound import why_refused
from vidgate.storage import Storage
from vidgate.webhooks.urls import why_webhook_refused

if TYPE_CHECKING:
    from vidgate.api.side import ApiSide

RETRY_AFTER_SECONDS = 5
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def resolve_model(params: dict[str, Any], catalog: Catalog) -> ModelSpec:
    model_id = params.get("model")
    if model_id is None:  # absent or null; an empty string is a model name, and unknown
        model_id = DEFAULT_MODEL_BY_MODE[params["mode"]]
    spec = catalog.get(model_id)
    if spec is None:
        shown = model_id or '""'
        raise BadRequest(f"Invalid model: {shown}. GET /api/v1/models lists the models")
    try:
        spec.check(
            mode=params["mode"],
            duration=float(params["duration_seconds"]),
            resolution=params["resolution"],
            fps=params["fps"],
            aspect=params["aspect_ratio"],
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    return spec


def check_sources(params: dict[str, Any], *, storage: Storage, policy: Policy) -> None:
    """Refuse a source URL whose text alone shows the address policy refuses it (a private or
    local address in any spelling), unless it is one of this server's own output links (read
    from storage, never fetched)."""
    for field in SOURCE_FIELDS:
        url = params.get(field)
        if url is None or url.startswith("data:") or storage.owns(url):
            continue
        problem = why_refused(url, policy)
        if problem is not None:
            raise BadRequest(f"{field} {problem}")


def choose_provider(key: AuthenticatedKey, spec: ModelSpec, configured: set[str]) -> str:
    """Sandbox keys always get the local engine; live keys get the model's own backend."""
    if key.sandbox:
        return "local"
    if spec.provider not in configured:
        raise ServiceUnavailable(
            f"Model {spec.id} is served by {spec.provider}, which is not configured on this "
            f"server: set FAL_KEY, use a sandbox key, or use model vidgate/local"
        )
    return spec.provider


@dataclass(frozen=True)
class Submission:
    job: Job
    replayed: bool  # the job already existed under the request's Idempotency-Key


async def submit_generation(
    api: ApiSide,
    key: AuthenticatedKey,
    params: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    remix_of: str | None = None,
    spec: ModelSpec | None = None,
) -> Submission:
    """Store a job with its reservation (or find the one its Idempotency-Key made) and have a
    worker run it. `remix_of`: the job whose video it remakes; `spec`: the model `params`
    resolved to, when the caller has already resolved it."""
    idempotency_key = check_idempotency_key(idempotency_key)
    spec = spec or resolve_model(params, api.catalog)
    check_sources(params, storage=api.storage, policy=api.source_policy)
    webhook_url = webhook_url_for(key, params.get("webhook_url"), api.source_policy)
    provider = choose_provider(key, spec, api.configured_providers)
    max_active_jobs = api.settings.max_active_jobs_per_key
    credits, seconds = spec.price(float(params["duration_seconds"]))
    # before the seed is drawn: a retry may leave it out too
    fingerprint = request_fingerprint(params) if idempotency_key is not None else None
    # a seed only has to differ between jobs, not be secret: the fast generator will do
    seed = params.get("seed")
    request = VideoRequest.from_params(
        {**params, "model": spec.id, "seed": random.getrandbits(32) if seed is None else seed}
    )
    result = await api.intake.submit(
        store.NewJob(
            key_id=key.id,
            model=spec.id,
            model_tier=spec.tier,
            provider=provider,
            lane=api.services.lane_of(provider),
            input_params=request.as_params(),
            credits=credits,
            seconds=seconds,
            max_active_jobs=max_active_jobs,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            remix_of=remix_of,
            webhook_url=webhook_url,
        ),
    )
    if isinstance(result, store.Replayed):
        return Submission(result.job, replayed=True)
    if isinstance(result, store.KeyReused):
        raise UnprocessableContent(
            f"Idempotency-Key {idempotency_key!r} was already used with a different request "
            f"(job {result.job.id}); use a new key for a new request",
            id=result.job.id,
        )
    if isinstance(result, Shortfall):
        if result.active_jobs >= max_active_jobs:
            raise TooManyRequests(
                f"Too many active jobs for this API key (limit {max_active_jobs}); "
                "wait for some to finish",
                retryAfter=RETRY_AFTER_SECONDS,
                retry_after=RETRY_AFTER_SECONDS,
            )
        raise _payment_required(result, spec, credits, seconds)
    await api.dispatch.submitted(result)
    return Submission(result, replayed=False)


def webhook_url_for(key: AuthenticatedKey, requested: str | None, policy: Policy) -> str | None:
    """Where the job's events go: the request's webhook_url, else the key's; refused when its
    text shows a private or local address, or when the key has no secret to sign them with."""
    url = requested or key.webhook_url
    if url is None:
        return None
    problem = why_webhook_refused(url, policy)
    if problem is not None:
        field = "webhook_url" if requested else "The API key's webhook URL"
        raise BadRequest(f"{field} {problem}")
    if not key.signs_webhooks:
        raise BadRequest(
            "This API key has no webhook signing secret (it was made before webhooks were): "
            "`vidgate keys webhook KEY_ID --rotate-secret` gives it one"
        )
    return url


def check_idempotency_key(value: str | None) -> str | None:
    if value is not None and not _IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces"
        )
    return value


def request_fingerprint(params: dict[str, Any]) -> str:
    """Equal for requests that mean the same, however their JSON was written (key order,
    defaults left out or spelled out)."""
    if params.get("webhook_url") is None:  # as fingerprints made before the field existed
        params = {name: value for name, value in params.items() if name != "webhook_url"}
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payment_required(
    short: Shortfall, spec: ModelSpec, credits: int, seconds: int
) -> PaymentRequired:
    message = (
        "Credits limit exceeded" if short.credits_remaining < credits else "Video seconds limit exceeded"
    )
    return PaymentRequired(
        message,
        credits_remaining=short.credits_remaining,
        credits_needed=credits,
        credits_estimated=credits,
        seconds_remaining=short.seconds_remaining,
        seconds_needed=seconds,
        quota_multiplier=spec.quota_multiplier,
    )


async def cached_job(api: ApiSide, job_id: str, *, key_id: str, missing: str = "Job not found") -> Job:
    """The key's job, from the API's job cache when it holds it (events evict a job that
    changed, wherever it changed); NotFound saying `missing` when the key has no such job."""
    job = api.job_cache.get(job_id)
    if job is None:
        read_at = time.monotonic()
        job = await store.get(api.sessions, job_id, key_id=key_id)
        if job is None:
            raise NotFound(missing)
        api.job_cache.put(job.id, job, read_at=read_at)  # not if the job changed meanwhile
    elif job.key_id != key_id:
        raise NotFound(missing)
    return job


async def wait_for_job(
    sessions: store.Sessions, events: JobEvents, job_id: str, *, key_id: str, timeout: float
) -> Job:
    """The job once it reaches a terminal state, or as it is when `timeout` runs out or the
    process starts to stop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        woken = events.subscribe(job_id)
        try:
            job = await store.get(sessions, job_id, key_id=key_id)
            if job is None:
                raise NotFound("Job not found")
            remaining = deadline - loop.time()
            if JobStatus(job.status).terminal or remaining <= 0 or events.waits_ended:
                return job
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # not wait_for: see wait_for_work in dispatch.py
                    await asyncio.shield(woken)
        finally:
            events.unsubscribe(job_id, woken)


# A cancelled processing job stops within a render frame; wait this long for it to say so.
CANCEL_WAIT_SECONDS = 10.0


async def cancel_job(api: ApiSide, job_id: str, *, key_id: str) -> Job:
    """A pending job is cancelled at once; a processing one is asked to stop (on whichever
    worker runs it) and returned once it has, or after CANCEL_WAIT_SECONDS. The reservation
    is released by whoever ends it."""
    job = await store.get(api.sessions, job_id, key_id=key_id)
    if job is None:
        raise NotFound("Job not found")
    if JobStatus(job.status).terminal:
        raise Conflict(f"Job cannot be cancelled: it is already {job.status}")
    cancelled = await store.cancel_pending(api.sessions, job_id)
    if cancelled is not None:
        await api.events.changed(job_id)
        await api.dispatch.cancel_requested(cancelled)
        return cancelled
    if await store.request_cancel(api.sessions, job_id):  # its worker's heartbeat sees the flag
        running = await store.get(api.sessions, job_id)
        if running is not None:
            await api.dispatch.cancel_requested(running)
    return await wait_for_job(api.sessions, api.events, job_id, key_id=key_id, timeout=CANCEL_WAIT_SECONDS)
