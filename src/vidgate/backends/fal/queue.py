"""fal's queue protocol over httpx: submit, status, result, cancel, download, CDN upload.

Errors:

    FalError            the request failed; `str()` is safe to show the client
    ├── FalRejected     fal refused the input (422: validation or content policy)
    ├── FalAccount      fal refused our key or account (401, 403: locked, out of credit)
    ├── FalUnavailable  fal kept failing (5xx, 429, network) for as long as we were patient
    └── FalLost         the submit may or may not have reached fal; it is not retried

Status, result and download calls for a job go on through 5xx, 429 and network errors with
capped backoff for as long as their `Patience` lasts (the job's deadline, fal's retention of a
result): a paid result is never lost to a passing outage. Other calls retry a few times.

A submit is retried only when fal cannot have received it: connect errors and timeouts, 429,
and 502/503/504 from fal's ingress (no x-fal-request-id, nginx's own page). Retrying after a
response may have been lost could start, and pay for, a second generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

DEFAULT_REST_URL = "https://rest.fal.ai"
RETRY_ATTEMPTS = 8  # calls without a deadline of their own: upload, cancel
RETRY_FIRST_WAIT_SECONDS = 0.2
RETRY_MAX_WAIT_SECONDS = 30.0
SUBMIT_ATTEMPTS = 5
SUBMIT_FIRST_WAIT_SECONDS = 0.5
SUBMIT_MAX_WAIT_SECONDS = 8.0
# A CDN upload token is renewed this long before fal says it expires.
TOKEN_RENEW_SECONDS = 60.0
_NAMESPACES = ("workflows", "comfy")
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class FalError(Exception):
    """A fal request failed."""


class FalRejected(FalError):
    """fal refused the input."""


class FalAccount(FalError):
    """fal refused the key or the account."""


class FalUnavailable(FalError):
    """fal could not be reached, or kept answering 5xx or 429."""


class FalLost(FalError):
    """The submit's outcome is unknown."""


class _Transient(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class Patience:
    """How long a job's calls go on through transient failures: until `deadline` (monotonic
    seconds), or until `stop` is set (the job was cancelled)."""

    def __init__(self, deadline: float, stop: asyncio.Event | None = None) -> None:
        self.deadline = deadline
        self.stop = stop

    @classmethod
    def for_seconds(cls, seconds: float, stop: asyncio.Event | None = None) -> Patience:
        return cls(time.monotonic() + seconds, stop)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def over(self) -> bool:
        return self.remaining() <= 0 or (self.stop is not None and self.stop.is_set())

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early at the deadline or when `stop` is set."""
        seconds = min(seconds, self.remaining())
        if self.stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stop.wait()


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


@dataclass(frozen=True)
class _CdnToken:
    authorization: str
    base_url: str
    expires: float  # unix seconds


# Calls to fal one process makes at once; more wait their turn here. httpx's pool does work
# for every waiting request and every connection each time it hands one out, so a thousand jobs
# polling through it at once would keep a core busy with that alone.
CONNECTIONS = 32


class FalQueue:
    def __init__(
        self, http: httpx.AsyncClient, *, key: str, base_url: str, rest_url: str = DEFAULT_REST_URL
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.headers = {"Authorization": f"Key {key}"}
        self._token: _CdnToken | None = None
        self._token_lock = asyncio.Lock()
        self._calls = asyncio.Semaphore(CONNECTIONS)

    async def upload(self, data: bytes, *, content_type: str, file_name: str) -> str:
        """Put a file on fal's CDN; return its public URL."""
        token = await self._cdn_token()
        response = await self._call(
            "POST",
            f"{token.base_url}/files/upload",
            content=data,
            headers={
                "Authorization": token.authorization,
                "Content-Type": content_type,
                "X-Fal-File-Name": file_name,
            },
        )
        try:
            return str(_json(response)["access_url"])
        except KeyError as exc:
            raise FalError("fal.ai's CDN did not say where the upload went") from exc

    async def _cdn_token(self) -> _CdnToken:
        """The CDN upload token, fetched again only when it is about to expire."""
        async with self._token_lock:
            if self._token is None or time.time() >= self._token.expires - TOKEN_RENEW_SECONDS:
                response = await self._call(
                    "POST", f"{self.rest_url}/storage/auth/token",
                    params={"storage_type": "fal-cdn-v3"}, json={},
                )
                self._token = _parse_token(_json(response))
            return self._token

    async def submit(
        self, model_id: str, body: dict[str, Any], *, webhook_url: str | None = None
    ) -> Handle:
        url = f"{self.base_url}/{model_id}"
        params = {"fal_webhook": webhook_url} if webhook_url else None
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, (_Transient, *_NEVER_SENT))),
            stop=stop_after_attempt(SUBMIT_ATTEMPTS),
            wait=wait_exponential_jitter(initial=SUBMIT_FIRST_WAIT_SECONDS, max=SUBMIT_MAX_WAIT_SECONDS),
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self.http.post(url, json=body, headers=self.headers, params=params)
                    if _never_reached_fal(response):
                        raise _Transient(response)
        except _Transient as exc:
            raise _error(exc.response) from exc
        except _NEVER_SENT as exc:
            raise FalUnavailable("fal.ai could not be reached") from exc
        except httpx.HTTPError as exc:
            raise FalLost(_LOST) from exc
        if response.status_code >= 400:
            raise _error(response)
        return self._handle(model_id, response)

    def _handle(self, model_id: str, response: httpx.Response) -> Handle:
        """The request's URLs from the submit answer; any it lacks are built from the model's
        owner and app, as fal-client's get_handle does."""
        try:
            data = response.json()
            request_id = str(data["request_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise FalLost(_LOST) from exc
        base = f"{self.base_url}/{_owner_and_app(model_id)}/requests/{request_id}"
        return Handle(
            request_id=request_id,
            status_url=str(data.get("status_url") or f"{base}/status"),
            response_url=str(data.get("response_url") or base),
            cancel_url=str(data.get("cancel_url") or f"{base}/cancel"),
        )

    async def status(self, handle: Handle, patience: Patience) -> dict[str, Any]:
        response = await self._call("GET", handle.status_url, patience=patience, params={"logs": "1"})
        return _json(response)

    async def result(self, handle: Handle, patience: Patience) -> dict[str, Any]:
        return _json(await self._call("GET", handle.response_url, patience=patience))

    async def failure(self, handle: Handle, status: dict[str, Any]) -> FalError:
        """Why a request that fal reports as finished with an error failed: the error its
        result URL returns (fal's 422 message, a content-policy refusal, the model's own
        error); the status's error text only when the result says nothing."""
        try:
            response = await self._request("GET", handle.response_url, retry_statuses=False)
        except FalError:
            return _status_failure(status)
        if response.status_code < 400:
            return _status_failure(status)
        error = _error(response)
        if isinstance(error, FalAccount | FalRejected):
            return error
        return FalError(f"fal.ai could not make the video: {_detail(response)}")

    async def cancel(self, handle: Handle) -> bool:
        """Ask fal to stop the request; False when it could not be asked (logged)."""
        try:
            await self._call("PUT", handle.cancel_url)
        except FalError as exc:  # already finished or gone: nothing left to stop
            log.info("fal cancel of %s: %s", handle.request_id, exc)
            return False
        return True

    async def download(self, url: str, dest: Path, *, max_bytes: int, patience: Patience) -> None:
        """Copy a result file (fal's URLs expire) into our own storage's scratch space."""
        try:
            async for attempt in self._retrying(patience):
                with attempt:
                    await self._download_once(url, dest, max_bytes)
        except (_Transient, httpx.TransportError) as exc:
            raise FalUnavailable("the video fal.ai made could not be fetched") from exc

    async def _download_once(self, url: str, dest: Path, max_bytes: int) -> None:
        size = 0
        async with self.http.stream("GET", url, follow_redirects=True) as response:
            if _transient(response):
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
        self, method: str, url: str, *, patience: Patience | None = None, **kwargs: Any
    ) -> httpx.Response:
        """`_request`, and an error answer raised as its FalError."""
        response = await self._request(method, url, patience=patience, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def _request(
        self, method: str, url: str, *, patience: Patience | None = None, retry_statuses: bool = True,
        headers: dict[str, str] | None = None, **kwargs: Any,
    ) -> httpx.Response:
        """One call, retried through network errors (and 5xx and 429 with `retry_statuses`)."""
        try:
            async for attempt in self._retrying(patience):
                with attempt:
                    async with self._calls:
                        response = await self.http.request(
                            method, url, headers=headers or self.headers, **kwargs
                        )
                    if retry_statuses and _transient(response):
                        raise _Transient(response)
        except _Transient as exc:
            raise _error(exc.response) from exc
        except httpx.TransportError as exc:
            raise FalUnavailable("fal.ai could not be reached") from exc
        return response

    def _retrying(self, patience: Patience | None) -> AsyncRetrying:
        if patience is None:
            stop: Any = stop_after_attempt(RETRY_ATTEMPTS)
            sleep: Any = asyncio.sleep
        else:
            stop, sleep = (lambda _state: patience.over()), patience.sleep
        return AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Transient | httpx.TransportError)),
            stop=stop,
            sleep=sleep,
            wait=wait_exponential_jitter(initial=RETRY_FIRST_WAIT_SECONDS, max=RETRY_MAX_WAIT_SECONDS),
            before_sleep=_log_retry,
            reraise=True,
        )


_LOST = (
    "fal.ai did not confirm the submission; it was not sent again, so that it cannot be paid "
    "for twice"
)


def _owner_and_app(model_id: str) -> str:
    """The part of a model id that status, result and cancel URLs use (reference 1.2)."""
    parts = model_id.split("/")
    return "/".join(parts[:3] if parts[0] in _NAMESPACES else parts[:2])


def _transient(response: httpx.Response) -> bool:
    return response.status_code >= 500 or response.status_code == 429


def _never_reached_fal(response: httpx.Response) -> bool:
    """429, or a 502/503/504 from fal's ingress (nginx's page, no fal request id): the
    submit was turned away before fal took it, so sending it again cannot pay twice."""
    if response.status_code == 429:
        return True
    return (
        response.status_code in (502, 503, 504)
        and "x-fal-request-id" not in response.headers
        and "nginx" in response.text.lower()
    )


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.warning("fal.ai call failed (%s); retrying in %.1f s", outcome, wait)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise FalError(f"fal.ai answered HTTP {response.status_code} with something that is not JSON") from exc
    if not isinstance(data, dict):
        raise FalError(f"fal.ai answered HTTP {response.status_code} with unexpected JSON")
    return data


def _parse_token(data: dict[str, Any]) -> _CdnToken:
    try:
        return _CdnToken(
            authorization=f"{data['token_type']} {data['token']}",
            base_url=str(data["base_url"]).rstrip("/"),
            expires=_unix_time(data.get("expires_at")),
        )
    except KeyError as exc:
        raise FalError("fal.ai's CDN did not hand out an upload token") from exc


def _unix_time(value: object) -> float:
    """`expires_at` as unix seconds; a value that cannot be read counts as expired (the
    token is used once and not kept)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return 0.0


def _error(response: httpx.Response) -> FalError:
    detail = _detail(response)
    status = response.status_code
    if status in (401, 403):
        log.error("fal.ai refused vidgate's key or account (HTTP %s): %s", status, detail)
        return FalAccount(
            "fal.ai refused this server's account (the operator must check its FAL_KEY and "
            "fal balance)"
        )
    if status == 422:
        if "content_policy_violation" in _types(response):
            return FalRejected(f"fal.ai refused the request under its content policy: {detail}")
        return FalRejected(f"fal.ai rejected the input: {detail}")
    if status == 429:
        return FalUnavailable(f"fal.ai is too busy to take the request (HTTP 429): {detail}")
    if status >= 500:
        return FalUnavailable(f"fal.ai answered HTTP {status}: {detail}")
    return FalError(f"fal.ai answered HTTP {status}: {detail}")


def _status_failure(status: dict[str, Any]) -> FalError:
    """The failure a finished request's status reports, for when its result says nothing."""
    error = status.get("error") or f"the request ended as {status.get('status')}"
    if status.get("error_type") == "content_policy_violation":
        return FalRejected(f"fal.ai refused the request under its content policy: {error}")
    return FalError(f"fal.ai could not make the video: {error}")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
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
    except (ValueError, AttributeError):
        return set()
    if isinstance(detail, list):
        return {str(item.get("type")) for item in detail if isinstance(item, dict)}
    return set()
