"""Downloading source media (`source_image`, `source_video`) to a local file, within limits.

Where a download may connect is decided by `vidgate.outbound`: the client given here refuses
private and local addresses before connecting. Every failure is the client's to fix, and the
message names the host that failed; a host that was refused and one that did not
answer read the same, so the answers cannot be used to scan the server's network.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
from ssrfguard import Policy, SSRFGuardError

from vidgate.config import Settings
from vidgate.outbound import EVERY_ADDRESS, MAX_REDIRECTS, UNREACHABLE, address_policy, guarded_client

ALLOWED_SCHEMES = ("http", "https", "data")
SOURCE_FIELDS = ("source_image", "source_video")
SOURCE_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

log = logging.getLogger(__name__)


class FetchError(Exception):
    """The source could not be fetched or is unacceptable; the message names the field and
    the reason. The client sent the source, so the fault is the request's."""


def source_policy(settings: Settings) -> Policy:
    """Where source URLs may lead on this server."""
    return address_policy(
        EVERY_ADDRESS if settings.allow_private_sources else settings.source_allowed_networks
    )


def source_client(policy: Policy, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The client that downloads sources named by clients. A transport given by a test stands
    in for the internet and needs no guard."""
    if transport is not None:
        return httpx.AsyncClient(timeout=SOURCE_FETCH_TIMEOUT, transport=transport, follow_redirects=False)
    return guarded_client(policy, timeout=SOURCE_FETCH_TIMEOUT)


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


async def fetch_to_file(
    client: httpx.AsyncClient, url: str, dest: Path, *, field: str, max_bytes: int
) -> Path:
    if url.startswith("data:"):
        dest.write_bytes(decode_data_uri(url, field=field, max_bytes=max_bytes))
        return dest
    for _hop in range(MAX_REDIRECTS + 1):
        host = httpx.URL(url).host
        try:
            async with client.stream("GET", url) as response:
                if response.next_request is not None:  # a redirect: fetched as its own hop
                    url = str(response.next_request.url)
                    if response.next_request.url.scheme not in ("http", "https"):
                        raise FetchError(
                            f"{field} could not be fetched: {host} redirected to a URL that is not http(s)"
                        )
                    continue
                if response.status_code != 200:
                    raise FetchError(f"{field} could not be fetched from {host}: HTTP {response.status_code}")
                await _save(response, dest, field=field, max_bytes=max_bytes)
                return dest
        except (SSRFGuardError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.info("%s: no connection to %s: %s", field, host, exc)
            raise FetchError(f"{field} could not be fetched: {UNREACHABLE.format(host=host)}") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"{field} could not be fetched from {host}: it stopped answering") from exc
        except httpx.HTTPError as exc:
            log.info("%s: download from %s failed: %r", field, host, exc)
            raise FetchError(f"{field} could not be fetched from {host}: the download failed") from exc
    raise FetchError(f"{field} could not be fetched: more than {MAX_REDIRECTS} redirects")


async def _save(response: httpx.Response, dest: Path, *, field: str, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{field} is larger than {max_bytes} bytes")
    size = 0
    with dest.open("wb") as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{field} is larger than {max_bytes} bytes")
            out.write(chunk)


def data_uri_media_type(url: str) -> str:
    """The media type a data: URI declares (RFC 2397: text/plain when it names none)."""
    header = url[len("data:") :].partition(",")[0]
    return header.split(";")[0].strip() or "text/plain"


def decode_data_uri(url: str, *, field: str, max_bytes: int) -> bytes:
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
