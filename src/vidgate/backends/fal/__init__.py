"""fal.ai through its queue HTTP protocol: submit, poll, fetch, cancel."""

from vidgate.backends.fal.backend import FalBackend
from vidgate.backends.fal.config import FalSettings
from vidgate.backends.fal.plugin import plugin

__all__ = ["FalBackend", "FalSettings", "plugin"]
