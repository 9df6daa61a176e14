"""Completion webhooks: how many deliveries per second one vidgate process sends to a local
receiver, against a bare sender doing only the sending, and how soon after a job ends its
event arrives.

Run it from the repository root:

    .venv/bin/python bench/webhooks.py            # 2,000 deliveries, about two minutes
    .venv/bin/python bench/webhooks.py --json     # the figures as JSON on stdout

What it does (all on 127.0.0.1, everything stopped at the end, also on error): starts the
receiver of bench/webhook_receiver.py and `vidgate serve` (embedded default, one render at a
time, loopback webhook URLs allowed), then:

1. Delay after a render: 10 one-second renders, each with a webhook_url; delay = arrival of
   its generation.completed - the job's completedAt.
2. Delay under a trickle: a long render holds the lane; 300 pending jobs with a webhook_url
   are cancelled one every 25 ms; delay = arrival of each generation.cancelled - completedAt.
   (completedAt has millisecond precision, rounded down: delays read up to 1 ms high.)
3. Throughput: with the receiver stopped, 2,000 pending jobs with a webhook_url are cancelled;
   each delivery fails once (no connection) and waits for its retry. vidgate is stopped, the
   retries are made due now (the one change the bench makes in the database), the receiver
   and vidgate are started again, and the 2,000 deliveries go out at once: deliveries per
   second = (n - 1) / (last arrival - first arrival).
4. The ceiling: the bare sender (one httpx client, the same concurrency as vidgate's sender,
   32, bodies of the same size signed by `standardwebhooks`) POSTs 2,000 to the same receiver.

Ratio = vidgate's deliveries per second / the bare sender's: what claiming, building, signing
and recording each delivery costs on top of sending it. Targets: >= 0.5x, and every delivery
arriving exactly once. The delays are reported, not judged: each delivery takes two SQLite
write transactions (its claim and its outcome) besides the job's own, and on the embedded
default they queue behind the API's writes, so their tail follows the machine's load.

Exit status 0 whatever the figures; non-zero only when the bench itself broke.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from api import (  # bench/api.py: the same server set-up as the API benchmark
    BENCH_DIR,
    PYTHON,
    RENDER_BODY,
    BenchError,
    Server,
    create_key,
    finish,
    fmt,
    free_port,
    log,
    verdict_lines,
    vidgate_env,
)
from loadgen import summary_ms

BURST, TRICKLE, RENDERS, CONCURRENCY = 2000, 300, 10, 32
TRICKLE_GAP_S = 0.025
TARGETS = {"ratio": 0.5}
PENDING_BODY = {"prompt": "a", "model": "vidgate/local", "duration_seconds": 1}


class Receiver(Server):
    READY = "Uvicorn running on"

    def __init__(self, port: int, work: Path) -> None:
        super().__init__("receiver", port, [PYTHON, str(BENCH_DIR / "webhook_receiver.py"), "serve", str(port)],
                         {"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"}, work)
        self.url = f"http://127.0.0.1:{port}/hooks"

    def deliveries(self) -> tuple[int, list[list[Any]]]:
        stats = httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=30).json()
        return int(stats["posts"]), list(stats["deliveries"])

    def wait_for(self, count: int, timeout: float = 120.0) -> list[list[Any]]:
        deadline = time.monotonic() + timeout
        while True:
            _posts, found = self.deliveries()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise BenchError(f"{len(found)} webhooks arrived, not {count}")
            time.sleep(0.2)


def submit(api: httpx.Client, body: dict[str, Any]) -> str:
    made = api.post("/api/v1/videos/generations?async=true", json=body)
    if made.status_code != 200:
        raise BenchError(f"submitting a job failed: {made.status_code} {made.text}")
    return str(made.json()["id"])


def cancel(api: httpx.Client, job_id: str) -> None:
    answer = api.post(f"/api/v1/jobs/{job_id}/cancel")
    if answer.status_code != 200:
        raise BenchError(f"cancelling {job_id} failed: {answer.status_code} {answer.text}")


def wait_finished(api: httpx.Client, job_id: str) -> None:
    for _ in range(100):
        if api.get(f"/api/v1/jobs/{job_id}?poll=true").json()["status"] in ("completed", "failed", "cancelled"):
            return
    raise BenchError(f"job {job_id} did not finish")


def delays(found: list[list[Any]], event: str, job_ids: set[str]) -> dict[str, Any]:
    """Arrival - completedAt of each `event` of `job_ids`."""
    seconds = [arrived - datetime.fromisoformat(completed).timestamp()
               for kind, job_id, completed, arrived in found if kind == event and job_id in job_ids]
    return summary_ms(seconds)


def measure_delays(api: httpx.Client, receiver: Receiver) -> dict[str, Any]:
    log(f"{RENDERS} renders with a webhook")
    rendered = [submit(api, {**PENDING_BODY, "webhook_url": receiver.url}) for _ in range(RENDERS)]
    for job_id in rendered:
        wait_finished(api, job_id)
    log(f"{TRICKLE} pending jobs cancelled one every {TRICKLE_GAP_S * 1000:g} ms")
    blocker = submit(api, RENDER_BODY)
    pending = [submit(api, {**PENDING_BODY, "webhook_url": receiver.url}) for _ in range(TRICKLE)]
    for job_id in pending:
        started = time.monotonic()
        cancel(api, job_id)
        time.sleep(max(0.0, TRICKLE_GAP_S - (time.monotonic() - started)))
    cancel(api, blocker)
    found = receiver.wait_for(2 * RENDERS + TRICKLE)
    return {"render": delays(found, "generation.completed", set(rendered)),
            "trickle": delays(found, "generation.cancelled", set(pending)),
            "posts": receiver.deliveries()[0], "expected": 2 * RENDERS + TRICKLE}


def queue_burst(api: httpx.Client, url: str) -> list[str]:
    """BURST cancelled jobs whose deliveries failed once and wait for their retry."""
    blocker = submit(api, RENDER_BODY)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _i: submit(api, {**PENDING_BODY, "webhook_url": url}), range(BURST)))
        list(pool.map(lambda job_id: cancel(api, job_id), ids))
    cancel(api, blocker)
    deadline = time.monotonic() + 120
    while True:  # every delivery tried once
        listed = [api.get(f"/api/v1/jobs/{job_id}/webhooks").json()["webhooks"] for job_id in (ids[0], ids[-1])]
        if all(d and d[0]["attempts"] == 1 for d in listed):
            return ids
        if time.monotonic() > deadline:
            raise BenchError(f"the first attempts did not happen: {listed}")
        time.sleep(0.5)


def make_due(database: Path) -> int:
    with sqlite3.connect(database) as db:
        changed = db.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE status = 'pending'").rowcount
    return int(changed)


def blast(url: str) -> dict[str, Any]:
    done = subprocess.run([PYTHON, str(BENCH_DIR / "webhook_receiver.py"), "blast", url, str(BURST), str(CONCURRENCY)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"the bare sender failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="vidgate-bench-webhooks-"))
    port, receiver_port = free_port(), free_port()
    env = {**vidgate_env(work / "data", port), "VIDGATE_ALLOW_PRIVATE_SOURCES": "true",
           "VIDGATE_WEBHOOK_RETRY_SECONDS": "3600", "VIDGATE_WEBHOOK_CONCURRENCY": str(CONCURRENCY)}
    servers = [Receiver(receiver_port, work), Server("vidgate", port, [PYTHON, "-m", "vidgate", "serve"], env, work)]
    receiver, vidgate = servers
    try:
        key = create_key(env, work)
        for server in servers:
            server.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0,
                          headers={"Authorization": f"Bearer {key}"}) as api:
            delay = measure_delays(api, receiver)
            receiver.stop()
            log(f"{BURST} deliveries queued while the receiver is down")
            ids = queue_burst(api, receiver.url)
        vidgate.stop()
        log(f"{make_due(work / 'data' / 'vidgate.db')} deliveries made due; receiver and vidgate started again")
        receiver = Receiver(receiver_port, work)
        servers[0] = receiver
        receiver.start()
        started = time.monotonic()
        vidgate.start()
        found = receiver.wait_for(BURST, timeout=300)
        arrivals = sorted(at for kind, job_id, _c, at in found if kind == "generation.cancelled")
        burst = {"deliveries": len(found), "posts": receiver.deliveries()[0], "jobs": len(set(ids)),
                 "seconds": arrivals[-1] - arrivals[0], "from_start_s": time.monotonic() - started,
                 "per_second": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])}
        vidgate.stop()
        log(f"the bare sender: {BURST} POSTs, {CONCURRENCY} at a time")
        bare = blast(receiver.url)
        return {"delay": delay, "burst": burst, "bare": bare, "ratio": burst["per_second"] / bare["per_second"]}
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    delay, burst = results["delay"], results["burst"]
    once = burst["posts"] == burst["deliveries"] == BURST and delay["posts"] == delay["expected"]
    return [
        {"name": "deliveries/s vs the bare sender", "value": f"{results['ratio']:.2f}x",
         "target": f">= {TARGETS['ratio']}x", "pass": results["ratio"] >= TARGETS["ratio"]},
        {"name": "each delivered once", "value": f"{burst['posts']} posts for {burst['deliveries']}; "
         f"{delay['posts']} for {delay['expected']}", "target": "one post each", "pass": once},
    ]


def report(results: dict[str, Any]) -> str:
    delay, burst, bare = results["delay"], results["burst"], results["bare"]
    lines = [
        f"Burst: {burst['deliveries']} deliveries in {burst['seconds']:.2f} s: {burst['per_second']:.0f}/s "
        f"(bare sender {bare['per_second']:.0f}/s): {results['ratio']:.2f}x",
        f"Delay after a render (completedAt -> arrival): p50 {fmt(delay['render']['p50_ms'])} ms, "
        f"p99 {fmt(delay['render']['p99_ms'])} ms, max {fmt(delay['render']['max_ms'])} ms (n={delay['render']['n']})",
        f"Delay in a trickle of cancels: p50 {fmt(delay['trickle']['p50_ms'])} ms, "
        f"p99 {fmt(delay['trickle']['p99_ms'])} ms, max {fmt(delay['trickle']['max_ms'])} ms (n={delay['trickle']['n']})",
    ]
    lines += verdict_lines(results["targets"])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    return finish(run, verdicts, report, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
