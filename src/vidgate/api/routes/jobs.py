"""GET /jobs, GET /jobs/{id} (with `?poll=true` long-poll), GET /jobs/{id}/events (Server-Sent
Events), GET /jobs/{id}/webhooks, POST /jobs/{id}/cancel."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from vidgate.api.deps import BEARER_SECURITY, JobsKey, KeyFirstRoute, api_of
from vidgate.api.errors import error_responses
from vidgate.api.presenters import PROVIDER_HEADER, base_url, delivery_object, job_object
from vidgate.api.schemas import JobList, JobOut, WebhookDeliveryList
from vidgate.api.side import POSITION_SECONDS, ApiSide
from vidgate.jobs import service, store
from vidgate.jobs.models import Job, JobStatus
from vidgate.webhooks import deliveries

router = APIRouter(tags=["jobs"], route_class=KeyFirstRoute)

Tool = Literal["image", "image_edit", "video", "music", "tts", "stt"]


@router.get(
    "/jobs",
    summary="List jobs",
    response_model=JobList,
    responses=error_responses(400, 401, 403),
    openapi_extra=BEARER_SECURITY,
)
async def list_jobs(
    request: Request,
    key: JobsKey,
    tool: Tool | None = Query(default=None, description="Only jobs of this tool"),
    pending: bool = Query(default=False, description="Only pending or processing jobs"),
    limit: int = Query(default=20, ge=1, le=100, description="Maximum results (1-100)"),
) -> Any:
    """The key's jobs, newest first."""
    api = api_of(request)
    jobs = await store.list_for_key(api.sessions, key.id, tool=tool, pending_only=pending, limit=limit)
    base = base_url(request)
    positions = await api.positions.of(jobs)
    return {"jobs": [job_object(job, api.storage, base, queue_position=positions.get(job.id)) for job in jobs]}


@router.get(
    "/jobs/{job_id}",
    openapi_extra=BEARER_SECURITY,
    summary="Get a job",
    response_model=JobOut,
    responses=error_responses(400, 401, 403, 404),
)
async def get_job(
    job_id: str,
    request: Request,
    key: JobsKey,
    poll: bool = Query(
        default=False,
        description="Hold the request up to 30 s and return as soon as the job is completed, "
        "failed or cancelled",
    ),
) -> Any:
    api = api_of(request)
    if poll:
        job = await service.wait_for_job(
            api.sessions, api.events, job_id, key_id=key.id, timeout=api.settings.poll_timeout_seconds
        )
    else:
        job = await service.cached_job(api, job_id, key_id=key.id)
    return await _job_response(job, request)


@router.get(
    "/jobs/{job_id}/webhooks",
    openapi_extra=BEARER_SECURITY,
    summary="A job's webhook deliveries",
    response_model=WebhookDeliveryList,
    responses=error_responses(401, 403, 404),
)
async def job_webhooks(job_id: str, request: Request, key: JobsKey) -> Any:
    """Each event of the job sent (or to be sent) to its webhook URL, oldest first: whether it
    was delivered, how many attempts it took, what the receiver answered last, and when a
    failed one is tried again."""
    api = api_of(request)
    await service.cached_job(api, job_id, key_id=key.id)
    return {"webhooks": [delivery_object(d) for d in await deliveries.for_job(api.sessions, job_id)]}


# A comment line this often keeps proxies and load balancers from closing a quiet stream.
EVENTS_PING_SECONDS = 15


@router.get(
    "/jobs/{job_id}/events",
    openapi_extra=BEARER_SECURITY,
    summary="Follow a job (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "`event: job` with the job object, at each change of its status or progress",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **error_responses(401, 403, 404),
    },
)
async def follow_job(
    job_id: str,
    request: Request,
    key: JobsKey,
    last_event_id: str | None = Header(
        default=None, alias="Last-Event-ID",
        description="The id of the last event received: a reconnecting client gets only what it has not seen",
    ),
) -> EventSourceResponse:
    """An event `job` carrying the job object (as GET /jobs/{id} shows it) at once and then at
    every change of its status or progress, wherever the job runs; the stream ends after the
    event that shows it completed, failed or cancelled. Each event's id names the state it
    shows: a client that reconnects with `Last-Event-ID` is not sent that state again."""
    api = api_of(request)
    await service.cached_job(api, job_id, key_id=key.id)  # a 404 before the stream starts
    events = _job_events(api, job_id, key.id, last_event_id, base_url(request))
    return EventSourceResponse(events, ping=EVENTS_PING_SECONDS, headers={"Cache-Control": "no-store"})


async def _job_events(
    api: ApiSide, job_id: str, key_id: str, last_seen: str | None, base: str
) -> AsyncIterator[ServerSentEvent]:
    woken: asyncio.Future[None] | None = None
    try:
        while True:
            if woken is None or woken.done():  # first, or after an event: read the job again
                if woken is not None:
                    api.events.unsubscribe(job_id, woken)
                woken = api.events.subscribe(job_id, progress=True)  # before the read: no change is missed
                job = await api.job_reads.get(job_id)
                if job is None or job.key_id != key_id:
                    return
            position = (await api.positions.of([job])).get(job.id)
            state = f"{job.status}.{job.progress}.{job.attempts}.{position or 0}"
            if state != last_seen:
                shown = job_object(job, api.storage, base, queue_position=position)
                yield ServerSentEvent(json.dumps(shown), event="job", id=state)
                last_seen = state
            if JobStatus(job.status).terminal or api.events.waits_ended:
                return
            # a pending job's place moves with other jobs, which send it no event: look again
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POSITION_SECONDS if position else None):
                    await asyncio.shield(woken)
    finally:
        if woken is not None:
            api.events.unsubscribe(job_id, woken)


@router.post(
    "/jobs/{job_id}/cancel",
    openapi_extra=BEARER_SECURITY,
    summary="Cancel a job",
    response_model=JobOut,
    responses=error_responses(401, 403, 404, 409),
)
async def cancel_job(job_id: str, request: Request, key: JobsKey) -> Any:
    """A pending job is cancelled at once; a processing one is asked to stop, and the response
    comes when it has (or after 10 s, still `processing`). The reservation is released."""
    job = await service.cancel_job(api_of(request), job_id, key_id=key.id)
    return await _job_response(job, request)


async def _job_response(job: Job, request: Request) -> JSONResponse:
    api = api_of(request)
    position = (await api.positions.of([job])).get(job.id)
    body = job_object(job, api.storage, base_url(request), queue_position=position)
    return JSONResponse(body, headers={PROVIDER_HEADER: job.provider})
