"""What a backend raises.

    BackendError         the job fails; the message is shown to the client as errorMessage
    BackendCancelled     the job stopped because cancellation was asked for
"""


class BackendError(Exception):
    """The video could not be made; `str(error)` is safe to show the client."""


class BackendCancelled(Exception):
    """The backend stopped the job because its cancel event was set."""
