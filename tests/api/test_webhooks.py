"""Completion webhooks: each event of a job (started, completed, failed, cancelled) is sent to
its webhook URL, signed by the Standard Webhooks scheme (checked with the `standardwebhooks`
package), retried on the schedule, kept across a restart, and shown at
GET /api/v1/jobs/{id}/webhooks. The receiver is a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from tests.conftest import Harness, auth, running_harness, seed_internet
from tests.webhook_receiver import receiving
from vidgate.auth import service as keys
from vidgate.auth.models import ApiKey
from vidgate.webhooks import deliveries

FAST_RETRIES = [0.3, 0.3]  # three attempts in all


async def webhook_key(harness: Harness, *, webhook_url: str | None = None) -> tuple[str, str]:
    """A sandbox key, and its webhook signing secret."""
    row, key = await keys.create_key(
        harness.sessions, name="hooks", scopes=("video", "jobs", "usage"), credits=100_000,
        video_seconds=10_000, sandbox=True, webhook_url=webhook_url,
    )
    assert row.webhook_secret is not None and row.webhook_secret.startswith("whsec_")
    return key, row.webhook_secret


async def submit(harness: Harness, key: str, **fields: Any) -> str:
    body = {"prompt": "a lighthouse at dusk", "model": "vidgate/local", "duration_seconds": 1, **fields}
    made = await harness.client.post("/api/v1/videos/generations?async=true", json=body, headers=auth(key))
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


async def finished(harness: Harness, key: str, job_id: str) -> dict[str, Any]:
    for _ in range(60):
        job = (await harness.client.get(f"/api/v1/jobs/{job_id}?poll=true", headers=auth(key))).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return dict(job)
    raise AssertionError(f"job {job_id} did not finish")


async def webhooks_of(harness: Harness, key: str, job_id: str, *, settled: int) -> list[dict[str, Any]]:
    """The job's deliveries, once `settled` of them are delivered or given up."""
    for _ in range(200):
        response = await harness.client.get(f"/api/v1/jobs/{job_id}/webhooks", headers=auth(key))
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()["webhooks"]
        if sum(1 for d in listed if d["status"] != "pending") >= settled:
            return listed
        await asyncio.sleep(0.1)
    raise AssertionError(f"the deliveries of {job_id} did not settle: {listed}")


def without_hosts(job: dict[str, Any]) -> dict[str, Any]:
    video = dict(job["outputData"]["video"])
    for name in ("url", "thumbnail_url"):
        video[name] = urlsplit(video[name]).path
    return {**job, "outputData": {**job["outputData"], "video": video}}


@pytest.fixture
async def hooked(tmp_path: Path, database_url: str | None) -> Any:
    async with running_harness(
        tmp_path / "data", database_url, transport=seed_internet(), allow_private_sources=True,
        webhook_retry_seconds=FAST_RETRIES,
    ) as ready:
        yield ready


async def test_a_finished_job_sends_started_and_completed_signed_once_each(hooked: Harness) -> None:
    with receiving() as receiver:
        key, secret = await webhook_key(hooked)
        job_id = await submit(hooked, key, webhook_url=receiver.url)
        job = await finished(hooked, key, job_id)
        received = await receiver.wait_for(2)
        events = [request.verified(secret) for request in received]
        assert [event["type"] for event in events] == ["generation.started", "generation.completed"]
        started, completed = events
        assert started["data"]["id"] == job_id and started["data"]["status"] == "processing"
        assert started["attempt"] == completed["attempt"] == 1
        # the job object as GET /jobs/{id} shows it, its links on the server's own address
        assert without_hosts(completed["data"]) == without_hosts(job)
        assert completed["data"]["outputData"]["video"]["url"].startswith("http://localhost:8000/files/")
        with pytest.raises(Exception, match="signature"):  # another key's secret does not verify
            received[0].verified((await webhook_key(hooked))[1])
        listed = await webhooks_of(hooked, key, job_id, settled=2)
        assert [(d["event"], d["status"], d["attempts"], d["lastStatusCode"]) for d in listed] == [
            ("generation.started", "delivered", 1, 204), ("generation.completed", "delivered", 1, 204)]
        assert [d["id"] for d in listed] == [r.headers["webhook-id"] for r in received]
        assert all(r.headers["content-type"] == "application/json" for r in received)
        await asyncio.sleep(1.5)  # nothing is sent again
        assert len(receiver.received) == 2


async def test_a_failed_delivery_is_retried_with_the_same_id_then_given_up(hooked: Harness) -> None:
    # the first event's sends fail twice and then succeed; every send of the second fails
    def answer(request: Any, nth: int) -> int:
        return 500 if request.event["type"] == "generation.completed" or nth < 3 else 200

    with receiving(answer) as receiver:
        key, secret = await webhook_key(hooked)
        job_id = await submit(hooked, key, webhook_url=receiver.url)
        await finished(hooked, key, job_id)
        listed = await webhooks_of(hooked, key, job_id, settled=2)
        started, completed = listed
        assert (started["status"], started["attempts"], started["lastStatusCode"]) == ("delivered", 3, 200)
        assert (completed["status"], completed["attempts"], completed["lastStatusCode"]) == ("failed", 3, 500)
        assert completed["lastError"] == "the receiver answered HTTP 500" and completed["nextAttemptAt"] is None
        sends = receiver.by_id()
        assert [len(sends[started["id"]]), len(sends[completed["id"]])] == [3, 3]
        for attempts in sends.values():  # each retry carries the same event, signed afresh
            assert len({request.verified(secret)["type"] for request in attempts}) == 1
            assert len({request.verified(secret)["data"]["status"] for request in attempts}) == 1


async def test_an_unreachable_receiver_is_retried_and_the_reason_shown(hooked: Harness) -> None:
    with receiving() as receiver:
        closed_url = receiver.url
    key, _secret = await webhook_key(hooked)
    job_id = await submit(hooked, key, webhook_url=closed_url)
    await finished(hooked, key, job_id)
    listed = await webhooks_of(hooked, key, job_id, settled=2)
    assert {(d["status"], d["attempts"], d["lastStatusCode"]) for d in listed} == {("failed", 3, None)}
    assert listed[0]["lastError"] == "127.0.0.1 could not be reached at a public address"


async def test_the_keys_webhook_url_is_used_when_a_request_names_none(hooked: Harness) -> None:
    with receiving() as receiver, receiving() as other:
        key, secret = await webhook_key(hooked, webhook_url=receiver.url)
        default_job = await submit(hooked, key)
        named_job = await submit(hooked, key, webhook_url=other.url)
        await finished(hooked, key, default_job)
        await finished(hooked, key, named_job)
        assert {r.verified(secret)["data"]["id"] for r in await receiver.wait_for(2)} == {default_job}
        assert {r.verified(secret)["data"]["id"] for r in await other.wait_for(2)} == {named_job}


async def test_cancelled_and_failed_jobs_send_their_events(hooked: Harness) -> None:
    with receiving() as receiver:
        key, secret = await webhook_key(hooked)
        blocker = await submit(hooked, key, duration_seconds=10, resolution="1080p")  # holds workers
        second = await submit(hooked, key, duration_seconds=10, resolution="1080p")
        waiting = await submit(hooked, key, webhook_url=receiver.url)
        cancelled = await hooked.client.post(f"/api/v1/jobs/{waiting}/cancel", headers=auth(key))
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
        for job_id in (blocker, second):  # the workers are free for the next
            await hooked.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))
        failing = await submit(hooked, key, webhook_url=receiver.url, mode="image_to_video",
                               source_image="https://example.com/missing.png")
        assert (await finished(hooked, key, failing))["status"] == "failed"
        events = {r.verified(secret)["data"]["id"] + " " + r.verified(secret)["type"]
                  for r in await receiver.wait_for(3)}
        assert events == {f"{waiting} generation.cancelled", f"{failing} generation.started",
                          f"{failing} generation.failed"}


@pytest.mark.parametrize(("url", "message"), [
    ("http://10.1.2.3/hook", "webhook_url must be a public URL: 10.1.2.3 is a private or local address"),
    ("http://localhost:9000/hook", "webhook_url must be a public URL: localhost is a private or local address"),
    ("ftp://example.com/hook", "webhook_url must be an http(s) URL"),
    ("data:text/plain,hi", "webhook_url must be an http(s) URL"),
    ("https://example.com/" + "a" * 2100, "webhook_url must be at most 2048 characters"),
    ("https:///nohost", "webhook_url must be an absolute URL with a host"),
])
async def test_a_webhook_url_the_server_would_not_send_to_is_a_400_that_changes_nothing(
    harness: Harness, url: str, message: str
) -> None:
    key, _secret = await webhook_key(harness)
    before = await harness.stored_state()
    response = await harness.client.post("/api/v1/videos/generations?async=true", headers=auth(key), json={
        "prompt": "a lighthouse", "model": "vidgate/local", "duration_seconds": 1, "webhook_url": url})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await harness.stored_state() == before


async def test_a_key_without_a_signing_secret_is_told_how_to_get_one(harness: Harness) -> None:
    key, _secret = await webhook_key(harness)
    async with harness.sessions.begin() as session:  # as keys made before webhooks existed
        await session.execute(update(ApiKey).values(webhook_secret=None))
    response = await harness.client.post("/api/v1/videos/generations?async=true", headers=auth(key), json={
        "prompt": "a lighthouse", "model": "vidgate/local", "webhook_url": "https://example.com/hook"})
    assert response.status_code == 400
    assert "`vidgate keys webhook KEY_ID --rotate-secret`" in response.json()["error"]
    key_id = (await harness.client.get("/api/v1/quota", headers=auth(key))).json()["key_id"]
    given = await keys.set_webhook(harness.sessions, key_id, url="https://example.com/hook", change_url=True,
                                   rotate_secret=False)
    assert given is not None and (given.webhook_secret or "").startswith("whsec_")  # its first, with its URL


async def test_a_pending_delivery_survives_a_restart(tmp_path: Path, database_url: str | None) -> None:
    # the retry comes due 5 s after the first attempt: time enough to stop the first server
    # before it is made, on a loaded machine
    settings: dict[str, Any] = {"allow_private_sources": True, "webhook_retry_seconds": [5.0]}
    with receiving() as receiver:
        down_url = receiver.url
    port = int(down_url.rsplit(":", 1)[1].split("/")[0])
    async with running_harness(tmp_path / "data", database_url, transport=None, **settings) as first:
        key, secret = await webhook_key(first)
        job_id = await submit(first, key, webhook_url=down_url)
        await finished(first, key, job_id)
        for _ in range(100):  # each tried once, and failed: the receiver is down
            listed = await webhooks_of(first, key, job_id, settled=0)
            if len(listed) == 2 and all(d["attempts"] >= 1 for d in listed):
                break
            await asyncio.sleep(0.1)
        assert {(d["status"], d["attempts"]) for d in listed} == {("pending", 1)}
    with receiving(port=port) as receiver:  # back up while the server is stopped
        async with running_harness(tmp_path / "data", database_url, transport=None, **settings) as second:
            listed = await webhooks_of(second, key, job_id, settled=2)
            assert {(d["status"], d["attempts"]) for d in listed} == {("delivered", 2)}
            types = [r.verified(secret)["type"] for r in await receiver.wait_for(2)]
            assert sorted(types) == ["generation.completed", "generation.started"]


async def test_senders_sharing_the_database_never_hold_the_same_delivery(hooked: Harness) -> None:
    await hooked.worker.webhooks.stop()  # only the claims below take deliveries
    key, _secret = await webhook_key(hooked)
    for _ in range(3):
        await submit(hooked, key, webhook_url="https://example.com/hook")
    held: list[str] = []
    for _ in range(200):  # claimed, in rounds of four at once, as they come due (six in all)
        claims = await asyncio.gather(*(
            deliveries.claim_due(hooked.sessions, limit=4, hold_seconds=30) for _ in range(4)))
        held += [d.id for claim in claims for d in claim.deliveries]
        if len(held) >= 6:
            break
        await asyncio.sleep(0.05)
    assert len(held) == len(set(held)) == 6


async def test_the_webhooks_of_another_keys_job_are_not_found(hooked: Harness) -> None:
    key, _secret = await webhook_key(hooked)
    other, _ = await webhook_key(hooked)
    job_id = await submit(hooked, key, webhook_url="https://example.com/hook")
    response = await hooked.client.get(f"/api/v1/jobs/{job_id}/webhooks", headers=auth(other))
    assert response.status_code == 404 and response.json()["error"] == "Job not found"
    assert (await hooked.client.get(f"/api/v1/jobs/{job_id}/webhooks")).status_code == 401
