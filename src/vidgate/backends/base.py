"""The contract between the executor and a backend."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx


@dataclass(frozen=True)
class VideoRequest:
    """A generation request as the API accepted it: defaults filled in, the model resolved,
    the seed drawn. It travels from the API to a backend, stored with the job as JSON
    (`as_params`, which is also what a job shows as its `inputParams`)."""

    prompt: str
    model: str
    mode: str = "text_to_video"
    duration_seconds: float = 5.0
    resolution: str = "720p"
    fps: int = 30
    aspect_ratio: str = "16:9"
    seed: int = 0
    prompt_optimizer: bool = True
    loop: bool = False
    negative_prompt: str | None = None
    source_image: str | None = None
    source_video: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> VideoRequest:
        """The request stored as `params` (fields it does not know are left out)."""
        return cls(**{name: params[name] for name in _REQUEST_FIELDS if name in params})

    def as_params(self) -> dict[str, Any]:
        # every field holds a str, number, bool or None: nothing to copy deeper (asdict would)
        return {name: getattr(self, name) for name in _REQUEST_FIELDS}

    @property
    def source_field(self) -> str | None:
        """The field that holds the mode's source media, if the mode has one."""
        return SOURCE_FIELD_BY_MODE.get(self.mode)


_REQUEST_FIELDS = tuple(f.name for f in fields(VideoRequest))
SOURCE_FIELD_BY_MODE = {"image_to_video": "source_image", "video_to_video": "source_video"}


@dataclass
class JobContext:
    """Everything a backend may use to run one job."""

    job_id: str
    request: VideoRequest
    work_dir: Path  # private scratch folder, removed after the job
    http: httpx.AsyncClient
    report_progress: Callable[[float], None]  # fraction 0..1; cheap, call as often as you like
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when news for the job arrives from outside (a provider's webhook, on any API
    # process): a backend waiting on its provider checks at once. It may clear it.
    poked: asyncio.Event = field(default_factory=asyncio.Event)
    # A remote backend stores what it needs to resume after a restart here (e.g. a request id);
    # `save_state` persists it before the backend goes on, or raises JobLost.
    state: dict[str, Any] | None = None
    save_state: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True)
class BackendResult:
    video_path: Path
    width: int
    height: int
    fps: float
    duration_seconds: float
    poster_path: Path | None = None  # a JPEG still of the video, when the backend makes one
    optimized_prompt: str | None = None  # the prompt as the backend expanded it, if it did


class Backend(ABC):
    """Runs one job to a video file.

    `run` returns the finished file, raises BackendError (the job fails with that message)
    or BackendCancelled once `ctx.cancelled` is set. It must not touch the database.
    """

    name: str

    @abstractmethod
    async def run(self, ctx: JobContext) -> BackendResult: ...

    async def abandon(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """A job that held this provider state ended without running again (cancelled while
        pending, failed after its worker died): stop what the provider still runs for it.
        Best effort; never raises."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (connections, processes)."""
