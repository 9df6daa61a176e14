"""Errors the API reports to clients, one class per status.

    ApiError                      {"error": message, **extra}
    ├── BadRequest           400  invalid parameters or malformed JSON
    ├── Unauthorized         401  missing, unknown or revoked API key
    ├── PaymentRequired      402  credits or video seconds fall short
    ├── Forbidden            403  the key lacks the scope
    ├── NotFound             404  unknown job, model or file (or another key's job)
    ├── Conflict             409  the job is in a state that forbids the action
    ├── RangeNotSatisfiable  416  a file's Range starts past its end
    ├── UnprocessableContent 422  an Idempotency-Key reused with a different request
    ├── TooManyRequests      429  too many active jobs for the key
    ├── UpstreamFailed       502  the backend could not make the video
    ├── ServiceUnavailable   503  the model's backend is not configured; the server is stopping
    └── GatewayTimeout       504  a sync request waited longer than allowed

Domain code raises these; `api/errors.py` renders them in one place.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class PaymentRequired(ApiError):
    status = 402


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class RangeNotSatisfiable(ApiError):
    status = 416

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


class UnprocessableContent(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra.get("retryAfter", 1))}


class UpstreamFailed(ApiError):
    status = 502


class ServiceUnavailable(ApiError):
    status = 503


class GatewayTimeout(ApiError):
    status = 504
