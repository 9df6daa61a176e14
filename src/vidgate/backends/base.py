"""The contract between the executor and a backend."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class JobContext:
    """Everything a backend may use to run one job."""

    job_id: str
    model: str
    params: dict[str, Any]  # the validated request (snake_case, defaults filled, seed resolved)
    work_dir: Path  # private scratch folder, removed after the job
    http: httpx.AsyncClient
    report_progress: Callable[[float], None]  # fraction 0..1; cheap, call as often as you like
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
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
