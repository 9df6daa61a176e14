"""fal's webhooks: verified Ed25519 signatures wake the job at once; anything else is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.backends.fal_support import FAL_KEY, fal_settings, fast_fal, finished_job, serving_fal, wait_for
from tests.conftest import Harness, auth, settings_for_tests
from tests.fal_fake import FakeFal
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.backends import local
from vidgate.backends.fal import FalBackend, webhooks
from vidgate.backends.fal import plugin as fal_plugin

PUBLIC_URL = "https://videos.example.com"
SIGNING_KEY = Ed25519PrivateKey.generate()


def _jwks(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"keys": [{"kty": "OKP", "crv": "Ed25519",
                      "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]}


class Jwks:
    """fal's JWKS endpoint, served on loopback as the tests want it: the key it publishes,
    or a failure."""

    def __init__(self) -> None:
        self.key = SIGNING_KEY
        self.answer: httpx.Response | None = None  # instead of the keys, when set
        self.fetches = 0
        self.url = ""

    async def serve(self, request: Request) -> Response:
        self.fetches += 1
        if self.answer is None:
            return JSONResponse(_jwks(self.key))
        return Response(self.answer.content, status_code=self.answer.status_code,
                        media_type=self.answer.headers.get("content-type"))

    @contextmanager
    def running(self) -> Iterator[Jwks]:
        with serve_in_thread(Starlette(routes=[Route("/.well-known/jwks.json", self.serve)])) as base:
            self.url = f"{base}/.well-known/jwks.json"
            yield self


def signed(request_id: str, body: bytes, *, key: Ed25519PrivateKey = SIGNING_KEY,
           timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = "\n".join([request_id, "user-1", stamp, hashlib.sha256(body).hexdigest()]).encode()
    return {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": "user-1",
            "X-Fal-Webhook-Timestamp": stamp, "X-Fal-Webhook-Signature": key.sign(message).hex(),
            "Content-Type": "application/json"}


def _webhook_backend(harness: Harness, fake: FakeFal, *, poll_seconds: float) -> FalBackend:
    return fast_fal(harness, fake, poll_first_seconds=poll_seconds,
                    webhook_url=f"{PUBLIC_URL}/api/v1/webhooks/fal")


@pytest.fixture
async def fal_with_webhooks(
    tmp_path: Path, fake_fal: FakeFal, database_url: str | None
) -> AsyncIterator[tuple[Harness, FakeFal, Jwks]]:
    settings = settings_for_tests(tmp_path / "data", database_url=database_url, public_url=PUBLIC_URL)
    fake_fal.deliver_webhooks = False  # the tests send the webhooks; PUBLIC_URL is not served
    with Jwks().running() as jwks:
        # Polls every 30 s: within a test, only the webhook can finish the job quickly.
        async with serving_fal(settings, fake_fal, poll_seconds=30, jwks_url=jwks.url) as harness:
            yield harness, fake_fal, jwks


Fal = tuple[Harness, FakeFal, Jwks]
HOOK = "/api/v1/webhooks/fal"


async def _submitted(harness: Harness, fake: FakeFal, key: str) -> tuple[str, str]:
    """A job whose request fal runs (for ever, unless told), once its first poll is answered:
    from then on it waits 30 s for the next one. Returns the job id and the request id."""
    fake.polls_in_queue, fake.polls_in_progress = 0, 10_000
    response = await harness.client.post("/api/v1/videos/generations?async=true",
                                         json={"prompt": "a", "model": "fal-ai/veo3"}, headers=auth(key))
    job_id = response.json()["id"]
    await wait_for(lambda: fake.submissions and fake.status_calls(fake.submissions[0].request_id))
    return job_id, fake.submissions[0].request_id


def _ok(request_id: str) -> bytes:
    return json.dumps({"request_id": request_id, "status": "OK", "payload": {}}).encode()


async def _deliver(harness: Harness, request_id: str, body: bytes, **signing: object) -> httpx.Response:
    return await harness.client.post(HOOK, content=body, headers=signed(request_id, body, **signing))  # type: ignore[arg-type]


async def test_a_signed_webhook_completes_the_job_at_once(fal_with_webhooks: Fal) -> None:
    harness, fake, jwks = fal_with_webhooks
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    assert fake.submissions[0].webhook == f"{PUBLIC_URL}{HOOK}"
    fake.finish(request_id)
    started = time.monotonic()
    response = await _deliver(harness, request_id, _ok(request_id))
    assert response.status_code == 200
    job = await finished_job(harness, key, job_id)
    assert job["status"] == "completed"
    assert time.monotonic() - started < 10
    again = await _deliver(harness, request_id, _ok(request_id))
    assert again.status_code == 200  # fal retries deliveries: a repeat changes nothing
    assert (await harness.quota(key))["credits"]["reserved"] == 0
    assert jwks.fetches == 1  # the keys are fetched once, then cached


@pytest.mark.parametrize("forgery", ["other key", "stale", "tampered body", "no headers"])
async def test_unverified_webhooks_are_refused(fal_with_webhooks: Fal, forgery: str) -> None:
    harness, fake, _jwks = fal_with_webhooks
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    fake.finish(request_id)
    body = json.dumps({"request_id": request_id, "status": "OK"}).encode()
    headers = {
        "other key": signed(request_id, body, key=Ed25519PrivateKey.generate()),
        "stale": signed(request_id, body, timestamp=int(time.time()) - 3600),
        "tampered body": signed(request_id, b'{"request_id": "x"}'),
        "no headers": {"Content-Type": "application/json"},
    }[forgery]
    response = await harness.client.post(HOOK, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid webhook signature"}
    await asyncio.sleep(0.3)
    job = (await harness.client.get(f"/api/v1/jobs/{job_id}", headers=auth(key))).json()
    assert job["status"] == "processing"  # still waiting for its next poll, 30 s away
    await harness.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))


async def test_rotated_keys_are_fetched_again_at_most_once_a_minute(
    fal_with_webhooks: Fal, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, fake, jwks = fal_with_webhooks
    monkeypatch.setattr(webhooks, "KEYS_REFETCH_SECONDS", 1.0)  # "a minute", for the test
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    forged = await _deliver(harness, request_id, _ok(request_id), key=Ed25519PrivateKey.generate())
    assert forged.status_code == 401 and jwks.fetches == 1  # just fetched: no second fetch
    await asyncio.sleep(1.1)
    jwks.key = Ed25519PrivateKey.generate()  # fal rotates its key
    fake.finish(request_id)
    response = await _deliver(harness, request_id, _ok(request_id), key=jwks.key)
    assert response.status_code == 200 and jwks.fetches == 2  # the cached key failed: refetched
    forged = await _deliver(harness, request_id, _ok(request_id), key=Ed25519PrivateKey.generate())
    assert forged.status_code == 401 and jwks.fetches == 2  # no second refetch within the minute
    assert (await finished_job(harness, key, job_id))["status"] == "completed"


async def test_webhooks_arriving_together_share_one_key_fetch(fal_with_webhooks: Fal) -> None:
    harness, fake, jwks = fal_with_webhooks
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    fake.finish(request_id)
    answers = await asyncio.gather(*(_deliver(harness, request_id, _ok(request_id)) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert jwks.fetches == 1
    assert (await finished_job(harness, key, job_id))["status"] == "completed"


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(500, text="down"), httpx.Response(200, text="<html>not json</html>"),
     httpx.Response(200, json={"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "not-a-key"}]}),
     httpx.Response(200, json={"keys": "none"})],
    ids=["500", "not json", "bad key", "malformed"],
)
async def test_keys_that_cannot_be_fetched_answer_503_and_polling_still_completes_the_job(
    fal_with_webhooks: Fal, answer: httpx.Response
) -> None:
    harness, fake, jwks = fal_with_webhooks
    jwks.answer = answer
    _webhook_backend(harness, fake, poll_seconds=0.05)
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    response = await _deliver(harness, request_id, _ok(request_id))
    assert response.status_code == 503
    assert response.json() == {"error": "fal.ai's signing keys are unavailable; deliver again later"}
    fake.finish(request_id)
    assert (await finished_job(harness, key, job_id))["status"] == "completed"


async def test_an_error_webhook_fails_the_job_at_once_with_fals_message(fal_with_webhooks: Fal) -> None:
    harness, fake, _jwks = fal_with_webhooks
    key = await harness.key(sandbox=False)
    fake.outcome = "validation_error"
    job_id, request_id = await _submitted(harness, fake, key)
    fake.finish(request_id)
    body = json.dumps({"request_id": request_id, "gateway_request_id": request_id, "status": "ERROR",
                       "error": "Invalid status code: 422", "payload": {"detail": [
                           {"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}}).encode()
    started = time.monotonic()
    assert (await _deliver(harness, request_id, body)).status_code == 200
    job = await finished_job(harness, key, job_id)
    assert time.monotonic() - started < 10  # the webhook, not the next poll 30 s away
    assert job["status"] == "failed"
    assert job["errorMessage"] == "fal.ai rejected the input: prompt: field required"
    credits = (await harness.quota(key))["credits"]
    assert credits["used"] == 0 and credits["reserved"] == 0


async def test_a_webhook_racing_a_poll_completes_the_job_exactly_once(fal_with_webhooks: Fal) -> None:
    harness, fake, _jwks = fal_with_webhooks
    _webhook_backend(harness, fake, poll_seconds=0.01)  # polls as fast as it can
    key = await harness.key(sandbox=False)
    job_id, request_id = await _submitted(harness, fake, key)
    fake.finish(request_id)
    answers = await asyncio.gather(*(_deliver(harness, request_id, _ok(request_id)) for _ in range(3)))
    assert all(a.status_code == 200 for a in answers)
    job = await finished_job(harness, key, job_id)
    assert job["status"] == "completed"
    assert fake.result_calls == 1  # one result fetched, one video stored, one settlement
    quota = await harness.quota(key)
    assert quota["credits"]["used"] == job["actualCredits"] > 0 and quota["credits"]["reserved"] == 0


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
        settings = settings_for_tests(tmp_path / "data", public_url=public)
        fal = fal_settings(fake, jwks_url=f"{fal_url}/.well-known/jwks.json", poll_seconds=30)
        key = asyncio.run(_sandbox_key(settings, sandbox=False))
        app = create_app(settings, plugins=[local.plugin, lambda core: fal_plugin(core, fal)])
        with serve_in_thread(app, port=port):
            headers = {"Authorization": f"Bearer {key}"}
            job_id = requests.post(f"{public}/api/v1/videos/generations?async=true",
                                   json={"prompt": "a", "model": "fal-ai/veo3"}, headers=headers,
                                   timeout=30).json()["id"]
            deadline = time.monotonic() + 20
            # once fal has answered its first poll, the job waits 30 s for the next one
            while not (fake.submissions and fake.status_calls(fake.submissions[0].request_id)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            started = time.monotonic()
            fake.finish(fake.submissions[0].request_id)
            job = requests.get(f"{public}/api/v1/jobs/{job_id}?poll=true", headers=headers, timeout=60).json()
    assert job["status"] == "completed", job
    assert time.monotonic() - started < 10
    assert fake.webhook_deliveries == [(fake.submissions[0].request_id, 200)]
