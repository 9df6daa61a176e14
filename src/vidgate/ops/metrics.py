"""Prometheus metrics, in a registry of vidgate's own. API processes serve them at /metrics
(with the jobs by state and the queue depth read from the database when scraped); a
`vidgate worker` serves its own (dispatch latency, job durations) on --metrics-port."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry()

JOBS_ACTIVE = Gauge(
    "vidgate_jobs_active", "Pending and processing jobs, read from the database when scraped",
    ["state", "model", "lane"], registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "vidgate_queue_depth", "Pending jobs per lane, read from the database when scraped",
    ["lane"], registry=REGISTRY,
)
JOBS_FINISHED = Counter(
    "vidgate_jobs_finished_total", "Jobs this process ended, by how they ended",
    ["state", "model", "lane"], registry=REGISTRY,
)
DISPATCH_SECONDS = Histogram(
    "vidgate_job_dispatch_seconds", "From a job's submit to a worker starting its first attempt",
    ["lane"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_SECONDS = Histogram(
    "vidgate_job_duration_seconds", "From a worker starting a job to its end",
    ["lane", "model", "state"], registry=REGISTRY,
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
HTTP_SECONDS = Histogram(
    "vidgate_http_request_duration_seconds", "API requests, by route (its template) and status",
    ["method", "route", "status"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60),
)


class HttpMetrics:
    """Times every request; labels it with its route's template (never its raw path, which
    holds ids and link tokens), or "unmatched"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path_format", None) or "unmatched"
            HTTP_SECONDS.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
