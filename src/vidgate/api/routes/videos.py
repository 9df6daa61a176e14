"""POST /videos/generations: sync (waits for the video) or `?async=true` (returns a job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse

from vidgate.api.deps import BEARER_SECURITY, KeyFirstRoute, VideoKey, api_of
from vidgate.api.errors import error_responses, failed_job_error
from vidgate.api.presenters import PROVIDER_HEADER, REPLAYED_HEADER, async_response, base_url, sync_response
from vidgate.api.schemas import (
    GENERATION_EXAMPLE,
    SEED_EXAMPLE,
    AsyncGenerationResponse,
    GenerationRequest,
    GenerationResponse,
)
from vidgate.api.side import ApiSide
from vidgate.auth.cache import AuthenticatedKey
from vidgate.auth.models import ApiKey
from vidgate.errors import Conflict, GatewayTimeout, ServiceUnavailable
from vidgate.jobs import service
from vidgate.jobs.models import JobStatus

router = APIRouter(tags=["videos"], route_class=KeyFirstRoute)


@router.post(
    "/videos/generations",
    openapi_extra=BEARER_SECURITY,
    summary="Generate a video",
    response_model=GenerationResponse | AsyncGenerationResponse,
    responses=error_responses(400, 401, 402, 403, 422, 429, 502, 503, 504),
)
async def create_generation(
    body: Annotated[GenerationRequest, Body(openapi_examples={
        "local": {"summary": "A local render (works with any key, no account needed)", "value": GENERATION_EXAMPLE},
        "seed": {"summary": "The seed's example (fal.ai; a sandbox key renders it locally)", "value": SEED_EXAMPLE},
    })],
    request: Request,
    key: VideoKey,
    async_: bool = Query(
        default=False,
        alias="async",
        description="Return a job at once instead of waiting for the video",
    ),
    idempotency_key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        description="A key of your choosing (1 to 255 printable ASCII characters). Sending the "
        "same request again with the same key returns the job the first one made, without a "
        "second charge; the response then carries `Idempotent-Replayed: true`.",
    ),
) -> Any:
    """Sync (default) waits for the video. If the client goes away the job still finishes and
    stays listed under /jobs. `?async=true` returns the job id at once."""
    api = api_of(request)
    submission = await service.submit_generation(
        api, key, body.model_dump(), idempotency_key=idempotency_key
    )
    job = submission.job
    headers = {PROVIDER_HEADER: job.provider}
    if submission.replayed:
        headers[REPLAYED_HEADER] = "true"
    if async_:  # a JSONResponse skips re-validating our own output against response_model
        return JSONResponse(async_response(job), headers=headers)
    return await _wait_for_video(api, key, job.id, base_url(request), headers)


async def _wait_for_video(
    api: ApiSide, key: AuthenticatedKey, job_id: str, base: str, headers: dict[str, str]
) -> JSONResponse:
    job = await service.wait_for_job(
        api.sessions, api.events, job_id, key_id=key.id, timeout=api.settings.sync_timeout_seconds
    )
    status = JobStatus(job.status)
    if status is JobStatus.FAILED:
        failure = failed_job_error(job.error_kind)
        raise failure(f"Video generation failed: {job.error_message}", id=job.id)
    if status is JobStatus.CANCELLED:
        raise Conflict("Video generation was cancelled", id=job.id)
    if status is not JobStatus.COMPLETED and api.events.waits_ended:
        raise ServiceUnavailable(
            "The server is stopping; the job goes on when a worker runs again. Poll GET /api/v1/jobs/{id}",
            id=job.id, status=job.status,
        )
    if status is not JobStatus.COMPLETED:
        raise GatewayTimeout(
            "The video is not ready yet; the job goes on. Poll GET /api/v1/jobs/{id}", id=job.id
        )
    async with api.sessions() as session:
        fresh_key = await session.get(ApiKey, key.id)
    assert fresh_key is not None
    return JSONResponse(sync_response(job, fresh_key, api.storage, base), headers=headers)
