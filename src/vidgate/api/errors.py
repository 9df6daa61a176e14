"""Every error leaves the API in one shape: `{"error": "...", ...extra fields}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from vidgate.api.openai_videos import OPENAI_PREFIX, openai_error
from vidgate.api.schemas import ErrorBody
from vidgate.backends.errors import FailureKind
from vidgate.db.engine import unreachable
from vidgate.errors import ApiError, BadRequest, ServiceUnavailable, UpstreamFailed

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 5

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



# The error a sync request answers with for a job that failed, by whose fault it was.
_FAILED_JOB_ERRORS: dict[str, type[ApiError]] = {
    FailureKind.INPUT: BadRequest,
    FailureKind.ACCOUNT: ServiceUnavailable,
}


def failed_job_error(kind: str | None) -> type[ApiError]:
    """400 for the request's own fault, 503 when the provider refused this server's account,
    else 502."""
    return _FAILED_JOB_ERRORS.get(kind or "", UpstreamFailed)


def error_responses(*statuses: int, model: type[BaseModel] = ErrorBody) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the statuses a route can answer with (`model`: the
    error body's shape, OpenAI's under /v1)."""
    return {status: {"model": model, "description": _DESCRIPTIONS[status]} for status in statuses}


def error_response(status: int) -> dict[str, Any]:
    """One `responses` entry as it appears in the OpenAPI document."""
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def document_validation_errors_as_400(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 `HTTPValidationError` on every operation with parameters, but
    this API answers a failed validation with a 400 in its error shape (see _validation below).
    Drop those 422s (a 422 declared by a route stays) and declare the 400 where validation can
    fail."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation["responses"]
            if _is_fastapi_validation_error(responses.get("422")):
                del responses["422"]
                if _can_fail_validation(operation):
                    responses.setdefault("400", error_response(400))
                operation["responses"] = dict(sorted(responses.items()))
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _is_fastapi_validation_error(response: dict[str, Any] | None) -> bool:
    content = (response or {}).get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref") == "#/components/schemas/HTTPValidationError"


def _can_fail_validation(operation: dict[str, Any]) -> bool:
    """A body, a query or header parameter, or a path parameter that is more than a string."""
    if "requestBody" in operation:
        return True
    return any(
        parameter["in"] != "path" or parameter.get("schema", {}).get("type") != "string"
        for parameter in operation.get("parameters", [])
    )


_DESCRIPTIONS = {
    400: "Invalid parameters or malformed JSON",
    401: "Missing, unknown or revoked API key",
    402: "Not enough credits or video seconds",
    403: "The API key lacks the required scope",
    404: "Not found (or not yours)",
    409: "The job's state forbids the action",
    413: "The file or body is larger than this server takes",
    416: "The Range asks for bytes past the end of the file",
    422: "The Idempotency-Key was first used with a different request",
    429: "The key's rate limit is reached, or it has too many active jobs",
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


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """Every method the documented path `path` takes (None for an undocumented one).
    Starlette's 405 names only the methods of the first route on the path, and a resource may
    have one route per method (GET and DELETE)."""
    methods = {
        method.upper()
        for template, operations in app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
        for method in operations
    }
    return ", ".join(sorted(methods)) or None


def error_answer(
    request: Request, body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in the API's shape, or in OpenAI's under /v1 (its videos API)."""
    if request.url.path.startswith(OPENAI_PREFIX + "/"):
        body = openai_error(status, body)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_answer(request, exc.body(), exc.status, exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = describe_validation_error(errors[0]) if errors else "Invalid request"
        return error_answer(request, {"error": message}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        if exc.detail == _BODY_PARSE_FAILED:
            message = describe_unreadable_body(exc.__cause__)
        headers = exc.headers
        if exc.status_code == 405 and (allow := allowed_methods(app, request.url.path)):
            headers = {**(headers or {}), "Allow": allow}
        return error_answer(request, {"error": message}, exc.status_code, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if unreachable(exc):
            log.warning("the database is unreachable (%s %s): %s", request.method, request.url.path, exc)
            return error_answer(
                request, {"error": "The database is unreachable; try again shortly"}, 503,
                {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_answer(request, {"error": "Internal server error"}, 500)
