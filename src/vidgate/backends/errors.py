"""What a backend raises, and what kind of failure it was.

    BackendError         the job fails; the message is shown to the client as errorMessage,
                         its `kind` says whose the fault is (the API maps kinds to statuses)
    BackendCancelled     the job stopped because cancellation was asked for
    JobLost              the job is no longer this worker's (another attempt took it, or it was
                         cancelled or finished): stop, change nothing
"""

from __future__ import annotations

import enum


class FailureKind(enum.StrEnum):
    """Whose fault a failed job is: what a client should do about it."""

    INPUT = "input"  # the request's input was refused: a source that cannot be used, a provider's 422
    ACCOUNT = "account"  # the provider refused this server (its key, its balance)
    PROVIDER = "provider"  # the provider, or the backend itself, could not make the video
    INTERNAL = "internal"  # an error inside vidgate


class BackendError(Exception):
    """The video could not be made; `str(error)` is safe to show the client."""

    def __init__(self, message: str, *, kind: FailureKind = FailureKind.PROVIDER) -> None:
        super().__init__(message)
        self.kind = kind


class BackendCancelled(Exception):
    """The backend stopped the job because its cancel event was set."""


class JobLost(Exception):
    """`save_state` found the job no longer this worker's; the backend stops at once."""
