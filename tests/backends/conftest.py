"""Fixtures for the fal backend tests: the fake fal server and an app that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.backends.fal_support import FAL_KEY, serving_fal
from tests.conftest import Harness, settings_for_tests
from tests.fal_fake import FakeFal
from tests.live_server import serve_in_thread
from vidgate.backends.fal import queue


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off in milliseconds, not seconds: a test of twelve failures in a row
    takes no time."""
    monkeypatch.setattr(queue, "RETRY_FIRST_WAIT_SECONDS", 0.005)
    monkeypatch.setattr(queue, "RETRY_MAX_WAIT_SECONDS", 0.02)
    monkeypatch.setattr(queue, "SUBMIT_FIRST_WAIT_SECONDS", 0.005)
    monkeypatch.setattr(queue, "SUBMIT_MAX_WAIT_SECONDS", 0.02)


@pytest.fixture
def fake_fal() -> Iterator[FakeFal]:
    fake = FakeFal(key=FAL_KEY)
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
async def fal(tmp_path: Path, fake_fal: FakeFal, database_url: str | None) -> AsyncIterator[tuple[Harness, FakeFal]]:
    settings = settings_for_tests(tmp_path / "data", database_url=database_url)
    async with serving_fal(settings, fake_fal) as harness:
        yield harness, fake_fal
