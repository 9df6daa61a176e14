"""A fake of fal.ai's queue HTTP API (see /work/shared/reference/fal-queue-and-models.md, section 1).

Serve it with `tests/live_server.py: serve_in_thread(fake.app)` and set `fake.base_url` to the URL
it yields; the submit response then carries status/response/cancel URLs on that base and result
files are served from `{base_url}/files/{request_id}.mp4`.

Behaviour knobs are plain attributes read when a request arrives (`reset()` puts them all back);
the per-job ones (polls, outcome, video settings) are captured at submit time, so changing them
affects only later submissions.

Like fal, a request that fails still ends as COMPLETED, with `error`/`error_type` on its status,
and its result URL returns the model's error (422 with a detail list, 500, ...).

The server runs in another thread (handlers are sync and run in uvicorn's threadpool), so all
state is guarded by one `threading.Lock`; tests may read `submissions` and `cancels` directly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import av
import httpx
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

OUTCOMES = ("ok", "validation_error", "content_policy", "error_completed", "no_video", "failed_status")

LOCKED_DETAIL = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
VALIDATION_DETAIL = [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]
CONTENT_POLICY_DETAIL = [
    {
        "loc": ["body", "prompt"],
        "msg": (
            "The content could not be processed because it contained material flagged by a content checker."
        ),
        "type": "content_policy_violation",
    }
]
RUNNER_ERROR = "Internal error in the model runner"
RUNNER_ERROR_TYPE = "internal_server_error"
# What a failed request's COMPLETED status carries, by outcome.
STATUS_ERRORS = {
    "validation_error": ("Invalid status code: 422", "validation_error"),
    "content_policy": ("Invalid status code: 422", "content_policy_violation"),
    "error_completed": (RUNNER_ERROR, RUNNER_ERROR_TYPE),
    "failed_status": (RUNNER_ERROR, RUNNER_ERROR_TYPE),
}
CANCELLED_ERROR = "Request was cancelled"
CANCELLED_ERROR_TYPE = "request_cancelled"
SCHEDULING_DETAIL = "Failed to schedule a runner for the request"
SCHEDULING_ERROR_TYPE = "runner_scheduling_failure"
SEED = 123
INFERENCE_TIME = 1.2


@dataclass
class Submission:
    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case header names
    query: dict[str, str]
    request_id: str
    webhook: str | None = None  # the `fal_webhook` query parameter


@dataclass
class Upload:
    data: bytes
    content_type: str
    file_name: str


@dataclass
class _Job:
    request_id: str
    owner: str
    app: str
    polls_in_queue: int
    polls_in_progress: int
    outcome: str
    video: tuple[int, int, int, float]  # width, height, fps, seconds
    steps: int = 0  # status calls answered so far
    completed: bool = False
    cancelled: bool = False
    logs: list[dict[str, Any]] = field(default_factory=list)
    webhook: str | None = None
    done_at: float | None = None  # monotonic time it completes, when it runs for a set time


class _DroppedResponse(Response):
    """Starts a 200 response, sends part of the body, then ends the ASGI call: the server closes the
    connection and the client sees an incomplete response (httpx: RemoteProtocolError)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"request_id": "', "more_body": True})


def _ingress_answer(code: int) -> Response:
    """fal's front door turning a request away before fal sees it: nginx's own page, no
    x-fal-request-id."""
    page = f"<html><head><title>{code}</title></head><body><center><h1>{code}</h1></center>" \
           "<hr><center>nginx</center></body></html>"
    return Response(page, status_code=code, media_type="text/html")


_video_cache: dict[tuple[int, int, int, float], bytes] = {}
_video_lock = threading.Lock()


CDN_TOKEN = "cdn-upload-token"
WEBHOOK_USER = "fake-user"


def render_mp4(width: int, height: int, fps: int, seconds: float) -> bytes:
    """A small H.264 MP4 (yuv420p; width and height must be even) of a few solid colours,
    round(fps * seconds) frames long. Cached per setting."""
    key = (width, height, fps, seconds)
    with _video_lock:
        cached = _video_cache.get(key)
        if cached is not None:
            return cached
        n_frames = max(1, round(fps * seconds))
        colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 40)]
        images = [np.full((height, width, 3), c, dtype=np.uint8) for c in colours]
        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "ultrafast", "tune": "stillimage"}
            per_colour = max(1, n_frames // len(images))
            for i in range(n_frames):
                image = images[min(i // per_colour, len(images) - 1)]
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        data = buffer.getvalue()
        _video_cache[key] = data
        return data


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeFal:
    def __init__(self, *, key: str = "fal-test-key") -> None:
        self.key = key
        self.base_url: str = ""  # falls back to the request's own base URL when empty
        self.submissions: list[Submission] = []
        self.cancels: list[str] = []
        self.webhook_deliveries: list[tuple[str, int]] = []  # (request id, HTTP status; 0: failed)
        self.uploads: dict[str, Upload] = {}  # files sent through the CDN upload flow
        # counters of calls received
        self.submit_attempts = 0  # submits answered, turned away or not
        self.result_calls = 0
        self.token_requests = 0
        self._signing_key = Ed25519PrivateKey.generate()
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._counter = itertools.count(1)
        self.reset()
        self.app = self._build_app()

    def reset(self) -> None:
        """Every knob back to a well-behaved fal."""
        self.polls_in_queue: int = 1
        self.polls_in_progress: int = 2
        # Set: a job runs this many seconds after its submit instead, whatever the polls.
        self.run_seconds: float | None = None
        self.outcome: str = "ok"
        self.video_size: tuple[int, int] = (1280, 720)
        self.video_seconds: float = 6.0
        self.video_fps: int = 25
        self.submit_status: int | None = None  # every submit answers this (401, 403, 429, 5xx)
        # The next submits are turned away with these codes; from fal's ingress (nginx's page,
        # no x-fal-request-id: fal never saw them) unless submit_failures_from_ingress is off.
        self.submit_failures: list[int] = []
        self.submit_failures_from_ingress: bool = True
        self.drop_submit_response: bool = False
        self.bare_submit_response: bool = False  # a submit answer with request_id but no URLs
        self.slow_submit_seconds: float = 0.0  # a submit is recorded, then answered this late
        self.status_failures: int = 0  # the next N status or result calls answer 503
        self.result_failures: int = 0  # the next N result calls answer 503
        self.status_error: int | None = None  # every status call answers this code
        self.result_error: int | None = None  # every result call answers this code
        self.odd_statuses: int = 0  # the next N status calls report odd_status, not advancing
        self.odd_status: str = "SOMETHING_NEW"
        self.slow_statuses: int = 0  # the next N status calls answer only after slow_seconds
        self.slow_seconds: float = 1.0
        self.file_status: int | None = None  # output files answer this code instead
        self.upload_status: int | None = None  # CDN uploads answer this code instead
        self.token_expires_at: str = "2999-01-01T00:00:00Z"
        # Off: a job's fal_webhook is recorded but never called (a test that sends its own
        # webhooks to an address that is not served must not reach out to it).
        self.deliver_webhooks: bool = True

    def finish(self, request_id: str) -> None:
        """The model is done with a submitted job: its next status call reports COMPLETED, and
        its webhook (if it asked for one) is delivered now."""
        with self._lock:
            job = self._jobs[request_id]
            job.polls_in_queue = min(job.polls_in_queue, job.steps)
            job.polls_in_progress = max(0, job.steps - job.polls_in_queue)
            if not job.completed and not job.cancelled:
                job.completed = True
                self._deliver_webhook(job)

    def status_calls(self, request_id: str) -> int:
        """How many status calls the job of `request_id` has answered."""
        with self._lock:
            return self._jobs[request_id].steps

    @property
    def jwks(self) -> dict[str, Any]:
        """The public key fal's webhooks are signed with, as fal publishes it."""
        raw = self._signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}

    def _deliver_webhook(self, job: _Job) -> None:
        """Under the lock: POST the signed outcome to the job's webhook, from another thread."""
        if not job.webhook or not self.deliver_webhooks:
            return
        if job.outcome == "ok":
            body = {"request_id": job.request_id, "gateway_request_id": job.request_id, "status": "OK",
                    "payload": {"video": {"url": f"{self.base_url}/files/{job.request_id}.mp4"}}}
        else:
            body = {"request_id": job.request_id, "gateway_request_id": job.request_id,
                    "status": "ERROR", "error": f"Invalid status code: 422 ({job.outcome})", "payload": None}
        raw = json.dumps(body).encode()
        stamp = str(int(time.time()))
        message = "\n".join([job.request_id, WEBHOOK_USER, stamp, hashlib.sha256(raw).hexdigest()])
        headers = {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": job.request_id,
            "X-Fal-Webhook-User-Id": WEBHOOK_USER,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": self._signing_key.sign(message.encode()).hex(),
        }
        url = job.webhook

        def send() -> None:
            try:
                response = httpx.post(url, content=raw, headers=headers, timeout=10)
                self.webhook_deliveries.append((job.request_id, response.status_code))
            except httpx.HTTPError:
                self.webhook_deliveries.append((job.request_id, 0))

        threading.Thread(target=send, daemon=True).start()

    # -- helpers ---------------------------------------------------------------------------------

    def _base(self, request: Request) -> str:
        return (self.base_url or str(request.base_url)).rstrip("/")

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Key {self.key}"

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)

    @staticmethod
    def _error_answer(code: int) -> JSONResponse:
        """An error from fal itself (it carries fal's request id header)."""
        detail = {401: "Unauthorized", 403: LOCKED_DETAIL, 429: "Too many requests",
                  503: SCHEDULING_DETAIL}.get(code, f"Failed with status {code}")
        headers = {"x-fal-request-id": uuid.uuid4().hex}
        body: dict[str, Any] = {"detail": detail}
        if code == 503:
            body["error_type"] = headers["X-Fal-Error-Type"] = SCHEDULING_ERROR_TYPE
        return JSONResponse(body, status_code=code, headers=headers)

    def _job_url(self, request: Request, job: _Job) -> str:
        return f"{self._base(request)}/{job.owner}/{job.app}/requests/{job.request_id}"

    def _find(self, owner: str, app: str, request_id: str) -> _Job | None:
        job = self._jobs.get(request_id)
        if job is None or job.owner != owner or job.app != app:
            return None
        return job

    def _lookup(self, owner: str, app: str, request_id: str) -> _Job | JSONResponse:
        """Under the lock: the job a status or result call names, or the answer it gets
        instead (404 unknown, 503 while `status_failures` lasts)."""
        job = self._find(owner, app, request_id)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        return self._take_status_failure() or job

    def _take_status_failure(self) -> JSONResponse | None:
        """Under the lock. Answers 503 while `status_failures` is positive."""
        if self.status_failures <= 0:
            return None
        self.status_failures -= 1
        return JSONResponse(
            {"detail": SCHEDULING_DETAIL, "error_type": SCHEDULING_ERROR_TYPE},
            status_code=503,
            headers={"X-Fal-Error-Type": SCHEDULING_ERROR_TYPE},
        )

    def _phase(self, job: _Job) -> str:
        """The phase the next status call reports. A job counts as completed (result available,
        cancel refused) only once a status call has reported COMPLETED."""
        if job.completed:
            return "COMPLETED"
        if job.done_at is not None:
            return "COMPLETED" if time.monotonic() >= job.done_at else "IN_PROGRESS"
        if job.steps < job.polls_in_queue:
            return "IN_QUEUE"
        if job.steps < job.polls_in_queue + job.polls_in_progress:
            return "IN_PROGRESS"
        return "COMPLETED"

    def _advance(self, job: _Job, url: str, want_logs: bool) -> JSONResponse:
        """Under the lock: the next status answer of a job (which moves it one step)."""
        if job.cancelled:
            return JSONResponse(
                {
                    "status": "COMPLETED",
                    "logs": list(job.logs) if want_logs else None,
                    "response_url": url,
                    "error": CANCELLED_ERROR,
                    "error_type": CANCELLED_ERROR_TYPE,
                }
            )
        phase = self._phase(job)
        step = job.steps
        job.steps += 1
        if phase == "IN_QUEUE":
            return JSONResponse(
                {
                    "status": "IN_QUEUE",
                    "queue_position": max(job.polls_in_queue - 1 - step, 0),
                    "response_url": url,
                },
                status_code=202,
            )
        if phase == "IN_PROGRESS":
            n = step - job.polls_in_queue + 1
            job.logs.append(
                {"message": f"Generating: step {n}/{job.polls_in_progress}", "timestamp": _now(),
                 "level": "INFO", "source": "user"}
            )
            return JSONResponse(
                {"status": "IN_PROGRESS", "logs": list(job.logs) if want_logs else None,
                 "response_url": url},
                status_code=202,
            )
        failure = STATUS_ERRORS.get(job.outcome)
        if not job.completed:
            job.completed = True
            self._deliver_webhook(job)
            job.logs.append(
                {"message": failure[0] if failure else "Done", "timestamp": _now(),
                 "level": "ERROR" if failure else "INFO", "source": "user"}
            )
        body: dict[str, Any] = {
            "status": "FAILED" if job.outcome == "failed_status" else "COMPLETED",
            "logs": list(job.logs) if want_logs else None,
            "metrics": {"inference_time": INFERENCE_TIME},
            "response_url": url,
        }
        if failure:
            body["error"], body["error_type"] = failure
        return JSONResponse(body)

    # -- the app ---------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="fake fal queue", openapi_url=None, docs_url=None, redoc_url=None)

        @app.get("/files/{file_name}")
        def get_file(file_name: str) -> Response:
            request_id = file_name.removesuffix(".mp4")
            with self._lock:
                job = self._jobs.get(request_id)
                ready = job is not None and job.completed and not job.cancelled and job.outcome == "ok"
            if not file_name.endswith(".mp4") or job is None or not ready:
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            if self.file_status is not None:
                return JSONResponse({"detail": f"File answered {self.file_status}"},
                                    status_code=self.file_status)
            return Response(render_mp4(*job.video), media_type="video/mp4")

        @app.get("/{owner}/{app_name}/requests/{request_id}/status")
        def get_status(
            owner: str, app_name: str, request_id: str, request: Request, logs: str = "0"
        ) -> Response:
            if not self._authorized(request):
                return self._unauthorized()
            with self._lock:
                slow = self.slow_statuses > 0
                self.slow_statuses -= slow
            if slow:  # the caller gives up before this answer comes
                time.sleep(self.slow_seconds)
            want_logs = logs.lower() in ("1", "true")
            with self._lock:
                if self.status_error is not None:
                    return self._error_answer(self.status_error)
                job = self._lookup(owner, app_name, request_id)
                if isinstance(job, JSONResponse):
                    return job
                url = self._job_url(request, job)
                if self.odd_statuses > 0:
                    self.odd_statuses -= 1
                    return JSONResponse({"status": self.odd_status, "response_url": url}, status_code=202)
                return self._advance(job, url, want_logs)

        @app.get("/{owner}/{app_name}/requests/{request_id}/status/stream")
        async def stream_status(
            owner: str, app_name: str, request_id: str, request: Request, logs: str = "0"
        ) -> Response:
            """Server-sent events: one status object per step, closed after COMPLETED."""
            if not self._authorized(request):
                return self._unauthorized()
            with self._lock:
                job = self._find(owner, app_name, request_id)
            if job is None:
                return JSONResponse({"detail": "Request not found"}, status_code=404)
            url = self._job_url(request, job)
            want_logs = logs.lower() in ("1", "true")

            async def events() -> Any:
                while True:
                    with self._lock:
                        answer = self._advance(job, url, want_logs)
                    yield f"data: {answer.body.decode()}\n\n"
                    if json.loads(answer.body)["status"] == "COMPLETED":
                        return
                    await asyncio.sleep(0.01)

            return StreamingResponse(events(), media_type="text/event-stream")

        @app.get("/{owner}/{app_name}/requests/{request_id}")
        def get_result(owner: str, app_name: str, request_id: str, request: Request) -> Response:
            if not self._authorized(request):
                return self._unauthorized()
            with self._lock:
                self.result_calls += 1
                if self.result_error is not None:
                    return self._error_answer(self.result_error)
                if self.result_failures > 0:
                    self.result_failures -= 1
                    return self._error_answer(503)
                job = self._lookup(owner, app_name, request_id)
                if isinstance(job, JSONResponse):
                    return job
                if job.cancelled:
                    return JSONResponse({"detail": CANCELLED_ERROR}, status_code=400)
                if not job.completed:
                    return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
                outcome, video = job.outcome, job.video
            if outcome == "validation_error":
                return JSONResponse({"detail": VALIDATION_DETAIL}, status_code=422,
                                    headers={"X-Fal-Retryable": "false"})
            if outcome == "content_policy":
                return JSONResponse({"detail": CONTENT_POLICY_DETAIL}, status_code=422,
                                    headers={"X-Fal-Retryable": "false"})
            if outcome in ("error_completed", "failed_status"):
                return JSONResponse({"detail": RUNNER_ERROR}, status_code=500)
            if outcome == "no_video":
                return JSONResponse({"seed": SEED})
            size = len(render_mp4(*video))
            return JSONResponse(
                {
                    "video": {
                        "url": f"{self._base(request)}/files/{request_id}.mp4",
                        "content_type": "video/mp4",
                        "file_name": "output.mp4",
                        "file_size": size,
                    },
                    "seed": SEED,
                }
            )

        @app.put("/{owner}/{app_name}/requests/{request_id}/cancel")
        def cancel(owner: str, app_name: str, request_id: str, request: Request) -> Response:
            if not self._authorized(request):
                return self._unauthorized()
            with self._lock:
                self.cancels.append(request_id)
                job = self._find(owner, app_name, request_id)
                if job is None:
                    return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
                if job.completed or job.cancelled:
                    return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
                queued = self._phase(job) == "IN_QUEUE"
                job.cancelled = True
                job.completed = True
            if queued:
                return JSONResponse({"status": "OK"})
            return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

        @app.get("/.well-known/jwks.json")
        def jwks() -> dict[str, Any]:
            return self.jwks

        @app.post("/storage/auth/token")
        def storage_token(request: Request) -> Response:
            """fal's CDN upload flow, step 1: a short-lived upload token."""
            if not self._authorized(request):
                return self._unauthorized()
            with self._lock:
                self.token_requests += 1
            return JSONResponse({"token": CDN_TOKEN, "token_type": "Bearer",
                                 "base_url": f"{self._base(request)}/cdn",
                                 "expires_at": self.token_expires_at})

        @app.post("/cdn/files/upload")
        async def cdn_upload(request: Request) -> Response:
            """Step 2: the raw bytes, answered with the public URL they now have."""
            if request.headers.get("authorization") != f"Bearer {CDN_TOKEN}":
                return self._unauthorized()
            if self.upload_status is not None:
                return self._error_answer(self.upload_status)
            name = request.headers.get("x-fal-file-name", "upload.bin")
            upload_id = uuid.uuid4().hex
            with self._lock:
                self.uploads[upload_id] = Upload(
                    data=await request.body(),
                    content_type=request.headers.get("content-type", ""),
                    file_name=name,
                )
            return JSONResponse({"access_url": f"{self._base(request)}/cdn/files/{upload_id}/{name}"})

        @app.post("/{model_id:path}")
        async def submit(model_id: str, request: Request) -> Response:
            with self._lock:
                self.submit_attempts += 1
                turned_away = self.submit_failures.pop(0) if self.submit_failures else None
            if turned_away is not None:
                if self.submit_failures_from_ingress or turned_away == 429:
                    return _ingress_answer(turned_away)
                return self._error_answer(turned_away)
            if not self._authorized(request):
                return self._unauthorized()
            if self.submit_status is not None:
                return self._error_answer(self.submit_status)
            parts = [p for p in model_id.split("/") if p]
            if len(parts) < 2:
                return JSONResponse({"detail": "Application not found"}, status_code=404)
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return JSONResponse(
                    {"detail": [{"loc": ["body"], "msg": "Input should be a JSON object",
                                 "type": "json_invalid"}]},
                    status_code=422,
                )
            request_id = f"{next(self._counter):04d}-{uuid.uuid4()}"
            query = dict(request.query_params)
            with self._lock:
                if self.outcome not in OUTCOMES:
                    raise ValueError(f"unknown outcome {self.outcome!r}")
                job = _Job(
                    request_id=request_id,
                    owner=parts[0],
                    app=parts[1],
                    polls_in_queue=self.polls_in_queue,
                    polls_in_progress=self.polls_in_progress,
                    outcome=self.outcome,
                    video=(self.video_size[0], self.video_size[1], self.video_fps, self.video_seconds),
                    webhook=query.get("fal_webhook"),
                    done_at=None if self.run_seconds is None else time.monotonic() + self.run_seconds,
                )
                self._jobs[request_id] = job
                self.submissions.append(
                    Submission(
                        model_id="/".join(parts),
                        body=body,
                        headers=dict(request.headers),
                        query=query,
                        request_id=request_id,
                        webhook=query.get("fal_webhook"),
                    )
                )
                drop, bare, slow = self.drop_submit_response, self.bare_submit_response, self.slow_submit_seconds
            if slow:
                await asyncio.sleep(slow)
            if drop:
                return _DroppedResponse()
            url = self._job_url(request, job)
            answer: dict[str, Any] = {"request_id": request_id, "status": "IN_QUEUE",
                                      "queue_position": job.polls_in_queue}
            if not bare:
                answer |= {"response_url": url, "status_url": f"{url}/status", "cancel_url": f"{url}/cancel"}
            return JSONResponse(answer, headers={"x-fal-request-id": request_id})

        return app
