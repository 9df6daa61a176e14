"""GET /jobs, GET /jobs/{id} (with `?poll=true` long-poll), POST /jobs/{id}/cancel."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from vidgate.api.deps import BEARER_SECURITY, JobsKey, KeyFirstRoute, api_of
from vidgate.api.errors import error_responses
from vidgate.api.presenters import PROVIDER_HEADER, base_url, job_object
from vidgate.api.schemas import JobList, JobOut
from vidgate.api.side import ApiSide
from vidgate.errors import NotFound
from vidgate.jobs import service, store
from vidgate.jobs.models import Job

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
    return {"jobs": [job_object(job, api.storage, base) for job in jobs]}


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
        job = await _cached_job(api, job_id, key.id)
    return _job_response(job, request)


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
    return _job_response(job, request)


async def _cached_job(api: ApiSide, job_id: str, key_id: str) -> Job:
    job = api.job_cache.get(job_id)
    if job is None:
        job = await store.get(api.sessions, job_id, key_id=key_id)
        if job is None:
            raise NotFound("Job not found")
        api.job_cache.put(job.id, job)
    elif job.key_id != key_id:
        raise NotFound("Job not found")
    return job


def _job_response(job: Job, request: Request) -> JSONResponse:
    storage = api_of(request).storage
    return JSONResponse(job_object(job, storage, base_url(request)), headers={PROVIDER_HEADER: job.provider})
