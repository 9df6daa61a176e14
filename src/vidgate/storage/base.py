"""The storage seam: where finished videos are kept, by key.

A job stores the keys of its files, never their links: links are made when the job is read,
so a link that expires (S3's presigned ones) is fresh every time, and the same job reads the
same on every API process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

_MEDIA_TYPES = {
    ".mp4": "video/mp4", ".webm": "video/webm",
    ".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
}


def media_type(path: Path | str) -> str:
    """The Content-Type of a stored file, by its name."""
    return _MEDIA_TYPES.get(Path(path).suffix, "application/octet-stream")


class StorageUnavailable(Exception):
    """The storage cannot be reached right now (a network fault, the server restarting):
    worth waiting out, unlike a refusal."""


class LinkRefused(Exception):
    """One of a storage's links that it no longer honours (expired, or altered)."""


@dataclass(frozen=True)
class Link:
    """Where a client fetches a stored file: an absolute URL, or a path the API serves under
    its own base URL; `expires_at` is None for a link that does not expire."""

    url: str
    expires_at: datetime | None = None


class Storage(Protocol):
    """Put, link, read back and delete a job's files, by key."""

    async def put(self, job_id: str, files: Mapping[str, Path]) -> dict[str, str]:
        """Store a job's files (by name, e.g. "video.mp4"), moving them out of `files`' paths;
        return each name's key."""

    def link(self, key: str) -> Link:
        """A link to the file stored under `key`."""

    def owns(self, url: str) -> bool:
        """Whether `url` is one of this storage's links (judged from its text)."""

    async def local_copy(self, url: str, work_dir: Path) -> Path | None:
        """The file behind one of this storage's links, on local disk (read it, do not change
        it), or None when `url` is not one of its links. Raises LinkRefused for one of its links
        that is no longer valid."""

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove stored files; keys already gone are not an error."""

    async def check(self) -> None:
        """Raise when the storage cannot be reached (readiness)."""

    async def aclose(self) -> None:
        """Release connections."""
