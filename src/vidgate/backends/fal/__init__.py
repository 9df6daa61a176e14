"""fal.ai through its queue HTTP protocol: submit, poll, fetch, cancel."""

from vidgate.backends.fal.backend import FalBackend

__all__ = ["FalBackend"]
