"""Scale-out benchmark: API and worker processes on PostgreSQL and an S3 server, each figure
against a target or a ceiling measured in the same run.

Run it from the repository root, with PostgreSQL running (the admin URL below, or
VIDGATE_BENCH_DATABASE_URL):

    .venv/bin/python bench/scale.py            # about 5 minutes
    .venv/bin/python bench/scale.py --quick    # smaller samples, about 2 minutes
    .venv/bin/python bench/scale.py --json     # the figures as JSON on stdout

What it starts: a fresh database, SeaweedFS (`weed mini`) as the bucket, the fake fal of the
tests (fal's queue protocol, on loopback) and `vidgate serve --no-workers` / `vidgate worker`
processes (tests/scaleout/topology.py), the same commands a deployment runs.

The figures:

* Dispatch latency: one job at a time, submitted to an API process; from the submit's answer
  received to the job's `started_at` stored by a worker process (one clock: one machine); each
  job is cancelled and ended before the next. Target p99 < 50 ms. Then the same under load: a
  job every 30 ms, each left running at the fake fal, so the worker polls more and more of
  them while it starts the next (no target; it shows where one worker's CPU runs out).
* Cross-process wake-up: long-polls held on an API process, the jobs finished by a worker
  process one at a time; from the worker's commit of the job's end (its "completed" log line,
  written right after the commit) to the poll's answer received. Target p99 < 50 ms.
* I/O-bound throughput: jobs the fake fal holds for a fixed time, a backlog of them, run by 1,
  2 and 4 worker processes of the same per-process concurrency; jobs completed per second.
  Target: 4 workers >= 3.5x one.
* Jobs in flight: one worker process holding as many waiting fal jobs as it can take; how
  many it held at once, and its memory per job (RSS growth / jobs). Target >= 1,000.
* Local renders: 3 s 720p clips per minute, by one worker process with 2 render slots and by
  two with one slot each, against the engine alone rendering the same clips two at a time
  (the ceiling: the same CPUs, no API, queue or storage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from tests.conftest import fresh_postgres_database  # noqa: E402
from tests.fal_fake import FakeFal  # noqa: E402
from tests.live_server import serve_in_thread  # noqa: E402
from tests.s3_server import s3_server  # noqa: E402
from tests.scaleout.topology import FAL_KEY, Process, Topology, topology  # noqa: E402
from vidgate.auth.keys import hash_key  # noqa: E402
from vidgate.jobs.pg_events import libpq_url  # noqa: E402

ADMIN_URL = os.environ.get("VIDGATE_BENCH_DATABASE_URL", "postgresql://postgres:vidgate-ci@127.0.0.1/postgres")
GEN = "/api/v1/videos/generations"
FAL_MODEL = "fal-ai/minimax/video-01"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def submit(http: httpx.AsyncClient, api: Process, key: str, **body: Any) -> str:
    response = await http.post(f"{api.url}{GEN}?async=true", headers=auth(key),
                               json={"prompt": "ocean waves", "duration_seconds": 1, **body})
    response.raise_for_status()
    return str(response.json()["id"])


async def rows(deployment: Topology, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(libpq_url(deployment.database_url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def until_done(deployment: Topology, *, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while True:
        left = (await rows(deployment, "SELECT count(*) AS n FROM jobs WHERE status IN ('pending', 'processing')"))[0]["n"]
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} jobs never finished"
        await asyncio.sleep(0.2)


async def dispatch_latency(deployment: Topology, fal: FakeFal, key: str, jobs: int) -> dict[str, float]:
    """One job at a time: submitted, seen started, cancelled and ended before the next, so
    each start finds the worker otherwise idle."""
    fal.polls_in_queue, fal.polls_in_progress = 0, 10**6
    waits = []
    connection = await asyncpg.connect(libpq_url(deployment.database_url))
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(jobs):
                job_id = await submit(http, deployment.apis[0], key, model=FAL_MODEL)
                answered = datetime.now(UTC)
                started = None
                while started is None:
                    await asyncio.sleep(0.002)
                    started = await connection.fetchval("SELECT started_at FROM jobs WHERE id = $1", job_id)
                waits.append((started - answered).total_seconds() * 1000)
                await http.post(f"{deployment.apis[0].url}/api/v1/jobs/{job_id}/cancel", headers=auth(key))
                await until_done(deployment)
    finally:
        await connection.close()
    fal.polls_in_progress = 0
    return latencies(waits)


async def dispatch_under_load(deployment: Topology, fal: FakeFal, key: str, jobs: int) -> dict[str, float]:
    """A job every 30 ms, each left running at fal: the worker waits on more and more of
    them (each polled, from every 0.5 s backing off to every 5 s) while it starts the next."""
    fal.polls_in_queue, fal.polls_in_progress = 0, 10**6
    answered: dict[str, datetime] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(jobs):
            job_id = await submit(http, deployment.apis[0], key, model=FAL_MODEL)
            answered[job_id] = datetime.now(UTC)
            await asyncio.sleep(0.03)
        while (await rows(deployment, "SELECT count(*) AS n FROM jobs WHERE status = 'pending'"))[0]["n"]:
            await asyncio.sleep(0.1)
        started = {row["id"]: row["started_at"] for row in await rows(
            deployment, "SELECT id, started_at FROM jobs WHERE id = ANY($1)", list(answered))}
        await asyncio.gather(*(http.post(f"{deployment.apis[0].url}/api/v1/jobs/{job_id}/cancel",
                                         headers=auth(key)) for job_id in answered))
    fal.polls_in_progress = 0
    await until_done(deployment)
    return latencies([(started[job_id] - at).total_seconds() * 1000 for job_id, at in answered.items()])


def latencies(waits: list[float]) -> dict[str, float]:
    return {"jobs": len(waits), "p50_ms": statistics.median(waits), "p99_ms": percentile(waits, 0.99),
            "max_ms": max(waits)}


async def wake_up(deployment: Topology, fal: FakeFal, key: str, jobs: int) -> dict[str, float]:
    fal.polls_in_queue, fal.polls_in_progress = 0, 10**6
    before = len(fal.submissions)
    api = deployment.apis[0]
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=jobs + 10)) as http:
        ids = [await submit(http, api, key, model=FAL_MODEL) for _ in range(jobs)]
        while len(fal.submissions) < before + jobs:
            await asyncio.sleep(0.05)
        received: dict[str, datetime] = {}

        async def hold(job_id: str) -> None:
            response = await http.get(f"{api.url}/api/v1/jobs/{job_id}?poll=true", headers=auth(key))
            while response.json()["status"] not in ("completed", "failed", "cancelled"):
                response = await http.get(f"{api.url}/api/v1/jobs/{job_id}?poll=true", headers=auth(key))
            received[job_id] = datetime.now(UTC)

        polls = [asyncio.create_task(hold(job_id)) for job_id in ids]
        await asyncio.sleep(1.0)
        for submission in fal.submissions[before:]:
            fal.finish(submission.request_id)
            await asyncio.sleep(0.05)
        await asyncio.gather(*polls)
    fal.polls_in_progress = 0
    committed = journal_times(deployment, "completed")
    waits = [(received[job_id].timestamp() - committed[job_id]) * 1000 for job_id in ids]
    return {"polls": jobs, "p50_ms": statistics.median(waits), "p99_ms": percentile(waits, 0.99),
            "max_ms": max(waits)}


async def throughput(deployment: Topology, fal: FakeFal, key: str, jobs: int) -> dict[str, float]:
    """Jobs completed per second for a backlog the fake fal holds `fal.run_seconds` each."""
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(submit(http, deployment.apis[n % len(deployment.apis)], key, model=FAL_MODEL)
                               for n in range(jobs)))
    await until_done(deployment)
    span = (await rows(deployment, "SELECT min(started_at) AS first, max(completed_at) AS last FROM jobs "
                                   "WHERE key_id = (SELECT id FROM api_keys WHERE key_hash = $1)",
                       hash_key(key)))[0]
    seconds = (span["last"] - span["first"]).total_seconds()
    return {"jobs": jobs, "seconds": seconds, "jobs_per_second": jobs / seconds}


def journal_times(deployment: Topology, event: str) -> dict[str, float]:
    """When each job's `event` was stored, by the workers' log lines (written right after the
    commit that made it visible)."""
    times: dict[str, float] = {}
    for worker in deployment.workers:
        for line in worker.log.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"event": "{event}"' in line:
                record = json.loads(line)
                times[record["job_id"]] = float(record["ts"])
    return times


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def in_flight(deployment: Topology, fal: FakeFal, key: str, jobs: int) -> dict[str, float]:
    fal.polls_in_queue, fal.polls_in_progress = 0, 10**6
    worker = deployment.workers[0]
    assert worker.popen is not None
    before = rss_kib(worker.popen.pid)
    async with httpx.AsyncClient(timeout=60) as http:
        for start in range(0, jobs, 100):
            await asyncio.gather(*(submit(http, deployment.apis[0], key, model=FAL_MODEL)
                                   for _ in range(min(100, jobs - start))))
    held = 0
    deadline = time.monotonic() + 300
    while held < jobs and time.monotonic() < deadline:
        held = (await rows(deployment, "SELECT count(*) AS n FROM jobs WHERE status = 'processing' "
                                       "AND provider_state::jsonb ? 'request_id'"))[0]["n"]
        await asyncio.sleep(1.0)
    await asyncio.sleep(5)  # a few polls of each, so their memory is in use
    after = rss_kib(worker.popen.pid)
    return {"held": held, "rss_before_mib": before / 1024, "rss_after_mib": after / 1024,
            "kib_per_job": (after - before) / max(held, 1)}


ENGINE_CLIP = {"prompt": "ocean waves at sunset", "duration_seconds": 3, "resolution": "720p",
               "model": "vidgate/local", "seed": 7}


def engine_alone(clips: int) -> float:
    """Clips per minute of the engine rendering the same clip, two processes at a time."""
    script = (
        "import sys; from pathlib import Path; from vidgate.backends.base import VideoRequest; "
        "from vidgate.backends.local import render_request; from vidgate.engine import render; "
        f"r = render_request(VideoRequest.from_params({ENGINE_CLIP!r})); "
        "[render(r, Path(sys.argv[1]) / f'{n}.mp4') for n in range(int(sys.argv[2]))]"
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        each = [subprocess.Popen([sys.executable, "-c", script, folder, str(clips // 2)]) for _ in range(2)]
        for process in each:
            assert process.wait() == 0
        return (clips // 2) * 2 / (time.monotonic() - started) * 60


async def local_renders(deployment: Topology, key: str, clips: int) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(submit(http, deployment.apis[0], key, **ENGINE_CLIP) for _ in range(clips)))
    await until_done(deployment)
    return clips / (time.monotonic() - started) * 60


def deployment_for(stack: ExitStack, folder: Path, url: str, s3: Any, fal: FakeFal, *, workers: int,
                   **settings: str) -> Topology:
    return stack.enter_context(topology(folder, url, s3, fal, apis=1, workers=workers,
                                        overrides={"VIDGATE_JOB_LEASE_SECONDS": "30", **settings}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    quick = parser.parse_args().quick
    figures: dict[str, Any] = {}
    fal = FakeFal(key=FAL_KEY)
    fal.polls_in_queue, fal.polls_in_progress = 0, 0
    # Small videos: the fake makes each with PyAV in this process, which must not be what the
    # figures measure (the workers still download, probe and store every one).
    fal.video_size, fal.video_seconds, fal.video_fps = (64, 36), 1.0, 25
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as outer:
        root = Path(scratch)
        fal.base_url = outer.enter_context(serve_in_thread(fal.app))
        s3 = outer.enter_context(s3_server(root / "s3"))

        def fresh(name: str, *, workers: int, **settings: str) -> tuple[ExitStack, Topology]:
            url, drop = asyncio.run(fresh_postgres_database(ADMIN_URL))
            stack = ExitStack()
            stack.callback(lambda: asyncio.run(drop()))
            (root / name).mkdir()
            return stack, deployment_for(stack, root / name, url, s3, fal, workers=workers, **settings)

        log("dispatch latency and wake-up: 1 API process, 1 worker")
        stack, deployment = fresh("latency", workers=1, VIDGATE_FAL_CONCURRENCY="500")
        with stack:
            key = deployment.key(sandbox=False)
            figures["dispatch"] = asyncio.run(dispatch_latency(deployment, fal, key, 50 if quick else 200))
            log(f"dispatch: {figures['dispatch']}")
            figures["dispatch_loaded"] = asyncio.run(
                dispatch_under_load(deployment, fal, key, 50 if quick else 200))
            log(f"dispatch under load: {figures['dispatch_loaded']}")
            figures["wake_up"] = asyncio.run(wake_up(deployment, fal, key, 50 if quick else 100))
            log(f"wake-up: {figures['wake_up']}")

        fal.run_seconds = 3.0
        per_worker = 10
        figures["throughput"] = {}
        for workers in (1, 2, 4):
            stack, deployment = fresh(f"throughput{workers}", workers=workers,
                                      VIDGATE_FAL_CONCURRENCY=str(per_worker))
            with stack:
                jobs = workers * per_worker * (3 if quick else 6)
                figures["throughput"][workers] = asyncio.run(
                    throughput(deployment, fal, deployment.key(sandbox=False), jobs))
                log(f"throughput, {workers} workers: {figures['throughput'][workers]}")
        fal.run_seconds = None
        one, four = figures["throughput"][1], figures["throughput"][4]
        figures["throughput_ratio_4_to_1"] = four["jobs_per_second"] / one["jobs_per_second"]

        jobs = 300 if quick else 1100
        stack, deployment = fresh("inflight", workers=1, VIDGATE_FAL_CONCURRENCY=str(jobs + 100),
                                  VIDGATE_MAX_ACTIVE_JOBS_PER_KEY=str(jobs * 2), VIDGATE_DATABASE_POOL_SIZE="20")
        with stack:
            figures["in_flight"] = asyncio.run(in_flight(deployment, fal, deployment.key(sandbox=False), jobs))
            log(f"in flight: {figures['in_flight']}")
        fal.polls_in_progress = 0

        clips = 6 if quick else 12
        figures["renders"] = {"engine_alone_per_min": engine_alone(clips)}
        log(f"engine alone: {figures['renders']['engine_alone_per_min']:.1f} clips/min")
        for name, workers, slots in (("one_worker_two_slots", 1, "2"), ("two_workers_one_slot", 2, "1")):
            stack, deployment = fresh(name, workers=workers, VIDGATE_WORKERS=slots)
            with stack:
                figures["renders"][name] = asyncio.run(local_renders(deployment, deployment.key(), clips))
                log(f"renders, {name}: {figures['renders'][name]:.1f} clips/min")
    report(figures)
    if parser.parse_args().json:
        print(json.dumps(figures, indent=2, default=str))


def report(figures: dict[str, Any]) -> None:
    dispatch, loaded, wake = figures["dispatch"], figures["dispatch_loaded"], figures["wake_up"]
    flight, renders = figures["in_flight"], figures["renders"]
    lines = [
        "",
        f"dispatch latency (submit answered -> worker started): p50 {dispatch['p50_ms']:.1f} ms, "
        f"p99 {dispatch['p99_ms']:.1f} ms, max {dispatch['max_ms']:.1f} ms ({dispatch['jobs']} jobs, one at a time)",
        f"  under load (a job every 30 ms, each left running): p50 {loaded['p50_ms']:.1f} ms, "
        f"p99 {loaded['p99_ms']:.1f} ms, max {loaded['max_ms']:.1f} ms ({loaded['jobs']} jobs)",
        f"wake-up (job completed on a worker -> long-poll answered): p50 {wake['p50_ms']:.1f} ms, "
        f"p99 {wake['p99_ms']:.1f} ms, max {wake['max_ms']:.1f} ms ({wake['polls']} polls)",
        *(f"I/O-bound throughput, {n} worker(s): {t['jobs_per_second']:.2f} jobs/s ({t['jobs']} jobs in "
          f"{t['seconds']:.1f} s)" for n, t in figures["throughput"].items()),
        f"  4 workers / 1 worker: {figures['throughput_ratio_4_to_1']:.2f}x",
        f"jobs in flight in one worker: {flight['held']}, RSS {flight['rss_before_mib']:.0f} -> "
        f"{flight['rss_after_mib']:.0f} MiB, {flight['kib_per_job']:.1f} KiB per job",
        f"local renders (3 s 720p): engine alone {renders['engine_alone_per_min']:.1f}/min; one worker, 2 slots "
        f"{renders['one_worker_two_slots']:.1f}/min ({renders['one_worker_two_slots'] / renders['engine_alone_per_min']:.2f}x); "
        f"two workers, 1 slot each {renders['two_workers_one_slot']:.1f}/min "
        f"({renders['two_workers_one_slot'] / renders['engine_alone_per_min']:.2f}x)",
        "",
        "Targets:",
        f"  dispatch p99 < 50 ms: {'PASS' if dispatch['p99_ms'] < 50 else 'FAIL'}",
        f"  wake-up p99 < 50 ms: {'PASS' if wake['p99_ms'] < 50 else 'FAIL'}",
        f"  4 workers >= 3.5x one: {'PASS' if figures['throughput_ratio_4_to_1'] >= 3.5 else 'FAIL'}",
        f"  >= 1,000 jobs in flight in one worker: {'PASS' if flight['held'] >= 1000 else 'FAIL'}",
    ]
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    main()
