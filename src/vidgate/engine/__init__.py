"""The local renderer: RenderRequest -> frames -> MP4. Knows nothing of HTTP or databases.

Everything is procedural (numpy, Pillow, PyAV/libx264); no model weights are loaded.
"""

from vidgate.engine.errors import EngineError, RenderCancelled, SourceMediaError
from vidgate.engine.optimizer import optimize_prompt
from vidgate.engine.render import render
from vidgate.engine.request import RenderRequest, RenderResult

__all__ = [
    "EngineError",
    "RenderCancelled",
    "RenderRequest",
    "RenderResult",
    "SourceMediaError",
    "optimize_prompt",
    "render",
]
