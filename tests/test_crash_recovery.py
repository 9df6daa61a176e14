"""A server killed with SIGKILL mid-job: the job is retried, or failed with its reservation
released, when the server comes back. Runs the real `vidgate serve` in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.live_server import free_port

pytestmark = pytest.mark.slow

LONG_JOB = {"prompt": "city lights at night", "model": "vidgate/local", "duration_seconds": 30,
            "resolution": "720p"}


@contextmanager
def vidgate_serve(data_dir: Path, port: int, **env: str) -> Iterator[subprocess.Popen[str]]:
    environment = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_PORT": str(port),
        "VIDGATE_JOB_LEASE_SECONDS": "2",
        **env,
    }
    environment.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "serve"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def read_until_ready(process: subprocess.Popen[str]) -> str | None:
    """Read the server's output until it listens; return the sandbox key it printed, if any."""
    assert process.stdout is not None
    key = None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        found = re.search(r"\b(sk_test_[0-9a-f]{64})\b", line)
        key = key or (found.group(1) if found else None)
        if "Uvicorn running on" in line:
            # Keep draining the output so the server never blocks on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return key
        assert time.monotonic() < deadline, "server did not start"
    raise AssertionError("server exited before it was ready")


def crash(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # the server and its render processes, no goodbyes
    process.wait(timeout=10)


def start_long_job_then_crash(data_dir: Path, port: int, **env: str) -> tuple[str, str]:
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(data_dir, port, **env) as process:
        key = read_until_ready(process)
        assert key, "the first start prints a sandbox key"
        headers = {"Authorization": f"Bearer {key}"}
        job_id = requests.post(f"{base}/api/v1/videos/generations?async=true", json=LONG_JOB,
                               headers=headers, timeout=30).json()["id"]
        deadline = time.monotonic() + 60
        while True:
            job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["status"] == "processing" and job["progress"] > 0:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
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


def test_job_killed_mid_render_is_retried_after_restart(tmp_path: Path) -> None:
    port = free_port()
    key, job_id = start_long_job_then_crash(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port) as process:
        assert read_until_ready(process) is None  # keys exist: no new sandbox key
        job = wait_terminal(base, key, job_id)
        assert job["status"] == "completed", job
        assert job["outputData"]["video"]["duration_seconds"] == 30
        credits = quota(base, key)["credits"]
        assert credits["used"] == job["estimatedCredits"] == job["actualCredits"]
        assert credits["reserved"] == 0


def test_job_out_of_attempts_fails_and_releases_after_restart(tmp_path: Path) -> None:
    port = free_port()
    key, job_id = start_long_job_then_crash(tmp_path, port, VIDGATE_JOB_MAX_ATTEMPTS="1")
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port, VIDGATE_JOB_MAX_ATTEMPTS="1") as process:
        read_until_ready(process)
        job = wait_terminal(base, key, job_id)
        assert job["status"] == "failed"
        assert "stopped 1 times" in job["errorMessage"]
        assert job["actualCredits"] == 0
        credits = quota(base, key)["credits"]
        assert credits["used"] == 0 and credits["reserved"] == 0


def test_pending_jobs_survive_a_restart(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with vidgate_serve(tmp_path, port, VIDGATE_WORKERS="1") as process:
        key = read_until_ready(process)
        headers = {"Authorization": f"Bearer {key}"}
        ids = [requests.post(f"{base}/api/v1/videos/generations?async=true", json=body,
                             headers=headers, timeout=30).json()["id"]
               for body in (LONG_JOB, {"prompt": "snow", "duration_seconds": 1})]
        crash(process)
    with vidgate_serve(tmp_path, port) as process:
        read_until_ready(process)
        assert key is not None
        assert wait_terminal(base, key, ids[1])["status"] == "completed"


def test_fal_job_killed_mid_request_resumes_without_a_second_submit(tmp_path: Path) -> None:
    from tests.fal_fake import FakeFal
    from tests.live_server import serve_in_thread
    from vidgate.cli import main as cli

    fake = FakeFal(key="fal-test-key")
    fake.polls_in_queue, fake.polls_in_progress = 0, 100_000
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env_dir = {"VIDGATE_DATA_DIR": str(tmp_path)}
    with serve_in_thread(fake.app) as fal_url:
        fake.base_url = fal_url
        fal = {"FAL_KEY": "fal-test-key", "VIDGATE_FAL_QUEUE_URL": fal_url}
        from click.testing import CliRunner

        created = CliRunner().invoke(cli, ["keys", "create", "--name", "live", "--credits", "10000",
                                           "--video-seconds", "100"], env=env_dir)
        key = created.output.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        with vidgate_serve(tmp_path, port, **fal) as process:
            read_until_ready(process)
            job_id = requests.post(f"{base}/api/v1/videos/generations?async=true",
                                   json={"prompt": "a", "model": "fal-ai/veo3"}, headers=headers,
                                   timeout=30).json()["id"]
            deadline = time.monotonic() + 30
            while not fake.submissions:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)  # the request id is stored with the job before polling starts
            crash(process)
        fake.finish(fake.submissions[0].request_id)
        with vidgate_serve(tmp_path, port, **fal) as process:
            read_until_ready(process)
            job = wait_terminal(base, key, job_id)
    assert job["status"] == "completed", job
    assert len(fake.submissions) == 1
    assert job["outputData"]["video"]["url"].startswith(f"{base}/files/")
