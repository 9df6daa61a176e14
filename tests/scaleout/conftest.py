"""Fixtures for the scale-out tests: one deployment of 2 API and 3 worker processes per
module, on PostgreSQL (VIDGATE_TEST_DATABASE_URL), the S3 server and Redis (rate limits)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_DATABASE_ENV, server_database
from tests.fal_fake import FakeFal
from tests.live_server import serve_in_thread
from tests.redis_server import redis_server
from tests.s3_server import S3Server
from tests.scaleout.topology import FAL_KEY, Topology, topology


@pytest.fixture(scope="module")
def shared_fal() -> Iterator[FakeFal]:
    fake = FakeFal(key=FAL_KEY)
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, s3: S3Server, shared_fal: FakeFal) -> Iterator[Topology]:
    if not os.environ.get(TEST_DATABASE_ENV):
        pytest.fail(f"the scale-out tests run on PostgreSQL: set {TEST_DATABASE_ENV} (see .ci/run)")
    with server_database() as url, redis_server(tmp_path_factory.mktemp("redis")) as redis:
        assert url is not None
        shared_counts = {"VIDGATE_RATE_LIMIT_STORAGE": redis}
        with topology(tmp_path_factory.mktemp("scaleout"), url, s3, shared_fal, apis=2, workers=3,
                      overrides=shared_counts) as ready:
            yield ready


@pytest.fixture
def scaled(deployment: Topology, shared_fal: FakeFal) -> Iterator[Topology]:
    """The deployment, whole again after each test (a test may kill its processes), with the
    fake fal answering at once."""
    shared_fal.polls_in_queue, shared_fal.polls_in_progress = 0, 0
    yield deployment
    if deployment.proxy.cut_off:
        deployment.proxy.restore()
    if deployment.s3.process is None:
        deployment.s3.start()
    deployment.ensure_running()
