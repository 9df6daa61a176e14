"""Every operation of the OpenAPI document, fed generated requests (valid and invalid) by
Schemathesis: never a 5xx, and every answer matches the document (status, content type,
body schema).

Renders are replaced by a backend that returns a small prepared video at once: the subject
here is the HTTP layer, and sync requests must not wait for real renders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import settings_for_tests
from tests.fal_fake import render_mp4
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.backends import Backend, BackendResult, JobContext
from vidgate.cli import with_database

# Unknown query parameters are ignored, as most HTTP APIs do (unknown body fields are a 400).
FUZZ_CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})
schema = schemathesis.openapi.from_dict(
    create_app(settings_for_tests(Path("unused"))).openapi(), config=FUZZ_CONFIG
)

FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI fails on a bug, never on luck
    database=None,
    suppress_health_check=list(HealthCheck),
)


# What a JSON Schema cannot say, so a schema-valid request may still be a 400 here: a
# generation's allowed durations, modes and resolutions depend on its model (OpenAI's `size`
# and `seconds` too), and a mode needs its source field; an upload must be an image or a
# video; a page's `after` must be one of the key's videos.
CROSS_FIELD_RULES = {
    path: [schemathesis.checks.positive_data_acceptance]
    for path in ("/api/v1/videos/generations", "/api/v1/files", "/v1/videos")
}


class InstantBackend(Backend):
    name = "local"

    async def run(self, ctx: JobContext) -> BackendResult:
        video = ctx.work_dir / "video.mp4"
        video.write_bytes(render_mp4(64, 36, 30, 1.0))
        return BackendResult(video_path=video, width=64, height=36, fps=30, duration_seconds=1.0)


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server on loopback with a sandbox key that can afford anything; yields (URL, key)."""
    settings = settings_for_tests(tmp_path_factory.mktemp("fuzz"), max_active_jobs_per_key=100_000)
    _row, key = with_database(
        settings,
        lambda sessions: keys.create_key(
            sessions, name="fuzz", scopes=("video", "jobs", "usage"), credits=10**12,
            video_seconds=10**12, sandbox=True,
        ),
    )
    app = create_app(settings)
    with serve_in_thread(app) as base:
        app.state.worker.backends["local"] = InstantBackend()
        yield base, key


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_operation_fails_or_departs_from_its_documentation(
    case: schemathesis.Case, live_api: tuple[str, str]
) -> None:
    base, key = live_api
    started = time.monotonic()
    case.call_and_validate(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        excluded_checks=CROSS_FIELD_RULES.get(case.operation.path, []),
    )
    assert time.monotonic() - started < 30
