"""Downloading source media (`source_image`, `source_video`) to a local file, within limits.

A source URL comes from the client, so the server must not become its way into the private
network (SSRF). Two guards: a URL naming a private or local address is refused when the job is
submitted, and the download client checks the address every connection really goes to, after
DNS and on every redirect (httpx-secure), so a public name that resolves to a private address is
refused too.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
from httpx_secure import SSRFProtectionError, httpx_ssrf_protection

ALLOWED_SCHEMES = ("http", "https", "data")
SOURCE_FIELDS = ("source_image", "source_video")


class FetchError(Exception):
    """The source could not be fetched; the message names the field and the reason.

    `status` is what a sync request answers with: 400 when the source itself is unacceptable.
    """

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def check_source_url(value: str) -> str | None:
    """Return why `value` cannot be a source URL, or None if it can."""
    parts = urlsplit(value)
    if parts.scheme not in ALLOWED_SCHEMES:
        return "must be an http(s) URL or a data: URI"
    if parts.scheme == "data":
        return None
    try:
        host = httpx.URL(value).host
    except httpx.InvalidURL:
        return "is not a valid URL"
    if not host:
        return "must be an absolute URL with a host"
    return None


def private_host(url: str) -> str | None:
    """The host of `url` when it plainly names a private or local address, else None.

    Only what the URL itself shows: an IP literal or a localhost name. Names that resolve to a
    private address are stopped at connection time by `guarded_client`.
    """
    if url.startswith("data:"):
        return None
    host = httpx.URL(url).host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_global else host


def guarded_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """`client`, made to refuse connections to any address that is not globally reachable."""
    return httpx_ssrf_protection(client)


async def fetch_to_file(
    client: httpx.AsyncClient, url: str, dest: Path, *, field: str, max_bytes: int
) -> Path:
    if url.startswith("data:"):
        dest.write_bytes(decode_data_uri(url, field=field, max_bytes=max_bytes))
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
                        raise FetchError(f"{field} is larger than {max_bytes} bytes", status=400)
                    out.write(chunk)
    except SSRFProtectionError as exc:
        where = exc.hostname if str(exc.ip_addr) == exc.hostname else f"{exc.hostname} resolves to {exc.ip_addr}, which"
        raise FetchError(
            f"{field} must be a public URL: {where} is a private or local address", status=400
        ) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{field} could not be fetched: {exc.__class__.__name__}") from exc
    return dest


def data_uri_media_type(url: str) -> str:
    """The media type a data: URI declares (RFC 2397: text/plain when it names none)."""
    header = url[len("data:") :].partition(",")[0]
    return header.split(";")[0].strip() or "text/plain"


def decode_data_uri(url: str, *, field: str, max_bytes: int) -> bytes:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise FetchError(f"{field} is not a valid data: URI", status=400)
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise FetchError(f"{field} is larger than {max_bytes} bytes", status=400)
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise FetchError(f"{field} is not valid base64", status=400) from exc
    if len(data) > max_bytes:
        raise FetchError(f"{field} is larger than {max_bytes} bytes", status=400)
    return data
