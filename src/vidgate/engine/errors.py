"""The engine's exceptions: one root, so callers can catch everything the engine raises."""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the local engine raises on purpose."""


class SourceMediaError(EngineError, ValueError):
    """A source image or video is missing, corrupt or cannot be decoded."""


class RenderCancelled(EngineError):
    """The caller's ``should_cancel()`` returned True; the partial output was removed."""
