"""What a backend raises.

    BackendError         the job fails; the message is shown to the client as errorMessage
    BackendCancelled     the job stopped because cancellation was asked for
    JobLost              the job is no longer this worker's (its lease ran out and another
                         worker took it, or it was cancelled or finished): stop, change nothing
"""


class BackendError(Exception):
    """The video could not be made; `str(error)` is safe to show the client.

    `status` is what a sync request answers with: 400 when the provider refused the input,
    503 when it refused this server (key, account), 502 for anything else.
    """

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class BackendCancelled(Exception):
    """The backend stopped the job because its cancel event was set."""


class JobLost(Exception):
    """`save_state` found the job no longer this worker's; the backend stops at once."""
