"""Outputs in a local folder, served by the API at unguessable links (the embedded default).

A key is `{job_id}/{token}/{name}` and its link `/files/{key}`: the token is 32 random bytes,
so knowing a job id is not enough to fetch its video, and a link can be pasted into a browser
or a <video> tag (which cannot send an Authorization header). Links do not expire.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from vidgate.storage.base import Link

_SAFE_PART = re.compile(r"^[A-Za-z0-9_\-.]{1,100}$")
URL_PREFIX = "/files"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    async def put(self, job_id: str, files: Mapping[str, Path]) -> dict[str, str]:
        token = secrets.token_urlsafe(32)
        folder = self.root / job_id / token
        folder.mkdir(parents=True, exist_ok=True)
        for name, source in files.items():
            try:
                os.replace(source, folder / name)
            except OSError:  # another filesystem
                await asyncio.to_thread(shutil.move, str(source), folder / name)
        return {name: f"{job_id}/{token}/{name}" for name in files}

    def link(self, key: str) -> Link:
        return Link(f"{URL_PREFIX}/{key}")

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
        if len(parts) != 5 or parts[1] != URL_PREFIX.strip("/"):
            return None
        return self.resolve(parts[2], parts[3], parts[4])

    def owns(self, url: str) -> bool:
        return self.path_for_url(url) is not None

    async def local_copy(self, url: str, work_dir: Path) -> Path | None:
        return self.path_for_url(url)

    async def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            job_id, token, name = key.split("/")
            path = self.resolve(job_id, token, name)
            if path is not None:
                path.unlink(missing_ok=True)
                _remove_empty(path.parent, up_to=self.root)

    async def check(self) -> None:
        """Write (and remove) a file where outputs go."""
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".ready-"):
            pass

    async def aclose(self) -> None:
        pass


def _remove_empty(folder: Path, *, up_to: Path) -> None:
    while folder != up_to and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
