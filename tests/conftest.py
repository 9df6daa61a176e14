"""Shared fixtures: an app on a temporary data folder, API clients, keys, a fake internet."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import secrets
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from tests.s3_server import S3Server, s3_server
from vidgate.api.side import ApiSide
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.auth.models import ApiKey
from vidgate.backends.registry import PluginFactory, load_plugins
from vidgate.billing.models import LedgerEntry
from vidgate.catalog import Catalog
from vidgate.config import Settings
from vidgate.jobs.models import Job
from vidgate.jobs.store import Sessions
from vidgate.jobs.worker import WorkerSide
from vidgate.ops.logs import logging_config


def installed_catalog() -> Catalog:
    """The models of the backend plugins installed (the built-in ones)."""
    return Catalog(model for plugin in load_plugins(Settings()) for model in plugin.models)


def make_png(width: int = 320, height: int = 240) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(width):
        for y in range(0, height, 8):
            image.putpixel((x, y), (x % 256, (y * 2) % 256, 128))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sparse_png(width: int, height: int) -> bytes:
    """A black RGB PNG written by hand, row by row: a few hundred KB on disk that decode to
    3 bytes a pixel (13,000 x 13,000 is 507 MB), made without holding the picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + bytes(width * 3)  # filter type 0, then the row's pixels
    packer = zlib.compressobj(1)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def seed_internet() -> httpx.MockTransport:
    """The internet as the seed's examples need it: the portrait of its image-to-video example
    (a portrait indeed, 3:4)."""
    return fake_internet({SEED_PORTRAIT_URL: make_png(240, 320)})


def fake_internet(files: dict[str, bytes]) -> httpx.MockTransport:
    """Stands in for the internet when the server downloads source media: serves `files`
    by URL, 404 for anything else. No test reaches a real host."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = files.get(str(request.url))
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, content=body)

    return httpx.MockTransport(handler)


SEED_PORTRAIT_URL = "https://example.com/portrait.jpg"


@pytest.fixture(autouse=True)
def settings_from_the_tests_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from what each test gives, not from the environment it runs in (a
    FAL_KEY there would configure fal for every app), nor from a vidgate.toml."""
    for name in list(os.environ):
        if name == "FAL_KEY" or (name.startswith("VIDGATE_") and name != TEST_DATABASE_ENV):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VIDGATE_CONFIG", str(tmp_path / "no-such-vidgate.toml"))


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """A command run in-process (`vidgate worker`, `serve`) or a test configures logging for a
    whole process, its handlers writing to that moment's captured stderr; put back the loggers
    it configures, so that later tests do not log into a closed stream."""
    names = [None, *logging_config("text")["loggers"]]
    saved = {name: (lg.handlers[:], lg.level, lg.propagate) for name in names for lg in [logging.getLogger(name)]}
    yield
    for name, (handlers, level, propagate) in saved.items():
        restored = logging.getLogger(name)
        restored.handlers[:] = handlers
        restored.setLevel(level)
        restored.propagate = propagate


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """Names the platform's resolver answers from this table (no DNS server is asked): an
    address, or None for a name that does not exist. Other names resolve as usual."""
    names: dict[str, str | None] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        if name in names and not flags & socket.AI_NUMERICHOST:  # numeric parsing looks nothing up
            if names[name] is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real_getaddrinfo(names[name], port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


# Set to a PostgreSQL server's admin URL (e.g. postgresql://postgres:pw@127.0.0.1/postgres) to
# run every test that uses a harness on a fresh PostgreSQL database instead of SQLite.
TEST_DATABASE_ENV = "VIDGATE_TEST_DATABASE_URL"


async def fresh_postgres_database(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Create an empty database; return its URL and a coroutine function that drops it."""
    name = "vidgate_test_" + secrets.token_hex(6)
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def settings_for_tests(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "job_lease_seconds": 2.0,
        "workers": 2,
    }
    values.update(overrides)
    return Settings(**values)


class Harness:
    """An app with its services started, an httpx client on it, and key helpers."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def api(self) -> ApiSide:
        api: ApiSide = self.app.state.api
        return api

    @property
    def worker(self) -> WorkerSide:
        worker: WorkerSide = self.app.state.worker
        return worker

    @property
    def sessions(self) -> Sessions:
        return self.api.sessions

    @property
    def settings(self) -> Settings:
        return self.api.settings

    async def key(
        self,
        *,
        sandbox: bool = True,
        scopes: tuple[str, ...] = ("video", "jobs", "usage"),
        credits: int = 100_000,
        seconds: int = 10_000,
        rate_limit: str | None = None,
        generation_rate_limit: str | None = None,
    ) -> str:
        _row, secret = await keys.create_key(
            self.sessions,
            name="test",
            scopes=scopes,
            credits=credits,
            video_seconds=seconds,
            sandbox=sandbox,
            rate_limit=rate_limit,
            generation_rate_limit=generation_rate_limit,
        )
        return secret

    async def quota(self, key: str) -> dict[str, Any]:
        response = await self.client.get("/api/v1/quota", headers=auth(key))
        assert response.status_code == 200, response.text
        return response.json()["quotas"]

    async def job_count(self, key: str) -> int:
        response = await self.client.get("/api/v1/jobs?limit=100", headers=auth(key))
        assert response.status_code == 200, response.text
        return len(response.json()["jobs"])

    async def stored_state(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every key's balances, every job id and every ledger row: what a refused request
        must leave exactly as it found it."""
        balances = select(
            ApiKey.id, ApiKey.credits_used, ApiKey.credits_reserved, ApiKey.seconds_used,
            ApiKey.seconds_reserved, ApiKey.active_jobs, ApiKey.revoked_at,
        ).order_by(ApiKey.id)
        ledger = select(
            LedgerEntry.id, LedgerEntry.key_id, LedgerEntry.job_id, LedgerEntry.kind,
            LedgerEntry.credits, LedgerEntry.seconds,
        ).order_by(LedgerEntry.id)
        async with self.sessions() as session:
            return {
                "keys": [tuple(row) for row in (await session.execute(balances)).all()],
                "jobs": list((await session.scalars(select(Job.id).order_by(Job.id))).all()),
                "ledger": [tuple(row) for row in (await session.execute(ledger)).all()],
            }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """None (SQLite in the data folder), or a fresh PostgreSQL database when configured."""
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url:
        yield None
        return
    url, drop = await fresh_postgres_database(admin_url)
    yield url
    await drop()


@contextlib.contextmanager
def server_database() -> Iterator[str | None]:
    """`database_url` for a server that runs in a thread or another process, outside any
    test's event loop (and for fixtures wider than one test)."""
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url:
        yield None
        return
    url, drop = asyncio.run(fresh_postgres_database(admin_url))
    try:
        yield url
    finally:
        asyncio.run(drop())


@pytest.fixture
def server_database_url() -> Iterator[str | None]:
    with server_database() as url:
        yield url


@contextlib.asynccontextmanager
async def running_harness(
    data_dir: Path,
    database_url: str | None,
    *,
    transport: httpx.AsyncBaseTransport | None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """An app on `data_dir` with its services started. `transport` stands in for the internet
    when the server downloads sources; None lets it use the real network stack."""
    settings = settings_for_tests(data_dir, database_url=database_url, **overrides)
    async with serving(settings, transport=transport) as ready:
        yield ready


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    plugins: Sequence[PluginFactory] | None = None,
) -> AsyncIterator[Harness]:
    """An app for `settings` (and backend `plugins`: default, those installed) with its
    services started, and a client that calls it in-process."""
    app = create_app(settings, plugins=plugins, http_transport=transport)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
        ) as client:
            yield Harness(app, client)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3-compatible server (SeaweedFS on loopback) for the whole run."""
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
async def harness(tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    async with running_harness(tmp_path / "data", database_url, transport=seed_internet()) as ready:
        yield ready
