"""Downloading source media (`source_image`, `source_video`) to a local file, within limits."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

ALLOWED_SCHEMES = ("http", "https", "data")


class FetchError(Exception):
    """The source could not be fetched; the message names the field and the reason."""


def check_source_url(value: str) -> str | None:
    """Return why `value` cannot be a source URL, or None if it can."""
    parts = urlsplit(value)
    if parts.scheme not in ALLOWED_SCHEMES:
        return "must be an http(s) URL or a data: URI"
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "must be an absolute URL with a host"
    return None


async def fetch_to_file(
    client: httpx.AsyncClient, url: str, dest: Path, *, field: str, max_bytes: int
) -> Path:
    if url.startswith("data:"):
        dest.write_bytes(_decode_data_uri(url, field=field, max_bytes=max_bytes))
        return dest
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise FetchError(f"{field} could not be fetched: HTTP {response.status_code}")
            size = 0
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{field} is larger than {max_bytes} bytes")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(f"{field} could not be fetched: {exc.__class__.__name__}") from exc
    return dest


def _decode_data_uri(url: str, *, field: str, max_bytes: int) -> bytes:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise FetchError(f"{field} is not a valid data: URI")
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise FetchError(f"{field} is larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise FetchError(f"{field} is not valid base64") from exc
    if len(data) > max_bytes:
        raise FetchError(f"{field} is larger than {max_bytes} bytes")
    return data
