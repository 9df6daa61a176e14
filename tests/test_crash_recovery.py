"""A server killed with SIGKILL mid-job: the job is retried, or failed with its reservation
released, when the server comes back. Runs the real `vidgate serve` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fal_fake import FakeFal
from tests.live_server import free_port, printed_key, vidgate_serve, wait_for_progress, wait_until_ready

pytestmark = pytest.mark.slow

LONG_JOB = {"prompt": "city lights at night", "model": "vidgate/local", "duration_seconds": 30,
            "resolution": "720p"}


def read_until_ready(process: subprocess.Popen[str]) -> str | None:
    """Wait for the server; return the sandbox key it printed, if any."""
    return printed_key(wait_until_ready(process))


def crash(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # the server and its render processes, no goodbyes
    process.wait(timeout=10)


def start_long_job_then_crash(
    data_dir: Path, port: int, database_url: str | None, **env: str
) -> tuple[str, str]:
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(data_dir, port, database_url=database_url, **env) as process:
        key = read_until_ready(process)
        assert key, "the first start prints a sandbox key"
        headers = {"Authorization": f"Bearer {key}"}
        job_id = requests.post(f"{base}/api/v1/videos/generations?async=true", json=LONG_JOB,
                               headers=headers, timeout=30).json()["id"]
        wait_for_progress(base, headers, job_id)
        crash(process)
    return key, job_id


def wait_terminal(base: str, key: str, job_id: str) -> dict:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = requests.get(f"{base}/api/v1/jobs/{job_id}?poll=true",
                           headers={"Authorization": f"Bearer {key}"}, timeout=60).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
    raise AssertionError("job never finished")


def quota(base: str, key: str) -> dict:
    return requests.get(f"{base}/api/v1/quota", headers={"Authorization": f"Bearer {key}"},
                        timeout=30).json()["quotas"]


def test_job_killed_mid_render_is_retried_after_restart(
    tmp_path: Path, server_database_url: str | None
) -> None:
    port = free_port()
    key, job_id = start_long_job_then_crash(tmp_path, port, server_database_url)
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port, database_url=server_database_url) as process:
        assert read_until_ready(process) is None  # keys exist: no new sandbox key
        job = wait_terminal(base, key, job_id)
        assert job["status"] == "completed", job
        assert job["outputData"]["video"]["duration_seconds"] == 30
        credits = quota(base, key)["credits"]
        assert credits["used"] == job["estimatedCredits"] == job["actualCredits"]
        assert credits["reserved"] == 0


def test_job_out_of_attempts_fails_and_releases_after_restart(
    tmp_path: Path, server_database_url: str | None
) -> None:
    port = free_port()
    one_attempt = {"VIDGATE_JOB_MAX_ATTEMPTS": "1"}
    key, job_id = start_long_job_then_crash(tmp_path, port, server_database_url, **one_attempt)
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port, database_url=server_database_url, **one_attempt) as process:
        read_until_ready(process)
        job = wait_terminal(base, key, job_id)
        assert job["status"] == "failed"
        assert "stopped 1 times" in job["errorMessage"]
        assert job["actualCredits"] == 0
        credits = quota(base, key)["credits"]
        assert credits["used"] == 0 and credits["reserved"] == 0


def test_pending_jobs_survive_a_restart(tmp_path: Path, server_database_url: str | None) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port, database_url=server_database_url, VIDGATE_WORKERS="1") as process:
        key = read_until_ready(process)
        headers = {"Authorization": f"Bearer {key}"}
        ids = [requests.post(f"{base}/api/v1/videos/generations?async=true", json=body,
                             headers=headers, timeout=30).json()["id"]
               for body in (LONG_JOB, {"prompt": "snow", "duration_seconds": 1})]
        crash(process)
    with vidgate_serve(tmp_path, port, database_url=server_database_url) as process:
        read_until_ready(process)
        assert key is not None
        assert wait_terminal(base, key, ids[1])["status"] == "completed"


def test_fal_job_killed_mid_request_resumes_without_a_second_submit(
    tmp_path: Path, server_database_url: str | None
) -> None:
    fake = FakeFal(key="fal-test-key")
    fake.polls_in_queue, fake.polls_in_progress = 0, 100_000
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _fal_for_servers(fake, tmp_path, server_database_url) as (fal, key):
        headers = {"Authorization": f"Bearer {key}"}
        with vidgate_serve(tmp_path, port, database_url=server_database_url, **fal) as process:
            read_until_ready(process)
            job_id = requests.post(f"{base}/api/v1/videos/generations?async=true",
                                   json={"prompt": "a", "model": "fal-ai/veo3"}, headers=headers,
                                   timeout=30).json()["id"]
            deadline = time.monotonic() + 30
            # The job polls only once its request is stored: a status call means it is saved.
            while not (fake.submissions and fake.status_calls(fake.submissions[0].request_id)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            crash(process)
        fake.finish(fake.submissions[0].request_id)
        with vidgate_serve(tmp_path, port, database_url=server_database_url, **fal) as process:
            read_until_ready(process)
            job = wait_terminal(base, key, job_id)
    assert job["status"] == "completed", job
    assert len(fake.submissions) == 1
    assert job["outputData"]["video"]["url"].startswith(f"{base}/files/")


@contextlib.contextmanager
def _fal_for_servers(
    fake: FakeFal, data_dir: Path, database_url: str | None
) -> Iterator[tuple[dict[str, str], str]]:
    """`fake` served; the environment that points a vidgate server at it, and a live key
    (sandbox keys never reach fal) created in the server's database."""
    from click.testing import CliRunner

    from tests.live_server import serve_in_thread
    from vidgate.cli import main as cli

    with serve_in_thread(fake.app) as fal_url:
        fake.base_url = fal_url
        created = CliRunner().invoke(
            cli, ["keys", "create", "--name", "live", "--credits", "10000", "--video-seconds", "100"],
            env={"VIDGATE_DATA_DIR": str(data_dir), "DATABASE_URL": database_url},
        )
        assert created.exit_code == 0, created.output
        key = created.stdout.strip().splitlines()[-1]  # the key alone; log lines go to stderr
        yield {"FAL_KEY": "fal-test-key", "VIDGATE_FAL_QUEUE_URL": fal_url}, key


def test_fal_job_killed_mid_submit_is_failed_not_submitted_again(
    tmp_path: Path, server_database_url: str | None
) -> None:
    """Killed after fal got the submit but before its answer was stored: whether fal runs it
    is unknown, so the job fails (nothing charged) instead of paying for a second one."""
    fake = FakeFal(key="fal-test-key")
    fake.slow_submit_seconds = 5.0  # fal has the submit; the server dies before its answer
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _fal_for_servers(fake, tmp_path, server_database_url) as (fal, key):
        with vidgate_serve(tmp_path, port, database_url=server_database_url, **fal) as process:
            read_until_ready(process)
            job_id = requests.post(f"{base}/api/v1/videos/generations?async=true",
                                   json={"prompt": "a", "model": "fal-ai/veo3"},
                                   headers={"Authorization": f"Bearer {key}"}, timeout=30).json()["id"]
            deadline = time.monotonic() + 30
            while not fake.submissions:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            crash(process)
        fake.slow_submit_seconds = 0
        with vidgate_serve(tmp_path, port, database_url=server_database_url, **fal) as process:
            read_until_ready(process)
            job = wait_terminal(base, key, job_id)
            credits = quota(base, key)["credits"]
    assert job["status"] == "failed", job
    assert "not submitted again, to avoid a second charge" in job["errorMessage"]
    assert credits["used"] == 0 and credits["reserved"] == 0
    assert len(fake.submissions) == 1
