"""Output files at their unguessable links, with HTTP range requests so players can seek."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from vidgate.api.deps import runtime_of
from vidgate.api.errors import error_responses
from vidgate.errors import NotFound
from vidgate.storage import media_type

router = APIRouter(tags=["files"])



@router.get("/files/{job_id}/{token}/{name}", summary="Download an output",
            responses=error_responses(404))
async def get_file(job_id: str, token: str, name: str, request: Request) -> FileResponse:
    """The link itself is the credential: anyone holding it can fetch the file."""
    path = runtime_of(request).storage.resolve(job_id, token, name)
    if path is None:
        raise NotFound("File not found")
    return FileResponse(
        path,
        media_type=media_type(path),
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )
