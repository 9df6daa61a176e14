"""/v1/videos: OpenAI's videos API (create, retrieve, list, delete, download) over vidgate's
jobs. Errors come in OpenAI's shape ({"error": {"message", "type", "param", "code"}})."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from vidgate.api.deps import BEARER_SECURITY, JobsKey, KeyFirstRoute, VideoKey, api_of
from vidgate.api.errors import describe_unreadable_body, describe_validation_error, error_responses
from vidgate.api.openai_videos import (
    POLL_AFTER_MS,
    OpenAIErrorBody,
    RemixVideo,
    Video,
    VideoDeleted,
    VideoList,
    generation_params,
    parse_create,
    remix_params,
    video_object,
)
from vidgate.api.presenters import REPLAYED_HEADER, base_url, link_url
from vidgate.api.schemas import GenerationRequest
from vidgate.api.side import ApiSide
from vidgate.auth.cache import AuthenticatedKey
from vidgate.catalog import ModelSpec
from vidgate.errors import BadRequest, Conflict, NotFound
from vidgate.jobs import service, store
from vidgate.jobs.models import Job, JobStatus
from vidgate.jobs.retention import output_keys
from vidgate.uploads import service as uploads

router = APIRouter(tags=["openai"], route_class=KeyFirstRoute)

_CREATE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["prompt"], "properties": {
            "prompt": {"type": "string", "minLength": 1, "description": "What the video shows"},
            "model": {"type": "string", "description": "A model id (sora-* or none: the mode's default)"},
            "seconds": {"type": "string", "description": "Duration in seconds"},
            "size": {"type": "string", "description": "WIDTHxHEIGHT, e.g. 1280x720"},
            "input_reference": {"type": "string", "format": "binary", "description": "An image to start from"},
        }}},
        "application/json": {"schema": {"type": "object", "required": ["prompt"]}, "example": {
            "prompt": "ocean waves at sunset", "model": "vidgate/local", "seconds": "4", "size": "1280x720",
        }},
    },
}


def _polled(job: Job, *, replayed: bool = False) -> JSONResponse:
    """A video, with when to ask again while it is made, and whether an Idempotency-Key replayed it."""
    headers = {} if JobStatus(job.status).terminal else {"openai-poll-after-ms": str(POLL_AFTER_MS)}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(video_object(job), headers=headers)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(*statuses, model=OpenAIErrorBody)


@router.post("/videos", summary="Create a video (OpenAI's shape)", response_model=Video,
             responses=_errors(400, 401, 402, 403, 404, 413, 429, 503),
             openapi_extra={**BEARER_SECURITY, "requestBody": _CREATE_BODY})
async def create_video(
    request: Request,
    key: VideoKey,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Any:
    """A text-to-video job, or image-to-video with `input_reference`; `seconds` and `size` map
    onto the model's durations and sizes (what it cannot do is a 400 listing what it can)."""
    api = api_of(request)
    fields, upload = await _create_fields(request)
    create = parse_create(fields)
    reference = create.input_reference
    source = None if reference is None else await _reference_url(api, key, reference.image_url,
                                                                reference.file_id, request)
    params = _checked(generation_params(create, api.catalog, source_image=_LATER if upload else source))
    spec = _resolved(params, api)  # refused before an upload is stored
    if upload is None:
        submission = await service.submit_generation(api, key, params, idempotency_key=idempotency_key, spec=spec)
        return _polled(submission.job, replayed=submission.replayed)
    if idempotency_key is not None:  # a retried form: its file is not stored again (nor compared)
        earlier = await store.by_idempotency_key(api.sessions, key.id, service.check_idempotency_key(idempotency_key))
        if earlier is not None:
            return _polled(earlier, replayed=True)
    stored = await uploads.store_upload(
        api.sessions, api.storage, settings=api.settings, key_id=key.id, file=upload.file,
        filename=upload.filename or "",
    )
    try:
        if stored.kind != "image":
            raise BadRequest("input_reference must be an image", param="input_reference")
        params["source_image"] = link_url(api.storage, stored.storage_key, base_url(request))
        submission = await service.submit_generation(api, key, params, idempotency_key=idempotency_key, spec=spec)
    except BaseException:  # refused (402, 429...): the file uploaded for it goes too
        await uploads.delete_upload(api.sessions, api.storage, stored.id, key_id=key.id)
        raise
    return _polled(submission.job, replayed=submission.replayed)


@router.post("/videos/{video_id}/remix", summary="Remix a video (OpenAI's shape)", response_model=Video,
             responses=_errors(400, 401, 402, 403, 404, 409, 429, 503), openapi_extra=BEARER_SECURITY)
async def remix_video(
    video_id: str,
    body: RemixVideo,
    request: Request,
    key: VideoKey,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Any:
    """A video-to-video job on a completed video, at its duration, resolution and fps, with a
    new prompt; the new video names the first as `remixed_from_video_id`."""
    api = api_of(request)
    original = await _job(api, video_id, key)
    stored = _stored_file(original, "video")
    source = link_url(api.storage, stored, base_url(request))
    params = _checked(remix_params(original, body.prompt, source))
    submission = await service.submit_generation(api, key, params, idempotency_key=idempotency_key,
                                                 remix_of=original.id)
    return _polled(submission.job)


_LATER = "data:,"  # stands for an input_reference file until it is stored

# The request field of this API a catalog check names by its NovaKit field.
_OPENAI_PARAM = {"duration_seconds": "seconds", "resolution": "size", "aspect_ratio": "size", "model": "model",
                 "Invalid model": "model"}


def _resolved(params: dict[str, Any], api: ApiSide) -> ModelSpec:
    """The model `params` name, checked; a refusal names the field of this API at fault."""
    try:
        return service.resolve_model(params, api.catalog)
    except BadRequest as exc:
        field = next((name for prefix, name in _OPENAI_PARAM.items() if exc.message.startswith(prefix)), None)
        raise BadRequest(exc.message, param=field) from exc


async def _create_fields(request: Request) -> tuple[dict[str, Any], UploadFile | None]:
    """The request's fields, from a multipart form (what the SDK sends) or JSON, and the
    input_reference file if one came."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            fields = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            raise BadRequest(describe_unreadable_body(exc)) from exc
        if not isinstance(fields, dict):
            raise BadRequest("The request body must be a JSON object")
        return fields, None
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise BadRequest("Send the request as multipart/form-data or application/json")
    form = await request.form()
    fields = {name: value for name, value in form.items() if name != "input_reference"}
    reference = form.get("input_reference")
    if isinstance(reference, UploadFile):
        return fields, reference
    if isinstance(reference, str):
        fields["input_reference"] = {"image_url": reference}
    return fields, None


async def _reference_url(api: ApiSide, key: AuthenticatedKey, image_url: str | None, file_id: str | None,
                         request: Request) -> str:
    if image_url is not None:
        return image_url
    assert file_id is not None
    upload = await uploads.get_upload(api.sessions, file_id, key_id=key.id)
    if upload.kind != "image":
        raise BadRequest(f"input_reference: {file_id} is a {upload.kind}, not an image", param="input_reference")
    return link_url(api.storage, upload.storage_key, base_url(request))


def _checked(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the generation request's defaults, validated as the NovaKit API does."""
    try:
        return GenerationRequest.model_validate(params).model_dump()
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc.errors()[0])) from exc


@router.get("/videos/{video_id}", summary="Retrieve a video (OpenAI's shape)", response_model=Video,
            responses=_errors(401, 403, 404), openapi_extra=BEARER_SECURITY)
async def retrieve_video(video_id: str, request: Request, key: JobsKey) -> Any:
    """While the video is queued or in progress, `openai-poll-after-ms` says when to ask again."""
    return _polled(await _job(api_of(request), video_id, key))


@router.get("/videos", summary="List videos (OpenAI's shape)", response_model=VideoList,
            responses=_errors(400, 401, 403), openapi_extra=BEARER_SECURITY)
async def list_videos(
    request: Request,
    key: JobsKey,
    after: str | None = Query(default=None, description="The last id of the previous page"),
    limit: int = Query(default=20, ge=1, le=100),
    order: Literal["asc", "desc"] = Query(default="desc"),
) -> Any:
    api = api_of(request)
    if after is not None and await store.get(api.sessions, after, key_id=key.id) is None:
        raise BadRequest(f"after: no video {after}; give the last id of the previous page", param="after")
    jobs, more = await store.page_for_key(api.sessions, key.id, after=after, limit=limit,
                                          newest_first=order == "desc")
    data = [video_object(job) for job in jobs]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": more}


@router.delete("/videos/{video_id}", summary="Delete a video's files (OpenAI's shape)",
               response_model=VideoDeleted, responses=_errors(401, 403, 404), openapi_extra=BEARER_SECURITY)
async def delete_video(video_id: str, request: Request, key: JobsKey) -> Any:
    """A video still queued or in progress is cancelled first. The job stays listed; its
    files are deleted and its content answers 404."""
    api = api_of(request)
    job = await _job(api, video_id, key)
    if not JobStatus(job.status).terminal:
        job = await service.cancel_job(api, job.id, key_id=key.id)
    keys = output_keys(job.output_data)
    if keys and job.outputs_deleted_at is None:
        await api.storage.delete(keys)
        await store.mark_outputs_deleted(api.sessions, [job.id])
        await api.events.changed(job.id)
    return {"id": job.id, "object": "video.deleted", "deleted": True}


@router.get("/videos/{video_id}/content", summary="Download a video (OpenAI's shape)",
            openapi_extra=BEARER_SECURITY, response_class=RedirectResponse, status_code=302,
            responses={302: {"description": "Where the file is (its link is the credential)"},
                       **_errors(400, 401, 403, 404, 409)})
async def download_video(
    video_id: str,
    request: Request,
    key: JobsKey,
    variant: Literal["video", "thumbnail"] = Query(
        default="video", description="The video, or its poster (no spritesheet is made here)"
    ),
) -> Any:
    """A redirect to the file's link (presigned, with S3 storage): the link itself is the
    credential, so a client need not, and the SDK does not, send its key there."""
    api = api_of(request)
    stored = _stored_file(await _job(api, video_id, key), variant)
    return RedirectResponse(link_url(api.storage, stored, base_url(request)), status_code=302)


def _stored_file(job: Job, variant: Literal["video", "thumbnail"]) -> str:
    """The storage key of a completed video's file (the video, or its poster)."""
    if job.status != JobStatus.COMPLETED.value:
        raise Conflict(f"The video is {video_object(job)['status']}: its files are there once it is completed")
    if job.outputs_deleted_at is not None:
        raise NotFound("The video's files were deleted")
    video = (job.output_data or {}).get("video") or {}
    stored = video.get("key" if variant == "video" else "poster_key")
    if not stored:
        raise NotFound(f"The video has no {variant}")
    return str(stored)


async def _job(api: ApiSide, video_id: str, key: AuthenticatedKey) -> Job:
    return await service.cached_job(api, video_id, key_id=key.id, missing=f"No video with id {video_id}")

