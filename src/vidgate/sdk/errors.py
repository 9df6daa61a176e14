"""The API's errors as exceptions, one class per status, carrying what the error body says."""

from __future__ import annotations

from typing import Any


class VidgateError(Exception):
    """Anything the client could not do; `status` is None when no answer came."""

    status: int | None = None
    retry_after_header: str | None = None  # the answer's Retry-After, when it had one

    def __init__(self, message: str, *, body: dict[str, Any] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.body = body or {}
        if status is not None:
            self.status = status


class APIConnectionError(VidgateError):
    """The server could not be reached, or stopped answering."""


class BadRequestError(VidgateError):
    status = 400


class AuthenticationError(VidgateError):
    status = 401


class InsufficientQuotaError(VidgateError):
    """402: not enough credits or video seconds; the body says what is left."""

    status = 402

    @property
    def credits_remaining(self) -> int | None:
        return self.body.get("credits_remaining")

    @property
    def seconds_remaining(self) -> int | None:
        return self.body.get("seconds_remaining")


class PermissionDeniedError(VidgateError):
    status = 403


class NotFoundError(VidgateError):
    status = 404


class ConflictError(VidgateError):
    status = 409


class RateLimitError(VidgateError):
    """429: the key's rate limit, or its active jobs; `retry_after` in seconds."""

    status = 429

    @property
    def retry_after(self) -> float | None:
        value = self.body.get("retry_after", self.body.get("retryAfter"))
        return float(value) if isinstance(value, int | float) else None


class ServerError(VidgateError):
    """5xx."""


_BY_STATUS: dict[int, type[VidgateError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: InsufficientQuotaError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 429: RateLimitError,
}


def error_for(status: int, body: dict[str, Any]) -> VidgateError:
    """The exception for an error answer of the API (`{"error": "...", ...}`)."""
    message = body.get("error") if isinstance(body.get("error"), str) else f"HTTP {status}"
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else VidgateError)
    return kind(str(message), body=body, status=status)
