"""API and worker processes on separate "machines" (2 API processes, 3 workers), meeting only
through PostgreSQL (procrastinate, LISTEN/NOTIFY) and the S3 server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.fal_fake import FakeFal
from tests.scaleout.topology import Process, Topology
from tests.webhook_receiver import receiving
from vidgate.auth.keys import hash_key
from vidgate.jobs.pg_events import libpq_url

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(300)]

GEN = "/api/v1/videos/generations"
FAL_MODEL = "fal-ai/minimax/video-01"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def submit(http: httpx.AsyncClient, api: Process, key: str, **body: Any) -> str:
    response = await http.post(f"{api.url}{GEN}?async=true", headers=auth(key),
                               json={"prompt": "ocean waves", "duration_seconds": 1, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def finished(http: httpx.AsyncClient, api: Process, key: str, job_id: str, *, within: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job = (await http.get(f"{api.url}/api/v1/jobs/{job_id}?poll=true", headers=auth(key), timeout=60)).json()
        if job["status"] not in ("pending", "processing"):
            return dict(job)
        assert time.monotonic() < deadline, f"job {job_id} never finished: {job}"


async def database(deployment: Topology) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(deployment.database_url))


async def ledger_balances(deployment: Topology, *keys: str) -> None:
    """For each key: nothing left reserved, what it used is what its jobs were charged, and
    every job of it settled once (one reservation, then one settlement or release)."""
    hashes = [hash_key(key) for key in keys]
    connection = await database(deployment)
    try:
        for key in await connection.fetch("SELECT * FROM api_keys WHERE key_hash = ANY($1)", hashes):
            assert key["credits_reserved"] == 0 and key["seconds_reserved"] == 0, dict(key)
            charged = await connection.fetchval(
                "SELECT coalesce(sum(actual_credits), 0) FROM jobs WHERE key_id = $1", key["id"])
            assert key["credits_used"] == charged
        kinds = await connection.fetch(
            "SELECT job_id, kind FROM ledger_entries WHERE key_id IN "
            "(SELECT id FROM api_keys WHERE key_hash = ANY($1)) ORDER BY id", hashes)
        per_job: dict[str, list[str]] = {}
        for row in kinds:
            per_job.setdefault(row["job_id"], []).append(row["kind"])
        assert all(entries[0] == "reserve" and len(entries) == 2 for entries in per_job.values()), per_job
    finally:
        await connection.close()


async def test_jobs_submitted_across_api_processes_complete_exactly_once(scaled: Topology, shared_fal: FakeFal) -> None:
    live, sandbox = scaled.key(sandbox=False), scaled.key()
    before = len(shared_fal.submissions)
    async with httpx.AsyncClient(timeout=60) as http:
        fal_jobs = await asyncio.gather(*(
            submit(http, scaled.apis[n % 2], live, model=FAL_MODEL, prompt=f"waves {n}") for n in range(190)))
        local_jobs = await asyncio.gather(*(submit(http, scaled.apis[n % 2], sandbox) for n in range(10)))
        jobs = [await finished(http, scaled.apis[n % 2], live if n < 190 else sandbox, job_id)
                for n, job_id in enumerate(fal_jobs + local_jobs)]
    assert Counter(job["status"] for job in jobs) == {"completed": 200}
    assert len(shared_fal.submissions) - before == 190  # one fal request per job, no second
    assert {job["provider"] for job in jobs[190:]} == {"local"}
    await ledger_balances(scaled, live, sandbox)
    ran_on = Counter(_worker_of(scaled, job["id"]) for job in jobs)
    assert len(ran_on) >= 2, ran_on  # the work was shared out


def _worker_of(deployment: Topology, job_id: str) -> str:
    """The worker process whose log says it started the job's last attempt."""
    found, last = "", 0
    for worker in deployment.workers:
        for line in worker.log.read_text(errors="replace").splitlines():
            if job_id in line and '"event": "started"' in line:
                attempt = json.loads(line)["attempt"]
                if attempt > last:
                    found, last = worker.name, attempt
    return found


async def _progress(http: httpx.AsyncClient, api: Process, key: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = (await http.get(f"{api.url}/api/v1/jobs/{job_id}", headers=auth(key))).json()
        if job["status"] == "processing" and job["progress"] > 0:
            return dict(job)
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.1)


async def _rendering(http: httpx.AsyncClient, deployment: Topology, key: str) -> tuple[str, Process]:
    """An 8 s local render under way: its job id and the worker rendering it."""
    job_id = await submit(http, deployment.apis[0], key, model="vidgate/local", duration_seconds=8)
    await _progress(http, deployment.apis[0], key, job_id)
    return job_id, next(w for w in deployment.workers if w.name == _worker_of(deployment, job_id))


async def _attempts_and_requeues(deployment: Topology, job_id: str) -> tuple[int, int]:
    connection = await database(deployment)
    try:
        row = await connection.fetchrow("SELECT attempts, requeues FROM jobs WHERE id = $1", job_id)
    finally:
        await connection.close()
    return row["attempts"], row["requeues"]


async def test_a_worker_killed_mid_render_has_its_job_finished_by_another_charged_once(scaled: Topology) -> None:
    key = scaled.key()
    async with httpx.AsyncClient(timeout=60) as http:
        job_id, victim = await _rendering(http, scaled, key)
        scaled.kill(victim)
        job = await finished(http, scaled.apis[1], key, job_id)
    assert job["status"] == "completed", job
    assert job["actualCredits"] == 80 and job["outputData"]["video"]["duration_seconds"] == pytest.approx(8, abs=0.05)
    assert _worker_of(scaled, job_id) not in ("", victim.name)
    assert await _attempts_and_requeues(scaled, job_id) == (2, 0)  # taken over, the dead worker fenced out
    await ledger_balances(scaled, key)


async def test_a_worker_stopped_mid_render_gives_its_job_back_at_once_and_quietly(scaled: Topology) -> None:
    key = scaled.key()
    async with httpx.AsyncClient(timeout=60) as http:
        job_id, stopped = await _rendering(http, scaled, key)
        signalled_at = time.monotonic()
        scaled.stop(stopped)  # SIGTERM to its process group, as a service manager sends it
        assert time.monotonic() - signalled_at < 10  # VIDGATE_SHUTDOWN_SECONDS, the default
        job = await finished(http, scaled.apis[1], key, job_id)
    assert job["status"] == "completed", job
    assert _worker_of(scaled, job_id) not in ("", stopped.name)
    log = stopped.log.read_text(errors="replace")
    assert "Traceback" not in log and f"job {job_id} requeued" in log
    assert await _attempts_and_requeues(scaled, job_id) == (2, 1)  # given back, not taken over
    await ledger_balances(scaled, key)


async def test_an_api_process_killed_mid_submissions_loses_no_accepted_job(scaled: Topology) -> None:
    key = scaled.key(sandbox=False)
    accepted: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(n: int) -> None:
            try:
                accepted.append(await submit(http, scaled.apis[0], key, model=FAL_MODEL, prompt=f"rain {n}"))
            except (httpx.HTTPError, AssertionError):
                pass  # the process died under this request: not accepted

        sending = [asyncio.create_task(one(n)) for n in range(60)]
        while len(accepted) < 10:
            await asyncio.sleep(0.005)
        scaled.kill(scaled.apis[0])
        await asyncio.gather(*sending)
        jobs = [await finished(http, scaled.apis[1], key, job_id) for job_id in accepted]
        assert all(job["status"] == "completed" for job in jobs)
        # what was stored but never answered (the process died first) completes too
        stored = (await http.get(f"{scaled.apis[1].url}/api/v1/jobs?limit=100", headers=auth(key))).json()["jobs"]
        assert {job["id"] for job in stored} >= set(accepted)
        for job in stored:
            assert (await finished(http, scaled.apis[1], key, job["id"]))["status"] == "completed"
    await ledger_balances(scaled, key)


async def test_a_long_poll_on_one_api_wakes_when_a_worker_finishes_and_a_cancel_on_the_other_stops_a_render(
    scaled: Topology, shared_fal: FakeFal
) -> None:
    shared_fal.polls_in_progress = 10**6  # runs until told
    live, sandbox = scaled.key(sandbox=False), scaled.key()
    async with httpx.AsyncClient(timeout=60) as http:
        before = len(shared_fal.submissions)
        waiting = await submit(http, scaled.apis[0], live, model=FAL_MODEL)
        while len(shared_fal.submissions) == before:
            await asyncio.sleep(0.02)
        poll = asyncio.create_task(http.get(f"{scaled.apis[0].url}/api/v1/jobs/{waiting}?poll=true",
                                            headers=auth(live)))
        await asyncio.sleep(1.0)
        assert not poll.done()
        shared_fal.finish(shared_fal.submissions[-1].request_id)
        finished_at = time.monotonic()
        job = (await poll).json()
        assert job["status"] == "completed" and time.monotonic() - finished_at < 5

        render = await submit(http, scaled.apis[0], sandbox, model="vidgate/local", duration_seconds=30)
        await _progress(http, scaled.apis[0], sandbox, render)
        asked = time.monotonic()
        cancelled = (await http.post(f"{scaled.apis[1].url}/api/v1/jobs/{render}/cancel", headers=auth(sandbox))).json()
        assert cancelled["status"] == "cancelled" and time.monotonic() - asked < 10
        assert cancelled["actualCredits"] == 0
    await ledger_balances(scaled, live, sandbox)


async def test_output_links_from_a_worker_play_with_ranges_through_either_api(scaled: Topology) -> None:
    key = scaled.key()
    async with httpx.AsyncClient(timeout=60) as http:
        job_id = await submit(http, scaled.apis[0], key)
        await finished(http, scaled.apis[0], key, job_id)
        job = (await http.get(f"{scaled.apis[1].url}/api/v1/jobs/{job_id}", headers=auth(key))).json()
        url = job["outputData"]["video"]["url"]
        assert url.startswith(scaled.s3.endpoint) and job["outputData"]["video"]["url_expires_at"]
        part = await http.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        assert (await http.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))).status_code == 403


async def _readiness(http: httpx.AsyncClient, api: Process) -> tuple[int, dict[str, Any]]:
    response = await http.get(f"{api.url}/readyz")
    return response.status_code, response.json()


async def _until(http: httpx.AsyncClient, api: Process, status: int, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        code, body = await _readiness(http, api)
        if code == status:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_readiness_follows_the_database_and_the_storage_and_no_job_is_lost(scaled: Topology) -> None:
    key = scaled.key()
    api = scaled.apis[0]
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await _readiness(http, api))[0] == 200
        job_id = await submit(http, api, key, duration_seconds=3)

        scaled.proxy.cut()  # PostgreSQL gone from the network
        body = await _until(http, api, 503)
        assert body["checks"]["database"].startswith("unreachable") and body["checks"]["storage"] == "ok"
        refused = await http.post(f"{api.url}{GEN}?async=true", headers=auth(key), json={"prompt": "p"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        await asyncio.sleep(2)
        scaled.proxy.restore()
        assert (await _until(http, api, 200))["ready"] is True

        scaled.s3.stop()
        body = await _until(http, api, 503)
        assert body["checks"]["storage"].startswith("unreachable") and body["checks"]["database"] == "ok"
        assert body["error"] == "Not ready: storage unreachable"
        scaled.s3.start()
        await _until(http, api, 200)

        job = await finished(http, api, key, job_id)
    assert job["status"] == "completed", job
    await ledger_balances(scaled, key)


def test_the_workers_log_json_lines_with_the_job_id_and_no_link_tokens(scaled: Topology) -> None:
    lines = [json.loads(line) for worker in scaled.workers
             for line in worker.log.read_text(errors="replace").splitlines() if line.startswith("{")]
    started = [line for line in lines if line.get("event") == "started"]
    assert started and all(line["job_id"].startswith("job_") for line in started)
    secrets = re.compile(r"sk_(test_)?[0-9a-f]{64}|X-Amz-Signature=|/files/[^/\s]+/[A-Za-z0-9_-]{20,}/")
    for process in scaled.apis + scaled.workers:
        for line in process.log.read_text(errors="replace").splitlines():
            assert not secrets.search(line), line


async def test_rate_limits_are_counted_once_across_api_processes(scaled: Topology) -> None:
    key = scaled.key("--rate-limit", "6/minute")
    async with httpx.AsyncClient(timeout=60) as http:
        answers = [await http.get(f"{scaled.apis[n % 2].url}/api/v1/quota", headers=auth(key)) for n in range(8)]
        ready = (await http.get(f"{scaled.apis[0].url}/readyz")).json()
    assert [answer.status_code for answer in answers] == [200] * 6 + [429] * 2
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["5", "4", "3", "2", "1", "0", "0", "0"]
    assert int(answers[-1].headers["Retry-After"]) > 50
    assert ready["checks"]["rate_limits"] == "ok"


async def test_a_job_streamed_from_one_api_shows_the_progress_of_a_worker_elsewhere(scaled: Topology) -> None:
    key = scaled.key()
    async with httpx.AsyncClient(timeout=120) as http:
        job_id = await submit(http, scaled.apis[0], key, model="vidgate/local", duration_seconds=8)
        seen = []
        async with aconnect_sse(http, "GET", f"{scaled.apis[1].url}/api/v1/jobs/{job_id}/events",
                                headers=auth(key)) as source:
            async for event in source.aiter_sse():
                if event.event == "job":  # not a keep-alive comment
                    seen.append(json.loads(event.data))
    assert seen[-1]["status"] == "completed" and seen[-1]["outputData"]["video"]["url"]
    progress = {job["progress"] for job in seen if job["status"] == "processing"}
    assert len(progress) >= 2  # the worker's progress reached the other API process as it rendered


async def test_a_webhook_receiver_sees_each_run_of_a_job_whose_worker_was_killed(scaled: Topology) -> None:
    printed = scaled.vidgate("keys", "create", "--name", "hooks", "--credits", "100000", "--sandbox")
    secret, key = (line.rsplit(" ", 1)[-1] for line in printed.strip().splitlines()[-2:])
    with receiving() as receiver:
        async with httpx.AsyncClient(timeout=60) as http:
            job_id = await submit(http, scaled.apis[0], key, model="vidgate/local", duration_seconds=8,
                                  webhook_url=receiver.url)
            await _progress(http, scaled.apis[0], key, job_id)
            scaled.kill(next(w for w in scaled.workers if w.name == _worker_of(scaled, job_id)))
            assert (await finished(http, scaled.apis[1], key, job_id))["status"] == "completed"
            await receiver.wait_for(3)
            await asyncio.sleep(2)  # and no more
            listed = (await http.get(f"{scaled.apis[1].url}/api/v1/jobs/{job_id}/webhooks", headers=auth(key))).json()
    events = [request.verified(secret) for request in receiver.received]
    assert sorted((event["type"], event["attempt"]) for event in events) == [
        ("generation.completed", 2), ("generation.started", 1), ("generation.started", 2)]
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 3
    assert {(d["status"], d["attempts"]) for d in listed["webhooks"]} == {("delivered", 1)}
