"""Operating a server: health, readiness, metrics and logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Harness, auth, running_harness
from vidgate.ops.logs import current_job, logging_config


async def test_health_and_readiness_name_each_dependency(harness: Harness) -> None:
    assert (await harness.client.get("/healthz")).json() == {"status": "ok"}
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"database": "ok", "queue": "ok", "storage": "ok",
                                                      "events": "ok"}}


async def test_readiness_names_outputs_that_cannot_be_written(tmp_path: Path, database_url: str | None) -> None:
    async with running_harness(tmp_path / "data", database_url, transport=None) as harness:
        outputs = tmp_path / "data" / "outputs"
        outputs.rename(tmp_path / "moved")
        outputs.write_text("a file where the folder was")
        ready = await harness.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["error"] == "Not ready: storage unreachable"
        assert body["checks"]["storage"].startswith("unreachable: ") and body["checks"]["database"] == "ok"
        outputs.unlink()
        (tmp_path / "moved").rename(outputs)
        assert (await harness.client.get("/readyz")).status_code == 200


async def test_metrics_count_jobs_by_state_and_requests_by_route(harness: Harness) -> None:
    key = await harness.key()
    job = (await harness.client.post("/api/v1/videos/generations", json={"prompt": "waves", "duration_seconds": 1},
                                     headers=auth(key))).json()
    await harness.client.get(f"/api/v1/jobs/{job['id']}", headers=auth(key))
    pending = (await harness.client.post("/api/v1/videos/generations?async=true",
                                         json={"prompt": "rain", "model": "vidgate/local", "duration_seconds": 30},
                                         headers=auth(key))).json()
    text = (await harness.client.get("/metrics")).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("vidgate_jobs_finished_total", (("lane", "local"), ("model", "fal-ai/minimax/video-01"),
                                                    ("state", "completed")))] >= 1
    routes = {dict(labels).get("route") for name, labels in samples if name.startswith("vidgate_http_request")}
    assert "/jobs/{job_id}" in routes and "/videos/generations" in routes
    assert not any(job["id"] in str(labels) for _, labels in samples)  # templates, never raw paths
    active = sum(value for (name, labels), value in samples.items() if name == "vidgate_jobs_active")
    assert active >= 1 and samples[("vidgate_queue_depth", (("lane", "local"),))] >= 0
    await harness.client.post(f"/api/v1/jobs/{pending['id']}/cancel", headers=auth(key))


def test_json_log_lines_carry_the_job_and_never_a_link_token(capsys: pytest.CaptureFixture[str]) -> None:
    config = logging_config("json")
    logging.config.dictConfig(config)  # put back after the test by logging_left_as_found
    token = current_job.set("job_0123456789abcdef01234567")
    logging.getLogger("vidgate.test").warning("rendering")
    current_job.reset(token)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/files/job_1/SeCrEtToKeN123/video.mp4", "1.1", 200)
    task = {"job": {"id": 7, "task_kwargs": {"job_id": "job_fedcba9876543210fedcba98"}}}
    logging.getLogger("procrastinate.worker").info("Starting job", extra=task)  # below WARNING: dropped
    logging.getLogger("procrastinate.worker").error("Job failed", extra=task)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "rendering" and lines[0]["job_id"] == "job_0123456789abcdef01234567"
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "vidgate.test"
    assert "SeCrEtToKeN123" not in json.dumps(lines[1]) and "/files/job_1/…/video.mp4" in lines[1]["message"]
    assert [line["message"] for line in lines[2:]] == ["Job failed"]
    assert lines[2]["job_id"] == "job_fedcba9876543210fedcba98"
