"""Real servers on free loopback ports, for clients such as `requests` and curl: an app in a
thread, or `vidgate serve` itself in a process of its own."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any, *, certfile: str | None = None, keyfile: str | None = None, port: int | None = None
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (over TLS with a certificate and key); yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=certfile, ssl_keyfile=keyfile
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def vidgate_serve(
    data_dir: Path, port: int, *, database_url: str | None = None, **env: str
) -> Iterator[subprocess.Popen[str]]:
    """`vidgate serve` in its own process group, on `data_dir` (and `database_url`, default
    the SQLite file in `data_dir`), with `env` added to its environment."""
    environment = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_PORT": str(port),
        "VIDGATE_JOB_LEASE_SECONDS": "2",
        **env,
    }
    environment.pop("DATABASE_URL", None)
    if database_url:
        environment["DATABASE_URL"] = database_url
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


def wait_until_ready(process: subprocess.Popen[str], later: list[str] | None = None) -> str:
    """Read the server's output until it listens; return what it printed until then. What it
    prints afterwards goes to `later`, line by line, if given."""
    assert process.stdout is not None
    stdout = process.stdout
    printed = []
    deadline = time.monotonic() + 60
    for line in stdout:
        printed.append(line)
        if "Uvicorn running on" in line:
            # Keep draining the output so the server never blocks on a full pipe.
            drain = stdout.read if later is None else lambda: later.extend(stdout)
            threading.Thread(target=drain, daemon=True).start()
            return "".join(printed)
        assert time.monotonic() < deadline, "server did not start"
    raise AssertionError("server exited before it was ready:\n" + "".join(printed))


def printed_key(output: str) -> str | None:
    """The sandbox key a first start printed, if it did."""
    found = re.search(r"\b(sk_test_[0-9a-f]{64})\b", output)
    return found.group(1) if found else None



def wait_for_progress(base: str, headers: dict[str, str], job_id: str) -> None:
    """Until the server says the job is processing and has made progress (a render under way)."""
    import requests

    deadline = time.monotonic() + 60
    while True:
        job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
        if job["status"] == "processing" and job["progress"] > 0:
            return
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
