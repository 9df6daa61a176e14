"""A scale-out deployment on one machine, for the tests: `vidgate serve --no-workers` API
processes and `vidgate worker` processes, on a fresh PostgreSQL database (reached through a
proxy the tests can cut) and the S3 server, with fal answered by the fake fal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.fal_fake import FakeFal
from tests.live_server import free_port
from tests.s3_server import S3Server

FAL_KEY = "fal-test-key"


class TcpProxy:
    """Forwards a loopback port to `upstream`; `cut()` drops every connection and refuses new
    ones (the database gone from the network), `restore()` lets them through again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def cut_off(self) -> bool:
        return self._listener is None

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@dataclass
class Process:
    name: str
    args: list[str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Topology:
    folder: Path
    database_url: str  # through the proxy
    proxy: TcpProxy
    s3: S3Server
    fal: FakeFal
    prefix: str
    apis: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)  # settings of every process

    def env(self, **extra: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("VIDGATE_") and name != "FAL_KEY"}
        env.update({
            "DATABASE_URL": self.database_url,
            "VIDGATE_CONFIG": str(self.folder / "no-vidgate.toml"),
            "VIDGATE_MIGRATE_ON_START": "false",
            "VIDGATE_JOB_LEASE_SECONDS": "3",  # heartbeats every second, stalled after three
            "VIDGATE_LOG_FORMAT": "json",
            "VIDGATE_STORAGE": "s3",
            "VIDGATE_S3_BUCKET": "vidgate-test",
            "VIDGATE_S3_ENDPOINT_URL": self.s3.endpoint,
            "VIDGATE_S3_ACCESS_KEY_ID": "vidgate-test",
            "VIDGATE_S3_SECRET_ACCESS_KEY": "vidgate-test-secret",
            "VIDGATE_S3_PREFIX": self.prefix,
            "FAL_KEY": FAL_KEY,
            "VIDGATE_FAL_QUEUE_URL": self.fal.base_url,
            "VIDGATE_FAL_REST_URL": self.fal.base_url,
            "VIDGATE_FAL_POLL_SECONDS": "0.05",
            "VIDGATE_FAL_CONCURRENCY": "100",
            "VIDGATE_MAX_ACTIVE_JOBS_PER_KEY": "1000",
            # the tests send hundreds of requests a second with one key; a test of the limits
            # gives its key limits of its own
            "VIDGATE_RATE_LIMIT": "1000000/minute",
            "VIDGATE_GENERATION_RATE_LIMIT": "1000000/minute",
            "VIDGATE_DATABASE_POOL_SIZE": "5",
            "VIDGATE_ALLOW_PRIVATE_SOURCES": "true",  # the tests' webhook receivers are on loopback
            **self.overrides,
            **extra,
        })
        return env

    def vidgate(self, *args: str) -> str:
        """Run a vidgate command to its end; what it printed."""
        done = subprocess.run([sys.executable, "-m", "vidgate", *args], env=self.env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def key(self, *options: str, sandbox: bool = True) -> str:
        args = ["keys", "create", "--name", "t", "--credits", "10000000", "--video-seconds", "1000000", *options]
        return self.vidgate(*args, *(["--sandbox"] if sandbox else [])).strip().splitlines()[-1]

    def add_api(self) -> Process:
        port = free_port()
        number = len(self.apis) + 1
        process = Process(f"api{number}", ["serve", "--no-workers", "--port", str(port)],
                          self.folder / f"api{number}.log", port=port)
        self.apis.append(process)
        self.start(process)
        return process

    def add_worker(self, *args: str) -> Process:
        number = len(self.workers) + 1
        process = Process(f"worker{number}", ["worker", *args], self.folder / f"worker{number}.log")
        self.workers.append(process)
        self.start(process)
        return process

    def start(self, process: Process) -> None:
        data = self.folder / process.name
        data.mkdir(exist_ok=True)
        with process.log.open("ab") as log:
            process.popen = subprocess.Popen(
                [sys.executable, "-m", "vidgate", *process.args],
                env=self.env(VIDGATE_DATA_DIR=str(data)), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill takes its render processes too
            )
        self._wait_ready(process)

    def _wait_ready(self, process: Process) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert process.popen is not None and process.popen.poll() is None, self.tail(process)
            if process.port is not None:
                try:
                    if httpx.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            elif b"vidgate worker running jobs" in process.log.read_bytes():
                return
            assert time.monotonic() < deadline, f"{process.name} did not start\n" + self.tail(process)
            time.sleep(0.1)

    def kill(self, process: Process) -> None:
        """SIGKILL, no goodbyes: the process and its render processes."""
        assert process.popen is not None
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=30)
        process.popen = None

    def stop(self, process: Process) -> None:
        if process.popen is not None and process.popen.poll() is None:
            os.killpg(process.popen.pid, signal.SIGTERM)
            try:
                process.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        process.popen = None

    def ensure_running(self) -> None:
        for process in self.apis + self.workers:
            if process.popen is None or process.popen.poll() is not None:
                self.start(process)

    def tail(self, process: Process, lines: int = 40) -> str:
        text = process.log.read_text(errors="replace") if process.log.exists() else ""
        return f"--- {process.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def through(proxy: TcpProxy, url: str) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    address = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{address}" if len(netloc) == 2 else address))


@contextmanager
def topology(folder: Path, database_url: str, s3: S3Server, fal: FakeFal, *, apis: int, workers: int,
             overrides: dict[str, str] | None = None) -> Iterator[Topology]:
    parts = urlsplit(database_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.restore()
    deployment = Topology(folder, through(proxy, database_url), proxy, s3, fal, prefix=f"{folder.name}/",
                          overrides=overrides or {})
    try:
        deployment.vidgate("db", "upgrade")
        for _ in range(apis):
            deployment.add_api()
        for _ in range(workers):
            deployment.add_worker()
        yield deployment
    finally:
        for process in deployment.apis + deployment.workers:
            deployment.stop(process)
        proxy.cut()
