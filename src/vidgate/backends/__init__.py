"""Backends turn a job into a video file: the local engine, fal.ai, ..."""

from vidgate.backends.base import Backend, BackendResult, JobContext
from vidgate.backends.errors import BackendCancelled, BackendError

__all__ = ["Backend", "BackendCancelled", "BackendError", "BackendResult", "JobContext"]
