"""The engine's exceptions, one tree with one root:

EngineError
├── SourceMediaError (also a ValueError): a source image/video is missing or undecodable
└── RenderCancelled: ``should_cancel()`` said stop; the partial output was removed
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the local engine raises on purpose."""


class SourceMediaError(EngineError, ValueError):
    """A source image or video is missing, corrupt or cannot be decoded."""


class RenderCancelled(EngineError):
    """The caller's ``should_cancel()`` returned True; the partial output was removed."""
