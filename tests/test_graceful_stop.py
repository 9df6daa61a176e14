"""Stopping `vidgate serve` with a signal, as a terminal (Ctrl-C) or a service manager
(SIGTERM, to the whole process group) does: nothing more is claimed, held requests are
answered at once with their job as it stands, running renders go back to the queue without a
traceback, and the process is gone within VIDGATE_SHUTDOWN_SECONDS whatever a client holds."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.live_server import free_port, printed_key, vidgate_serve, wait_for_progress, wait_until_ready

pytestmark = pytest.mark.slow

LONG_JOB = {"prompt": "city lights at night", "model": "vidgate/local", "duration_seconds": 30,
            "resolution": "720p"}
SHORT_JOB = {"prompt": "snow", "model": "vidgate/local", "duration_seconds": 1}
# Answers to held requests come at once; the whole stop stays within the default bound (10 s).
ANSWERED_WITHIN_SECONDS = 3.0
STOPPED_WITHIN_SECONDS = 10.0


class HeldRequest(threading.Thread):
    """A request sent in the background; its response and when it came."""

    def __init__(self, method: str, url: str, **kwargs: object) -> None:
        super().__init__(daemon=True)
        self.call = lambda: requests.request(method, url, timeout=120, **kwargs)  # type: ignore[arg-type]
        self.response: requests.Response | None = None
        self.answered_at = 0.0
        self.start()

    def run(self) -> None:
        self.response = self.call()
        self.answered_at = time.monotonic()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_answers_held_requests_claims_nothing_more_and_gives_the_render_back(
    tmp_path: Path, server_database_url: str | None, signum: signal.Signals
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    with vidgate_serve(tmp_path, port, database_url=server_database_url, VIDGATE_WORKERS="1") as process:
        key = printed_key(wait_until_ready(process, output))
        headers = {"Authorization": f"Bearer {key}"}
        sync = HeldRequest("POST", f"{base}/api/v1/videos/generations", json=LONG_JOB, headers=headers)
        deadline = time.monotonic() + 30
        while not (jobs := requests.get(f"{base}/api/v1/jobs", headers=headers, timeout=30).json()["jobs"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        long_id = jobs[0]["id"]
        wait_for_progress(base, headers, long_id)
        queued_id = requests.post(f"{base}/api/v1/videos/generations?async=true", json=SHORT_JOB,
                                  headers=headers, timeout=30).json()["id"]
        poll = HeldRequest("GET", f"{base}/api/v1/jobs/{queued_id}?poll=true", headers=headers)
        time.sleep(1.0)  # the poll reaches the server and waits (the sync one already does)

        signalled_at = time.monotonic()
        os.killpg(process.pid, signum)  # the server, its render processes and its forkserver
        process.wait(timeout=STOPPED_WITHIN_SECONDS + 5)
        assert time.monotonic() - signalled_at < STOPPED_WITHIN_SECONDS
        sync.join(timeout=5)
        poll.join(timeout=5)

    assert sync.response is not None and poll.response is not None
    assert sync.answered_at - signalled_at < ANSWERED_WITHIN_SECONDS
    assert poll.answered_at - signalled_at < ANSWERED_WITHIN_SECONDS
    assert sync.response.status_code == 503, sync.response.text
    assert sync.response.json()["id"] == long_id
    assert "stopping" in sync.response.json()["error"]
    assert poll.response.status_code == 200
    assert poll.response.json()["status"] == "pending"
    printed = "".join(output)
    assert "Traceback" not in printed and "Aborted" not in printed, printed
    assert f"job {queued_id} started" not in printed  # nothing claimed after the signal
    assert f"job {long_id} requeued" in printed

    with vidgate_serve(tmp_path, port, database_url=server_database_url, VIDGATE_WORKERS="1") as process:
        wait_until_ready(process)
        long_job = requests.get(f"{base}/api/v1/jobs/{long_id}", headers=headers, timeout=30).json()
    assert long_job["status"] in ("pending", "processing"), long_job  # given back, not failed
    assert long_job["errorMessage"] is None


def test_a_stop_ends_within_its_bound_whatever_a_client_holds(
    tmp_path: Path, server_database_url: str | None
) -> None:
    bound = 2.0
    port = free_port()
    with vidgate_serve(tmp_path, port, database_url=server_database_url,
                       VIDGATE_SHUTDOWN_SECONDS=str(bound)) as process:
        key = printed_key(wait_until_ready(process))
        with socket.create_connection(("127.0.0.1", port)) as stalled:  # a body that never ends
            stalled.sendall(
                b"POST /api/v1/videos/generations HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {key}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"prompt\": "
            )
            time.sleep(0.5)
            signalled_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=bound + 10)
            stopped_after = time.monotonic() - signalled_at
    assert stopped_after < bound + 1.0
