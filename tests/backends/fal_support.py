"""Helpers for the tests that run fal jobs against the fake fal server (tests/fal_fake.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from tests.conftest import Harness, auth, seed_internet, serving
from tests.fal_fake import FakeFal
from vidgate.backends import local
from vidgate.backends.fal import FalBackend, FalSettings
from vidgate.backends.fal import plugin as fal_plugin
from vidgate.backends.registry import PluginFactory
from vidgate.config import Settings
from vidgate.jobs import store

FAL_KEY = "fal-test-key"
GEN = "/api/v1/videos/generations"


def fast_fal(harness: Harness, fake: FakeFal, **overrides: Any) -> FalBackend:
    """Serve fal jobs through a backend built here (with `overrides`: its HTTP client, its
    deadline...) that polls the fake every 50 ms."""
    options: dict[str, Any] = {
        "key": FAL_KEY, "queue_url": fake.base_url, "max_download_bytes": 10**8,
        "poll_first_seconds": 0.05, "rest_url": fake.base_url, "storage": harness.api.storage,
    }
    backend = FalBackend(**{**options, **overrides})
    harness.worker.backends["fal"] = backend
    return backend


def fal_settings(fake: FakeFal, **overrides: Any) -> FalSettings:
    """fal's settings for talking to `fake`, polled every 50 ms instead of fal's half second."""
    values: dict[str, Any] = {"key": FAL_KEY, "queue_url": fake.base_url, "rest_url": fake.base_url,
                              "poll_seconds": 0.05, **overrides}
    return FalSettings(**values)


def fal_plugins(fake: FakeFal, **overrides: Any) -> list[PluginFactory]:
    """The local engine and fal, fal's requests going to `fake` (with settings `overrides`)."""
    fal = fal_settings(fake, **overrides)
    return [local.plugin, lambda settings: fal_plugin(settings, fal)]


@contextlib.asynccontextmanager
async def serving_fal(settings: Settings, fake: FakeFal, **overrides: Any) -> AsyncIterator[Harness]:
    """An app for `settings` whose fal jobs go to `fake` (fal's settings: `overrides`)."""
    async with serving(settings, plugins=fal_plugins(fake, **overrides), transport=seed_internet()) as harness:
        yield harness


async def submit_job(harness: Harness, key: str, body: dict[str, Any]) -> str:
    response = await harness.client.post(f"{GEN}?async=true", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def finished_job(harness: Harness, key: str, job_id: str) -> dict[str, Any]:
    while True:
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
        if job["status"] not in ("pending", "processing"):
            return dict(job)


async def run_job(harness: Harness, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return await finished_job(harness, key, await submit_job(harness, key, body))


async def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0) -> Any:
    """Wait until `condition()` (sync or async) is truthy; return what it returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def stored_request(harness: Harness, job_id: str) -> dict[str, Any] | None:
    """The fal request stored with the job, once its submit has been answered."""
    job = await store.get(harness.sessions, job_id)
    state = job.provider_state if job is not None else None
    return state if state and "request_id" in state else None
