"""Outputs in an S3-compatible bucket (scale-out): workers on any machine put them there, and
a job's links are presigned GET URLs, made when the job is read, that play and seek (S3
answers Range requests) until they expire.

boto3 is the client: presigning is a local computation, and transfers run in threads, with
boto3's managed multipart uploads for large files and its standard retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError

from vidgate.db.base import utcnow
from vidgate.storage.base import Link, LinkRefused, StorageUnavailable, media_type

DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class S3Storage:
    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        public_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        link_seconds: int = 86_400,
    ) -> None:
        """`endpoint_url` is where this server reaches the bucket; `public_url` where clients
        do (default: the same), which the links name."""
        self.bucket = bucket
        self.prefix = prefix
        self.link_seconds = link_seconds
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                        retries={"max_attempts": 5, "mode": "standard"})
        credentials: dict[str, Any] = {
            "region_name": region, "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key, "config": config,
        }
        self.client = boto3.client("s3", endpoint_url=endpoint_url, **credentials)
        self.signer = (
            boto3.client("s3", endpoint_url=public_url, **credentials) if public_url else self.client
        )
        self._links_at = self.signer.meta.endpoint_url.rstrip("/") + f"/{bucket}/"

    async def put(self, job_id: str, files: Mapping[str, Path]) -> dict[str, str]:
        """Upload every file, then remove the local ones: a put interrupted by an outage can
        be made again whole."""
        keys = {name: f"{self.prefix}{job_id}/{name}" for name in files}
        try:
            for name, path in files.items():
                await asyncio.to_thread(
                    self.client.upload_file, str(path), self.bucket, keys[name],
                    ExtraArgs={"ContentType": media_type(name)},
                )
        except (BotoConnectionError, S3UploadFailedError) as exc:
            raise StorageUnavailable(f"the bucket could not be reached: {exc}") from exc
        for path in files.values():
            path.unlink(missing_ok=True)
        return keys

    def link(self, key: str) -> Link:
        url = self.signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.link_seconds
        )
        return Link(url, utcnow() + timedelta(seconds=self.link_seconds))

    def owns(self, url: str) -> bool:
        return url.startswith(self._links_at) and "X-Amz-Signature=" in (urlsplit(url).query or "")

    async def local_copy(self, url: str, work_dir: Path) -> Path | None:
        """One of this storage's links, downloaded: the bucket itself checks its signature
        and expiry, so a link is worth exactly what it is worth to anyone else."""
        if not self.owns(url):
            return None
        dest = work_dir / Path(urlsplit(url).path).name
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as http, http.stream("GET", url) as response:
            if response.status_code != 200:
                raise LinkRefused(f"the link was refused (HTTP {response.status_code}): expired or altered")
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        return dest

    async def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            await asyncio.to_thread(
                self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )

    async def check(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    async def aclose(self) -> None:
        self.client.close()
        if self.signer is not self.client:
            self.signer.close()
