"""fal's queue protocol over httpx: submit, status, result, cancel, download.

Errors:

    FalError            the request failed; `str()` is safe to show the client
    ├── FalRejected     fal refused the input (422: validation or content policy)
    ├── FalAccount      fal refused our key or account (401, 403: locked, out of credit)
    └── FalLost         the submit may or may not have reached fal; it is not retried

Status, result and cancel calls are retried with backoff on network errors, 429 and 5xx.
A submit is retried only when the request never left (connect errors): retrying after a
response may have been lost could start, and pay for, a second generation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

DEFAULT_REST_URL = "https://rest.fal.ai"
RETRY_ATTEMPTS = 8
SUBMIT_CONNECT_ATTEMPTS = 3


class FalError(Exception):
    """A fal request failed."""


class FalRejected(FalError):
    """fal refused the input."""


class FalAccount(FalError):
    """fal refused the key or the account."""


class FalLost(FalError):
    """The submit's outcome is unknown."""


class _Transient(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


@dataclass(frozen=True)
class Handle:
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str

    def as_state(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Handle:
        return cls(**{name: str(state[name]) for name in cls.__dataclass_fields__})


class FalQueue:
    def __init__(
        self, http: httpx.AsyncClient, *, key: str, base_url: str, rest_url: str = DEFAULT_REST_URL
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.headers = {"Authorization": f"Key {key}"}

    async def upload(self, data: bytes, *, content_type: str, file_name: str) -> str:
        """Put a file on fal's CDN (token, then the raw bytes); return its public URL."""
        token = (
            await self._call(
                "POST", f"{self.rest_url}/storage/auth/token",
                params={"storage_type": "fal-cdn-v3"}, json={},
            )
        ).json()
        response = await self._call(
            "POST",
            f"{str(token['base_url']).rstrip('/')}/files/upload",
            content=data,
            headers={
                "Authorization": f"{token['token_type']} {token['token']}",
                "Content-Type": content_type,
                "X-Fal-File-Name": file_name,
            },
        )
        return str(response.json()["access_url"])

    async def submit(
        self, model_id: str, body: dict[str, Any], *, webhook_url: str | None = None
    ) -> Handle:
        url = f"{self.base_url}/{model_id}"
        params = {"fal_webhook": webhook_url} if webhook_url else None
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, httpx.ConnectError)),
            stop=stop_after_attempt(SUBMIT_CONNECT_ATTEMPTS),
            wait=wait_exponential_jitter(initial=0.5, max=4),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self.http.post(url, json=body, headers=self.headers, params=params)
        except httpx.ConnectError as exc:
            raise FalError("fal.ai could not be reached") from exc
        except httpx.HTTPError as exc:
            raise FalLost(
                "fal.ai did not confirm the submission; it was not sent again, so that it "
                "cannot be paid for twice"
            ) from exc
        _raise_for_status(response)
        data = response.json()
        return Handle(
            request_id=data["request_id"],
            status_url=data["status_url"],
            response_url=data["response_url"],
            cancel_url=data["cancel_url"],
        )

    async def status(self, handle: Handle) -> dict[str, Any]:
        response = await self._call("GET", handle.status_url, params={"logs": "1"})
        return dict(response.json())

    async def result(self, handle: Handle) -> dict[str, Any]:
        response = await self._call("GET", handle.response_url)
        return dict(response.json())

    async def cancel(self, handle: Handle) -> None:
        try:
            await self._call("PUT", handle.cancel_url)
        except FalError as exc:  # already finished or gone: nothing left to stop
            log.info("fal cancel of %s: %s", handle.request_id, exc)

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> None:
        """Copy a result file (fal's URLs expire) into our own storage's scratch space."""
        try:
            async for attempt in self._retrying():
                with attempt:
                    await self._download_once(url, dest, max_bytes)
        except (_Transient, httpx.TransportError) as exc:
            raise FalError("the video fal.ai made could not be fetched") from exc

    async def _download_once(self, url: str, dest: Path, max_bytes: int) -> None:
        size = 0
        async with self.http.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise _Transient(response)
            if response.status_code != 200:
                raise FalError(
                    f"the video fal.ai made could not be fetched (HTTP {response.status_code})"
                )
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FalError("the video fal.ai made is larger than allowed")
                    out.write(chunk)

    async def _call(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            async for attempt in self._retrying():
                with attempt:
                    response = await self.http.request(
                        method, url, headers=headers or self.headers, **kwargs
                    )
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Transient(response)
        except _Transient as exc:
            _raise_for_status(exc.response)
        except httpx.TransportError as exc:
            raise FalError("fal.ai could not be reached") from exc
        _raise_for_status(response)
        return response

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(
                lambda exc: isinstance(exc, _Transient | httpx.TransportError)
            ),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=wait_exponential_jitter(initial=0.2, max=8),
            reraise=True,
        )


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail = _detail(response)
    if response.status_code in (401, 403):
        log.error("fal.ai refused vidgate's key or account (HTTP %s): %s", response.status_code, detail)
        raise FalAccount(
            "fal.ai refused this server's account (the operator must check its FAL_KEY and "
            "fal balance)"
        )
    if response.status_code == 422:
        if "content_policy_violation" in _types(response):
            raise FalRejected(f"fal.ai refused the request under its content policy: {detail}")
        raise FalRejected(f"fal.ai rejected the input: {detail}")
    raise FalError(f"fal.ai answered HTTP {response.status_code}: {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:300]
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg', '')}".lstrip(": ")
            for item in detail
            if isinstance(item, dict)
        )
    return str(detail)


def _types(response: httpx.Response) -> set[str]:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return set()
    if isinstance(detail, list):
        return {str(item.get("type")) for item in detail if isinstance(item, dict)}
    return set()
