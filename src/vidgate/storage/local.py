"""Outputs in a local folder, served by the API at unguessable links.

A link is `/files/{job_id}/{token}/{name}`: the token is 32 random bytes, so knowing a job id is
not enough to fetch its video, and a link can be pasted into a browser or a <video> tag
(which cannot send an Authorization header).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlsplit

_SAFE_PART = re.compile(r"^[A-Za-z0-9_\-.]{1,100}$")
_MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}


def media_type(path: Path) -> str:
    """The Content-Type of a stored file."""
    return _MEDIA_TYPES.get(path.suffix, "application/octet-stream")


class LocalStorage:
    url_prefix = "/files"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, job_id: str, files: dict[str, Path]) -> dict[str, str]:
        """Move a job's files (by name) into storage under one new link token; return the
        URL path that serves each."""
        token = secrets.token_urlsafe(32)
        folder = self.root / job_id / token
        folder.mkdir(parents=True, exist_ok=True)
        for name, source in files.items():
            try:
                os.replace(source, folder / name)
            except OSError:  # another filesystem
                shutil.move(str(source), folder / name)
        return {name: f"{self.url_prefix}/{job_id}/{token}/{name}" for name in files}

    def resolve(self, job_id: str, token: str, name: str) -> Path | None:
        """The file behind a link, or None (including for any path trickery)."""
        if not all(_SAFE_PART.match(part) and part not in (".", "..") for part in (job_id, token, name)):
            return None
        path = self.root / job_id / token / name
        return path if path.is_file() else None

    def path_for_url(self, url: object) -> Path | None:
        """The stored file an output URL (absolute or not) points at, or None when `url` is
        not one of this storage's links. The unguessable token makes a match certain."""
        if not isinstance(url, str) or url.startswith("data:"):
            return None
        parts = urlsplit(url).path.split("/")
        if len(parts) != 5 or parts[1] != self.url_prefix.strip("/"):
            return None
        return self.resolve(parts[2], parts[3], parts[4])
