"""Job event streams (GET /api/v1/jobs/{id}/events, Server-Sent Events) held by one vidgate
process while a video renders: how many, at what memory each, and how soon the event of a
job's end reaches its streams.

Run it from the repository root:

    .venv/bin/python bench/sse.py            # 1,000 streams, about a minute
    .venv/bin/python bench/sse.py --json     # the figures as JSON on stdout

What it does (all on 127.0.0.1, everything killed at the end, also on error): starts `vidgate
serve` on a fresh data folder with VIDGATE_WORKERS=1 and a queue of 60 s 1080p renders, so
that a video renders (and its progress is stored every second) during the whole run; queues
250 pending jobs; then bench/loadgen.py, in a process of its own, opens 4 streams on each
(1,000), waits until every stream has its first event and the server's CPU is quiet, measures
the server's RSS and the latency of a plain GET /jobs/{id}, holds the streams `--hold`
seconds (their jobs' queue places are recounted every 5 s meanwhile), then cancels the jobs
one at a time over 4 s.

The figures: streams held (none ended before its job was cancelled; each must end with the
event of its job `cancelled`); memory per stream = (server RSS while holding - before) /
streams; delay = the `cancelled` event received - the job's completedAt (same clock;
completedAt has millisecond precision, rounded down, so this reads up to 1 ms high), whose
p99 has the long-polls' target, < 50 ms.

Exit status 0 whatever the figures; non-zero only when the bench itself broke.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from api import (  # bench/api.py: the same server set-up as the API benchmark
    PYTHON,
    BenchError,
    Renders,
    Server,
    create_key,
    finish,
    fmt,
    free_port,
    log,
    raise_fd_limit,
    run_loadgen,
    verdict_lines,
    vidgate_env,
)

STREAMS, STREAMS_PER_JOB, RENDERS, SPREAD_S = 1000, 4, 4, 4.0
TARGETS = {"streams": STREAMS, "delay_p99_ms": 50.0}
PENDING_BODY = {"prompt": "a", "model": "vidgate/local", "duration_seconds": 1}


def pending_jobs(api: httpx.Client, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        made = api.post("/api/v1/videos/generations?async=true", json=PENDING_BODY)
        if made.status_code != 200:
            raise BenchError(f"submitting a job failed: {made.status_code} {made.text}")
        ids.append(str(made.json()["id"]))
    return ids


def run(hold_s: float) -> dict[str, Any]:
    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="vidgate-bench-sse-"))
    port = free_port()
    env = vidgate_env(work / "data", port)
    vidgate = Server("vidgate", port, [PYTHON, "-m", "vidgate", "serve"], env, work)
    try:
        log("creating an API key and starting vidgate")
        key = create_key(env, work)
        vidgate.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0,
                          headers={"Authorization": f"Bearer {key}"}) as api:
            renders = Renders(api, RENDERS)
            renders.wait_until_rendering()
            ids = pending_jobs(api, STREAMS // STREAMS_PER_JOB)
            log(f"{STREAMS} streams on {len(ids)} pending jobs, held {hold_s:g} s, then the jobs cancelled over {SPREAD_S:g} s")
            renders.check("streams (start)")
            spec = {"mode": "streams", "port": port, "auth": key, "ids": ids, "streams_per_job": STREAMS_PER_JOB,
                    "hold_s": hold_s, "spread_s": SPREAD_S, "timeout_s": 120.0, "server_pid": vidgate.pid,
                    "probe_id": ids[0], "probes": 20}
            result = run_loadgen(spec, timeout=hold_s + 240)
            renders.check("streams (end)")
        return {"streams": result, "always_rendering": renders.always_rendering, "render_checks": renders.checks}
    finally:
        vidgate.stop()
        shutil.rmtree(work, ignore_errors=True)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    streams = results["streams"]
    held_ok = streams["held"] >= TARGETS["streams"] and streams["stream_statuses"] == {"cancelled": streams["streams"]}
    p99 = streams["delay"]["p99_ms"]
    return [
        {"name": "streams held", "value": f"{streams['held']} held, {streams['stream_statuses']}",
         "target": f"{TARGETS['streams']} held, all ended cancelled", "pass": held_ok},
        {"name": "end event delay p99", "value": f"{fmt(p99)} ms", "target": f"< {TARGETS['delay_p99_ms']:g} ms",
         "pass": p99 is not None and p99 < TARGETS["delay_p99_ms"]},
        {"name": "video rendering", "value": "throughout" if results["always_rendering"] else "NOT throughout",
         "target": "throughout", "pass": results["always_rendering"]},
    ]


def report(results: dict[str, Any]) -> str:
    streams = results["streams"]
    rss = streams["rss_kib"]
    per_stream = (rss["holding"] - rss["before"]) / streams["streams"] if rss["holding"] and rss["before"] else None
    delay, probe = streams["delay"], streams["probe_holding"]
    lines = [
        f"Streams: {streams['streams']} on {streams['jobs']} pending jobs, all open in {streams['open_s']:.1f} s "
        f"(all open: {streams['all_open']}); events per stream {streams['events_per_stream']}",
        f"  server RSS: before {rss['before']} KiB, holding {rss['holding']} KiB, at the end of the hold "
        f"{rss['holding_end']} KiB, after {rss['after']} KiB: {fmt(per_stream)} KiB per stream",
        f"  plain GET /jobs/{{id}} while holding: p50 {fmt(probe['p50_ms'])} ms, p99 {fmt(probe['p99_ms'])} ms",
        f"  cancelled event delay (job completedAt -> event received): p50 {fmt(delay['p50_ms'])} ms, "
        f"p99 {fmt(delay['p99_ms'])} ms, max {fmt(delay['max_ms'])} ms (n={delay['n']})",
    ]
    lines += verdict_lines(results["targets"])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold", type=float, default=10.0, help="seconds the streams are held (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    return finish(lambda: run(args.hold), verdicts, report, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
