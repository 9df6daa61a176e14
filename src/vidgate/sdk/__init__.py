"""A Python client for vidgate's API: `vidgate.Client` and `vidgate.AsyncClient`.

    from vidgate import Client

    client = Client()  # VIDGATE_BASE_URL (default http://127.0.0.1:8000) and VIDGATE_API_KEY
    job = client.videos.generate("ocean waves at sunset", model="vidgate/local",
                                 on_progress=lambda job: print(job.status, job.progress))
    client.download(job, "waves.mp4")
"""

from vidgate.sdk.client import AsyncClient, Client
from vidgate.sdk.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientQuotaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    VidgateError,
)
from vidgate.sdk.models import Job, Upload

__all__ = [
    "APIConnectionError", "AsyncClient", "AuthenticationError", "BadRequestError", "Client", "ConflictError",
    "InsufficientQuotaError", "Job", "NotFoundError", "PermissionDeniedError", "RateLimitError", "ServerError",
    "Upload", "VidgateError",
]
