"""Output files at their unguessable links, with HTTP range requests so players can seek."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader
from starlette.responses import RangeNotSatisfiable as UnsatisfiableRange

from vidgate.api.deps import api_of
from vidgate.api.errors import error_responses
from vidgate.errors import BadRequest, NotFound, RangeNotSatisfiable
from vidgate.storage import LocalStorage, media_type

router = APIRouter(tags=["files"])


class OutputFile(FileResponse):
    """A FileResponse whose Range errors come out in the API's error shape: Starlette answers
    them itself, in plain text (400) or with an empty body (416)."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as exc:
            raise BadRequest(
                "Invalid Range header: expected bytes=START-END (e.g. bytes=0-1023)"
            ) from exc
        except UnsatisfiableRange as exc:
            raise RangeNotSatisfiable(
                f"Range not satisfiable: the file is {exc.max_size} bytes long", size=exc.max_size
            ) from exc


_PATH = "/files/{job_id}/{token}/{name}"
_FILE = {"video/mp4": {}, "image/jpeg": {}}
_RESPONSES = {
    200: {"description": "The file (the video, or its poster)", "content": _FILE},
    206: {"description": "The bytes the Range asked for", "content": _FILE},
    **error_responses(404, 416),
    400: {**error_responses(400)[400], "description": "A malformed Range header"},
}


@router.head(_PATH, summary="An output's headers", response_class=FileResponse, responses=_RESPONSES)
@router.get(_PATH, summary="Download an output", response_class=FileResponse, responses=_RESPONSES)
async def get_file(
    job_id: str,
    token: str,
    name: str,
    request: Request,
    _range: str | None = Header(  # read by OutputFile itself; declared for the documentation
        default=None, alias="Range", description="bytes=START-END, bytes=START- or bytes=-LAST"
    ),
) -> FileResponse:
    """The link itself is the credential: anyone holding it can fetch the file. `Range`
    requests get 206 with the bytes asked for; HEAD gets the headers alone."""
    storage = api_of(request).storage
    path = storage.resolve(job_id, token, name) if isinstance(storage, LocalStorage) else None
    if path is None:
        raise NotFound("File not found")
    return OutputFile(
        path,
        media_type=media_type(path),
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )
