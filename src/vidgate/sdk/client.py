"""`Client` and `AsyncClient`: the same resources, blocking or awaited.

Each call is one `_Call` (what to send) made by the client's `_send`, which retries what is
safe to retry: a 429 or a 5xx answer, or no answer at all, after the `Retry-After` the server
gave or a growing pause. A submission carries an `Idempotency-Key` (made here unless given),
so a retried one never makes a second job.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tenacity
from httpx_sse import aconnect_sse, connect_sse

from vidgate.sdk.errors import APIConnectionError, RateLimitError, ServerError, VidgateError, error_for
from vidgate.sdk.models import Job, Upload

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API = "/api/v1"
MAX_RETRY_WAIT_SECONDS = 60.0
STREAM_RECONNECTS = 20

Progress = Callable[[Job], object]


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    upload: Path | None = None  # sent as the multipart field `file`, opened anew on each try
    headers: dict[str, str] = field(default_factory=dict)


def _settings(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    base = (base_url or os.environ.get("VIDGATE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    key = api_key or os.environ.get("VIDGATE_API_KEY")
    if not key:
        raise VidgateError("No API key: pass api_key= or set VIDGATE_API_KEY")
    return base, key


def _answer(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500] or f"HTTP {response.status_code}"}
    error = error_for(response.status_code, body if isinstance(body, dict) else {"error": str(body)})
    error.retry_after_header = response.headers.get("Retry-After")
    raise error


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RateLimitError | ServerError | APIConnectionError)


_backoff = tenacity.wait_exponential_jitter(initial=0.5, max=30)


def _wait(state: tenacity.RetryCallState) -> float:
    """The server's Retry-After when it gave one, else a growing pause with jitter."""
    exc = state.outcome.exception() if state.outcome else None
    told = getattr(exc, "retry_after_header", None)
    if told is not None:
        try:
            return min(float(told), MAX_RETRY_WAIT_SECONDS)
        except ValueError:
            pass
    return float(_backoff(state))


def _retry_policy(max_retries: int) -> dict[str, Any]:
    return {"stop": tenacity.stop_after_attempt(max_retries + 1), "wait": _wait,
            "retry": tenacity.retry_if_exception(_retryable), "reraise": True}


def _generation(prompt: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": prompt, **{name: value for name, value in params.items() if value is not None}}


def _event_job(data: str) -> Job:
    return Job.from_api(json.loads(data))


class Client:
    """Blocking client. `base_url` and `api_key` default to VIDGATE_BASE_URL and VIDGATE_API_KEY."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, http: httpx.Client | None = None) -> None:
        self.base_url, api_key = _settings(base_url, api_key)
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._http.headers["Authorization"] = f"Bearer {api_key}"
        self._retry = tenacity.Retrying(**_retry_policy(max_retries))
        self.videos = Videos(self)
        self.files = Files(self)
        self.jobs = Jobs(self)

    def _send(self, call: _Call) -> Any:
        return self._retry(self._try, call)

    def _try(self, call: _Call) -> Any:
        try:
            if call.upload is not None:
                with call.upload.open("rb") as file:
                    response = self._http.request(call.method, call.path, headers=call.headers,
                                                  files={"file": (call.upload.name, file)})
            else:
                response = self._http.request(call.method, call.path, params=call.params, json=call.json,
                                              headers=call.headers)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{self.base_url} could not be reached: {exc}") from exc
        return _answer(response)

    def download(self, job: Job | str, path: str | os.PathLike[str], *, variant: str = "video") -> Path:
        """Save a completed job's video (or `variant="thumbnail"`, its poster) at `path`."""
        job = job if isinstance(job, Job) else self.jobs.get(job)
        url = job.video_url if variant == "video" else job.thumbnail_url
        if url is None:
            raise VidgateError(f"job {job.id} has no {variant} to download (status {job.status})")
        target = Path(path)
        with httpx.stream("GET", url, timeout=120, follow_redirects=True) as response:  # the link is the credential
            if not response.is_success:
                raise error_for(response.status_code, {"error": f"the {variant} link answered {response.status_code}"})
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return target

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Videos:
    def __init__(self, client: Client) -> None:
        self._client = client

    def generate(self, prompt: str, *, wait: bool = True, on_progress: Progress | None = None,
                 idempotency_key: str | None = None, timeout: float | None = None, **params: Any) -> Job:
        """Submit a generation (any field of POST /videos/generations; a `source_image` or
        `source_video` that is a local path is uploaded first) and, with `wait`, follow it to
        its end, calling `on_progress(job)` at each change."""
        for source in ("source_image", "source_video"):
            if isinstance(params.get(source), os.PathLike):
                params[source] = self._client.files.upload(params[source]).url
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        made = self._client._send(_Call("POST", f"{API}/videos/generations", params={"async": "true"},
                                        json=_generation(prompt, params), headers=headers))
        job = self._client.jobs.get(made["id"])
        return self._client.jobs.wait(job.id, on_progress=on_progress, timeout=timeout) if wait else job


class Files:
    def __init__(self, client: Client) -> None:
        self._client = client

    def upload(self, path: str | os.PathLike[str]) -> Upload:
        return Upload.from_api(self._client._send(_Call("POST", f"{API}/files", upload=Path(path))))


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, job_id: str) -> Job:
        return Job.from_api(self._client._send(_Call("GET", f"{API}/jobs/{job_id}")))

    def list(self, *, limit: int = 20, pending: bool = False) -> list[Job]:
        answer = self._client._send(_Call("GET", f"{API}/jobs", params={"limit": limit, "pending": pending}))
        return [Job.from_api(job) for job in answer["jobs"]]

    def cancel(self, job_id: str) -> Job:
        return Job.from_api(self._client._send(_Call("POST", f"{API}/jobs/{job_id}/cancel")))

    def webhooks(self, job_id: str) -> list[dict[str, Any]]:
        """The job's webhook deliveries, as GET /api/v1/jobs/{id}/webhooks gives them."""
        deliveries: list[dict[str, Any]] = self._client._send(_Call("GET", f"{API}/jobs/{job_id}/webhooks"))["webhooks"]
        return deliveries

    def events(self, job_id: str) -> Iterator[Job]:
        """The job at each change of its status or progress, to its end; a dropped stream is
        resumed where it stopped."""
        return (job for job in self._stream(job_id) if job is not None)

    def _stream(self, job_id: str) -> Iterator[Job | None]:
        """The events, and None for each keep-alive (every 15 s), when a caller waits with a deadline."""
        last_id: str | None = None
        for _ in range(STREAM_RECONNECTS):
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with connect_sse(self._client._http, "GET", f"{API}/jobs/{job_id}/events",
                                 headers=headers) as source:
                    if not source.response.is_success:
                        source.response.read()
                        _answer(source.response)
                    for event in source.iter_sse():
                        if not event.data:  # a keep-alive comment
                            yield None
                            continue
                        last_id = event.id or last_id
                        job = _event_job(event.data)
                        yield job
                        if job.done:
                            return
            except httpx.TransportError:
                continue
        raise APIConnectionError(f"the events of job {job_id} stopped {STREAM_RECONNECTS} times")

    def wait(self, job_id: str, *, on_progress: Progress | None = None, timeout: float | None = None) -> Job:
        """Follow the job to its end (completed, failed or cancelled) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self._stream(job_id):
            if job is not None and on_progress is not None:
                on_progress(job)
            if job is not None and job.done:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise VidgateError(f"job {job_id} did not end within {timeout:g} s")
        raise APIConnectionError(f"the events of job {job_id} ended before the job did")


class AsyncClient:
    """Awaited client; the same resources as `Client`."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, http: httpx.AsyncClient | None = None) -> None:
        self.base_url, api_key = _settings(base_url, api_key)
        self._http = http or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        self._http.headers["Authorization"] = f"Bearer {api_key}"
        self._retry = tenacity.AsyncRetrying(**_retry_policy(max_retries))
        self.videos = AsyncVideos(self)
        self.files = AsyncFiles(self)
        self.jobs = AsyncJobs(self)

    async def _send(self, call: _Call) -> Any:
        return await self._retry(self._try, call)

    async def _try(self, call: _Call) -> Any:
        try:
            if call.upload is not None:
                content = call.upload.read_bytes()
                response = await self._http.request(call.method, call.path, headers=call.headers,
                                                    files={"file": (call.upload.name, content)})
            else:
                response = await self._http.request(call.method, call.path, params=call.params, json=call.json,
                                                    headers=call.headers)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{self.base_url} could not be reached: {exc}") from exc
        return _answer(response)

    async def download(self, job: Job | str, path: str | os.PathLike[str], *, variant: str = "video") -> Path:
        job = job if isinstance(job, Job) else await self.jobs.get(job)
        url = job.video_url if variant == "video" else job.thumbnail_url
        if url is None:
            raise VidgateError(f"job {job.id} has no {variant} to download (status {job.status})")
        target = Path(path)
        async with httpx.AsyncClient(timeout=120, follow_redirects=True) as plain, plain.stream("GET", url) as response:
            if not response.is_success:
                raise error_for(response.status_code, {"error": f"the {variant} link answered {response.status_code}"})
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        return target

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncVideos:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def generate(self, prompt: str, *, wait: bool = True, on_progress: Progress | None = None,
                       idempotency_key: str | None = None, timeout: float | None = None, **params: Any) -> Job:
        for source in ("source_image", "source_video"):
            if isinstance(params.get(source), os.PathLike):
                params[source] = (await self._client.files.upload(params[source])).url
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        made = await self._client._send(_Call("POST", f"{API}/videos/generations", params={"async": "true"},
                                              json=_generation(prompt, params), headers=headers))
        if not wait:
            return await self._client.jobs.get(made["id"])
        return await self._client.jobs.wait(made["id"], on_progress=on_progress, timeout=timeout)


class AsyncFiles:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def upload(self, path: str | os.PathLike[str]) -> Upload:
        return Upload.from_api(await self._client._send(_Call("POST", f"{API}/files", upload=Path(path))))


class AsyncJobs:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, job_id: str) -> Job:
        return Job.from_api(await self._client._send(_Call("GET", f"{API}/jobs/{job_id}")))

    async def list(self, *, limit: int = 20, pending: bool = False) -> list[Job]:
        answer = await self._client._send(_Call("GET", f"{API}/jobs", params={"limit": limit, "pending": pending}))
        return [Job.from_api(job) for job in answer["jobs"]]

    async def cancel(self, job_id: str) -> Job:
        return Job.from_api(await self._client._send(_Call("POST", f"{API}/jobs/{job_id}/cancel")))

    async def webhooks(self, job_id: str) -> list[dict[str, Any]]:
        """The job's webhook deliveries, as GET /api/v1/jobs/{id}/webhooks gives them."""
        answer = await self._client._send(_Call("GET", f"{API}/jobs/{job_id}/webhooks"))
        deliveries: list[dict[str, Any]] = answer["webhooks"]
        return deliveries

    async def events(self, job_id: str) -> AsyncIterator[Job]:
        async for job in self._stream(job_id):
            if job is not None:
                yield job

    async def _stream(self, job_id: str) -> AsyncIterator[Job | None]:
        last_id: str | None = None
        for _ in range(STREAM_RECONNECTS):
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                async with aconnect_sse(self._client._http, "GET", f"{API}/jobs/{job_id}/events",
                                        headers=headers) as source:
                    if not source.response.is_success:
                        await source.response.aread()
                        _answer(source.response)
                    async for event in source.aiter_sse():
                        if not event.data:  # a keep-alive comment
                            yield None
                            continue
                        last_id = event.id or last_id
                        job = _event_job(event.data)
                        yield job
                        if job.done:
                            return
            except httpx.TransportError:
                continue
        raise APIConnectionError(f"the events of job {job_id} stopped {STREAM_RECONNECTS} times")

    async def wait(self, job_id: str, *, on_progress: Progress | None = None, timeout: float | None = None) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        async for job in self._stream(job_id):
            if job is not None and on_progress is not None:
                on_progress(job)
            if job is not None and job.done:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise VidgateError(f"job {job_id} did not end within {timeout:g} s")
        raise APIConnectionError(f"the events of job {job_id} ended before the job did")
