"""GET /healthz (the process is alive), GET /readyz (it can serve: database, queue, storage
and job events reachable), GET /metrics (Prometheus). No key needed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from vidgate.api.deps import api_of
from vidgate.api.schemas import Health, Readiness
from vidgate.api.side import ApiSide
from vidgate.jobs import store
from vidgate.ops.metrics import JOBS_ACTIVE, QUEUE_DEPTH, REGISTRY

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/healthz", summary="Liveness", operation_id="healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", operation_id="readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A dependency is unreachable; the body names it"}})
async def readyz(request: Request) -> JSONResponse:
    """200 when the database, the queue, the storage, the job events (and the rate limit
    storage, when shared) are reachable, each named in the answer; 503 naming what is not."""
    api = api_of(request)
    checks = {
        "database": lambda: _select_one(api),
        "queue": api.dispatch.check,
        "storage": api.storage.check,
        "events": api.events.check,
    }
    if api.rate_limits.shared:
        checks["rate_limits"] = api.rate_limits.check
    results = dict(zip(checks, await asyncio.gather(*(_check(run) for run in checks.values())), strict=True))
    failing = [name for name, result in results.items() if result != "ok"]
    body: dict[str, Any] = {"ready": not failing, "checks": results}
    if failing:
        body = {"error": f"Not ready: {', '.join(failing)} unreachable", **body}
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/metrics", summary="Prometheus metrics", operation_id="metrics",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    """This process's metrics, with the jobs by state, model and lane, and the queue depth
    per lane, read from the database now."""
    api = api_of(request)
    JOBS_ACTIVE.clear()
    QUEUE_DEPTH.clear()
    for lane in {plugin.lane for plugin in api.services.plugins.values()}:
        QUEUE_DEPTH.labels(lane).set(0)
    for state, model, lane, count in await store.active_counts(api.sessions):
        JOBS_ACTIVE.labels(state, model, lane).set(count)
        if state == "pending":
            QUEUE_DEPTH.labels(lane).inc(count)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def _select_one(api: ApiSide) -> None:
    async with api.sessions() as session:
        await session.execute(text("SELECT 1"))


async def _check(run: Callable[[], Awaitable[None]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await run()
    except TimeoutError:
        return f"unreachable: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure makes the dependency unready
        return f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"
