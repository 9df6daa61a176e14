"""POST /files (upload a source image or video), GET /files, GET /files/{id},
DELETE /files/{id}: a key's own uploads, each at a link a generation request takes as its
source."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from vidgate.api.deps import BEARER_SECURITY, KeyFirstRoute, UploadKey, api_of
from vidgate.api.errors import error_responses
from vidgate.api.presenters import base_url, upload_object
from vidgate.api.schemas import UploadDeleted, UploadList, UploadOut
from vidgate.uploads import service

router = APIRouter(tags=["files"], route_class=KeyFirstRoute)


@router.post(
    "/files",
    openapi_extra=BEARER_SECURITY,
    summary="Upload a source image or video",
    response_model=UploadOut,
    responses=error_responses(400, 401, 403, 413, 429),
)
async def upload_file(
    request: Request,
    key: UploadKey,
    file: Annotated[UploadFile, File(description="A JPEG, PNG, WebP or GIF image, or an MP4, MOV or WebM video")],
) -> Any:
    """Stores the file for this key, checked as a render checks its source (it decodes, and
    is within the server's pixel, length and size limits). Give the `url` of the answer as
    `source_image` (an image) or `source_video` (a video) of a generation request. Uploads
    are deleted with outputs, after the server's retention period."""
    api = api_of(request)
    upload = await service.store_upload(
        api.sessions, api.storage, settings=api.settings, key_id=key.id, file=file.file, filename=file.filename or "",
    )
    return upload_object(upload, api.storage, base_url(request))


@router.get(
    "/files",
    openapi_extra=BEARER_SECURITY,
    summary="List uploads",
    response_model=UploadList,
    responses=error_responses(401, 403),
)
async def list_uploads(
    request: Request,
    key: UploadKey,
    limit: int = Query(default=20, ge=1, le=100, description="Maximum results (1-100)"),
    after: str | None = Query(default=None, description="The `last_id` of the previous page"),
) -> Any:
    """This key's uploads, newest first, a page at a time: while `has_more`, ask again with
    `after` set to the page's `last_id`."""
    api = api_of(request)
    uploads, more = await service.list_uploads(api.sessions, key_id=key.id, limit=limit, after=after)
    base = base_url(request)
    return {"object": "list", "data": [upload_object(upload, api.storage, base) for upload in uploads],
            "has_more": more, "last_id": uploads[-1].id if uploads else None}


@router.get(
    "/files/{file_id}",
    openapi_extra=BEARER_SECURITY,
    summary="Get an upload",
    response_model=UploadOut,
    responses=error_responses(401, 403, 404),
)
async def get_upload(file_id: str, request: Request, key: UploadKey) -> Any:
    api = api_of(request)
    upload = await service.get_upload(api.sessions, file_id, key_id=key.id)
    return upload_object(upload, api.storage, base_url(request))


@router.delete(
    "/files/{file_id}",
    openapi_extra=BEARER_SECURITY,
    summary="Delete an upload",
    response_model=UploadDeleted,
    responses=error_responses(401, 403, 404),
)
async def delete_upload(file_id: str, request: Request, key: UploadKey) -> Any:
    """The file is deleted from storage: its link stops working, and a job not yet started
    that names it as its source fails."""
    api = api_of(request)
    await service.delete_upload(api.sessions, api.storage, file_id, key_id=key.id)
    return {"id": file_id, "object": "file", "deleted": True}
