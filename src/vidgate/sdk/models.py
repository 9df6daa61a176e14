"""What the client returns: jobs and uploads as typed objects (the API's object in `raw`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # pending, processing, completed, failed, cancelled
    progress: int
    model: str
    queue_position: int | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Job:
        """From a job object (GET /jobs/{id}) or the answer of an async submission."""
        video = ((raw.get("outputData") or {}).get("video")) or {}
        return cls(
            id=raw["id"], status=raw["status"], progress=raw.get("progress", 0), model=raw.get("model", ""),
            queue_position=raw.get("queuePosition"), video_url=video.get("url"),
            thumbnail_url=video.get("thumbnail_url"), width=video.get("width"), height=video.get("height"),
            duration_seconds=video.get("duration_seconds"), error=raw.get("errorMessage"), raw=raw,
        )


@dataclass(frozen=True)
class Upload:
    id: str
    url: str  # give it as source_image or source_video
    use_as: str
    kind: str
    width: int
    height: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Upload:
        return cls(id=raw["id"], url=raw["url"], use_as=raw["use_as"], kind=raw["kind"], width=raw["width"],
                   height=raw["height"], raw=raw)
