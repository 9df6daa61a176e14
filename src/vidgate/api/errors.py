"""Every error leaves the API in one shape: `{"error": "...", ...extra fields}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidgate.api.schemas import ErrorBody
from vidgate.errors import ApiError

log = logging.getLogger(__name__)

_LOCATION_ROOTS = {"body", "query", "path", "header"}
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "finite_number": "a finite number",
}



def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the statuses a route can answer with."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


_DESCRIPTIONS = {
    400: "Invalid parameters or malformed JSON",
    401: "Missing, unknown or revoked API key",
    402: "Not enough credits or video seconds",
    403: "The API key lacks the required scope",
    404: "Not found (or not yours)",
    409: "The job's state forbids the action",
    422: "The Idempotency-Key was first used with a different request",
    429: "Too many active jobs for this key",
    502: "The backend could not make the video",
    503: "The model's backend is not configured",
    504: "The sync request waited too long; the job goes on",
}


def describe_validation_error(error: dict[str, Any]) -> str:
    """One readable sentence for the first problem pydantic found."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = ".".join(str(part) for part in error["loc"] if part not in _LOCATION_ROOTS)
    if kind == "json_invalid":
        return "Malformed JSON in request body"
    if kind in ("model_attributes_type", "dict_type", "model_type", "missing") and not field:
        return "Request body must be a JSON object"
    if kind == "missing":
        return f"{field} is required"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "extra_forbidden":
        return f"Unknown parameter: {field}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"{field} must be {'one of ' if ',' in expected else ''}{expected}"
    if kind in _TYPE_NAMES:
        return f"{field} must be {_TYPE_NAMES[kind]}"
    if kind == "string_unicode":
        return f"{field} must be valid Unicode text (it has an unpaired surrogate)"
    if kind == "string_too_long":
        return f"{field} must be at most {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{field} is out of range: {error['msg'].lower()}"
    return f"{field}: {error['msg']}" if field else str(error["msg"])


# FastAPI's detail when reading the JSON body raised something other than a syntax error.
_BODY_PARSE_FAILED = "There was an error parsing the body"


def describe_unreadable_body(cause: BaseException | None) -> str:
    """Why json.loads could not read a body that is not plainly malformed."""
    if isinstance(cause, UnicodeDecodeError):
        return "Request body is not valid UTF-8"
    if isinstance(cause, RecursionError):
        return "Request body is nested too deeply"
    if type(cause) is ValueError:  # Python's limit on the digits of an integer
        return "Malformed JSON in request body: a number has too many digits"
    return "Malformed JSON in request body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = describe_validation_error(errors[0]) if errors else "Invalid request"
        return JSONResponse({"error": message}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        if exc.detail == _BODY_PARSE_FAILED:
            message = describe_unreadable_body(exc.__cause__)
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "Internal server error"}, status_code=500)
