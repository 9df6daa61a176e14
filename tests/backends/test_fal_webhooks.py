"""fal's webhooks: verified Ed25519 signatures wake the job at once; anything else is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.backends.fal_support import FAL_KEY
from tests.conftest import Harness, auth, settings_for_tests
from tests.fal_fake import FakeFal
from vidgate.app import create_app
from vidgate.backends.fal import FalBackend

PUBLIC_URL = "https://videos.example.com"
JWKS_URL = "https://jwks.test/.well-known/jwks.json"
SIGNING_KEY = Ed25519PrivateKey.generate()


def _jwks(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"keys": [{"kty": "OKP", "crv": "Ed25519",
                      "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]}


def signed(request_id: str, body: bytes, *, key: Ed25519PrivateKey = SIGNING_KEY,
           timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = "\n".join([request_id, "user-1", stamp, hashlib.sha256(body).hexdigest()]).encode()
    return {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": "user-1",
            "X-Fal-Webhook-Timestamp": stamp, "X-Fal-Webhook-Signature": key.sign(message).hex(),
            "Content-Type": "application/json"}


@pytest.fixture
async def fal_with_webhooks(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> AsyncIterator[tuple[Harness, FakeFal]]:
    settings = settings_for_tests(tmp_path / "data", database_url=database_url, fal_key=FAL_KEY,
                                  fal_queue_url=fake_fal.base_url, public_url=PUBLIC_URL,
                                  fal_jwks_url=JWKS_URL)
    app = create_app(settings)
    jwks = httpx.MockTransport(lambda request: httpx.Response(200, json=_jwks(SIGNING_KEY)))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                     timeout=60) as client:
            harness = Harness(app, client)
            # Polls every 30 s: within a test, only the webhook can finish the job quickly.
            harness.runtime.backends["fal"] = FalBackend(
                key=FAL_KEY, queue_url=fake_fal.base_url, max_download_bytes=10**8,
                poll_first_seconds=30, webhook_url=f"{PUBLIC_URL}/api/v1/webhooks/fal", jwks_url=JWKS_URL,
                http=httpx.AsyncClient(mounts={"https://jwks.test": jwks}),
            )
            yield harness, fake_fal


async def _submitted(harness: Harness, fake: FakeFal, key: str) -> str:
    fake.polls_in_queue, fake.polls_in_progress = 0, 10_000
    response = await harness.client.post("/api/v1/videos/generations?async=true",
                                         json={"prompt": "a", "model": "fal-ai/veo3"}, headers=auth(key))
    job_id = response.json()["id"]
    for _ in range(250):
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
        # Once fal has answered one status call, the job waits 30 s for its next poll.
        if fake.submissions and job["status"] == "processing" and fake.status_calls(
                fake.submissions[0].request_id):
            return job_id
        await asyncio.sleep(0.02)
    raise AssertionError("the job never reached fal")


async def test_a_signed_webhook_completes_the_job_at_once(fal_with_webhooks: tuple[Harness, FakeFal]) -> None:
    harness, fake = fal_with_webhooks
    key = await harness.key(sandbox=False)
    job_id = await _submitted(harness, fake, key)
    request_id = fake.submissions[0].request_id
    assert fake.submissions[0].webhook == f"{PUBLIC_URL}/api/v1/webhooks/fal"
    fake.finish(request_id)
    body = json.dumps({"request_id": request_id, "status": "OK", "payload": {}}).encode()
    started = time.monotonic()
    response = await harness.client.post("/api/v1/webhooks/fal", content=body, headers=signed(request_id, body))
    assert response.status_code == 200
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
    assert job["status"] == "completed"
    assert time.monotonic() - started < 10
    again = await harness.client.post("/api/v1/webhooks/fal", content=body, headers=signed(request_id, body))
    assert again.status_code == 200  # fal retries deliveries: a repeat changes nothing
    assert (await harness.quota(key))["credits"]["reserved"] == 0


@pytest.mark.parametrize("forgery", ["other key", "stale", "tampered body", "no headers"])
async def test_unverified_webhooks_are_refused(fal_with_webhooks: tuple[Harness, FakeFal], forgery: str) -> None:
    harness, fake = fal_with_webhooks
    key = await harness.key(sandbox=False)
    job_id = await _submitted(harness, fake, key)
    request_id = fake.submissions[0].request_id
    fake.finish(request_id)
    body = json.dumps({"request_id": request_id, "status": "OK"}).encode()
    headers = {
        "other key": signed(request_id, body, key=Ed25519PrivateKey.generate()),
        "stale": signed(request_id, body, timestamp=int(time.time()) - 3600),
        "tampered body": signed(request_id, b'{"request_id": "x"}'),
        "no headers": {"Content-Type": "application/json"},
    }[forgery]
    response = await harness.client.post("/api/v1/webhooks/fal", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid webhook signature"}
    await asyncio.sleep(0.3)
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
    assert job["status"] == "processing"  # still waiting for its next poll, 30 s away
    await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))


async def test_webhooks_without_fal_configured_are_404(harness: Harness) -> None:
    response = await harness.client.post("/api/v1/webhooks/fal", content=b"{}")
    assert response.status_code == 404
    assert response.json() == {"error": "fal.ai is not configured on this server"}


def test_the_fake_fals_own_webhook_completes_a_job_on_a_real_server(tmp_path: Path) -> None:
    """End to end over HTTP: vidgate serves on a port, the fake fal delivers its signed
    webhook there when the model is done, long before the next poll (30 s away)."""
    import requests

    from tests.live_server import free_port, serve_in_thread
    from tests.test_seed_examples import _sandbox_key

    fake = FakeFal(key=FAL_KEY)
    fake.polls_in_queue, fake.polls_in_progress = 0, 100_000
    port = free_port()
    with serve_in_thread(fake.app) as fal_url:
        fake.base_url = fal_url
        public = f"http://127.0.0.1:{port}"
        settings = settings_for_tests(tmp_path / "data", fal_key=FAL_KEY, fal_queue_url=fal_url,
                                      fal_rest_url=fal_url, fal_jwks_url=f"{fal_url}/.well-known/jwks.json",
                                      public_url=public, fal_poll_seconds=30)
        key = asyncio.run(_sandbox_key(settings, sandbox=False))
        with serve_in_thread(create_app(settings), port=port):
            headers = {"Authorization": f"Bearer {key}"}
            job_id = requests.post(f"{public}/api/v1/videos/generations?async=true",
                                   json={"prompt": "a", "model": "fal-ai/veo3"}, headers=headers,
                                   timeout=30).json()["id"]
            deadline = time.monotonic() + 20
            while not fake.submissions:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)  # the job has polled once and now waits
            started = time.monotonic()
            fake.finish(fake.submissions[0].request_id)
            job = requests.get(f"{public}/api/v1/jobs/{job_id}?poll=true", headers=headers, timeout=60).json()
    assert job["status"] == "completed", job
    assert time.monotonic() - started < 10
    assert fake.webhook_deliveries == [(fake.submissions[0].request_id, 200)]
