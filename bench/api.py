"""API benchmark of vidgate: throughput against a bare FastAPI ceiling, long-poll wake-up
latency, and how many long-polls one server process holds, all while a video renders.

Run it from the repository root:

    .venv/bin/python bench/api.py            # full run, about 1.5 minutes
    .venv/bin/python bench/api.py --quick    # about 45 s: 5 s windows, fewer polls, shorter holds
    .venv/bin/python bench/api.py --json     # the table on stderr, the figures as JSON on stdout

What it starts (all on 127.0.0.1, all killed at the end, also on error):

* `vidgate serve` on a fresh data folder, with VIDGATE_WORKERS=1 and a queue of
  `vidgate/local` 60 s 1080p jobs, so that one video is rendering (in a child process)
  during every measurement; the checks between phases say so in the output.
* bench/bare_app.py: a bare FastAPI app on the same uvicorn settings (one process, loop and
  HTTP parser as uvicorn picks them, log level "info", so the access log is on in both).
* bench/loadgen.py, a separate process for each phase, the load generator.

The figures:

* Throughput: 50 keep-alive clients, each sending requests back-to-back for a fixed window
  (after a short warm-up). req/s counts 200 responses completed in the window; p50/p99 are
  their latencies. Rows: the bare POST /bare and vidgate's async submission
  POST /api/v1/videos/generations?async=true; the bare GET /bare/{id} and vidgate's
  GET /api/v1/jobs/{id} (cycling over 50 existing jobs). ratio = vidgate req/s / bare req/s,
  measured in the same run. The load generator shares the machine's CPUs with the servers
  and the render, the same way for both rows of a pair, which is why the ratios are what count.
  CPU columns (from /proc, over the window, 100% = one core): the server process's CPU, its
  CPU time per 200 response, and the render's (vidgate's process group less the server).
* Wake-up: K long-polls (GET /api/v1/jobs/{id}?poll=true) on pending jobs; once all are held
  (sent, and the server's CPU quiet again), the jobs are cancelled one at a time, spread over
  a few seconds, from another connection.
  Wake-up = the poll response received - the job's completedAt (same clock; completedAt has
  millisecond precision, rounded down, so this reads up to 1 ms high). Also shown: the poll
  response received - the cancel response received (can be negative).
* Long-polls held: 1,000 long-polls at once (4 per pending job); held = none answered before
  the jobs were cancelled; then all must come back `cancelled`. Server RSS (VmRSS of the
  server process, not of the render child) before, while holding and after; per-poll
  increment; latency of a plain GET /jobs/{id} before and while holding.

Exit status 0 whatever the figures (PASS/FAIL lines are a measurement); non-zero only when the
bench itself broke.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
KEY_PATTERN = re.compile(r"^sk_(test_)?[0-9a-f]{64}$")
SUBMIT_BODY = {"prompt": "a", "model": "vidgate/local", "duration_seconds": 1}
RENDER_BODY = {"prompt": "bench render", "model": "vidgate/local", "duration_seconds": 60,
               "resolution": "1080p"}
TARGETS = {"submit_ratio": 0.3, "read_ratio": 0.5, "wake_p99_ms": 50.0, "held_polls": 1000}


class BenchError(Exception):
    """The bench itself could not run (not a missed target)."""


@dataclass(frozen=True)
class Config:
    name: str
    clients: int
    warmup_s: float
    duration_s: float
    read_ids: int
    wake_polls: int
    wake_spread_s: float
    hold_polls: int
    hold_polls_per_job: int
    hold_s: float
    renders: int  # 60 s 1080p jobs queued: enough to keep one rendering until the end


FULL = Config("full", clients=50, warmup_s=1.0, duration_s=15.0, read_ids=50, wake_polls=200,
              wake_spread_s=4.0, hold_polls=1000, hold_polls_per_job=4, hold_s=8.0, renders=10)
QUICK = Config("quick", clients=50, warmup_s=0.5, duration_s=5.0, read_ids=50, wake_polls=100,
               wake_spread_s=2.0, hold_polls=1000, hold_polls_per_job=4, hold_s=3.0, renders=4)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- processes ---------------------------------------------------------------------------------


class Server:
    """A server subprocess in its own process group; its output drained by a thread."""

    READY = "Uvicorn running on"

    def __init__(self, name: str, port: int, args: list[str], env: dict[str, str],
                 cwd: Path) -> None:
        self.name, self.port, self.args, self.env, self.cwd = name, port, args, env, cwd
        self.proc: subprocess.Popen[str] | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.lines = 0
        self._ready = threading.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._drain, name=f"drain-{self.name}", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not start:\n{''.join(self.tail)}")

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:  # ends when the process closes its output
            self.lines += 1
            self.tail.append(line)
            if self.READY in line:
                self._ready.set()

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful shutdown), then SIGKILL to the whole group: the render
        child and the forkserver of vidgate live in it too."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def verdict_lines(targets: list[dict[str, Any]]) -> list[str]:
    return [f"  {v['name']}: {v['value']} (target {v['target']}) {'PASS' if v['pass'] else 'FAIL'}" for v in targets]


def finish(
    measure: Callable[[], dict[str, Any]],
    verdicts: Callable[[dict[str, Any]], list[dict[str, Any]]],
    report: Callable[[dict[str, Any]], str],
    *,
    as_json: bool,
) -> int:
    """Run a bench to its figures and print them: 0 whatever they are, 2 when the bench broke."""
    try:
        results = measure()
    except (BenchError, subprocess.TimeoutExpired, httpx.HTTPError) as exc:
        log(f"the bench broke: {exc}")
        return 2
    results["targets"] = verdicts(results)
    print_results(report(results), results, as_json=as_json)
    return 0


def print_results(table: str, results: Any, *, as_json: bool) -> None:
    """The table on stdout; asked for JSON, the figures on stdout and the table on stderr."""
    if as_json:
        print(table, file=sys.stderr)
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(table)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> int:
    """Servers inherit this process's limit; 1,000 held polls need over 1,000 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run_loadgen(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, str(BENCH_DIR / "loadgen.py")], input=json.dumps(spec), capture_output=True,
        text=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise BenchError(f"load generator failed ({spec['mode']}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# --- vidgate set-up ----------------------------------------------------------------------------


def vidgate_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VIDGATE_") and k not in ("DATABASE_URL", "FAL_KEY")}
    env.update(
        PYTHONUNBUFFERED="1",
        VIDGATE_CONFIG=str(data_dir / "no-vidgate.toml"),
        VIDGATE_DATA_DIR=str(data_dir),
        VIDGATE_HOST="127.0.0.1",
        VIDGATE_PORT=str(port),
        VIDGATE_WORKERS="1",
        VIDGATE_MAX_ACTIVE_JOBS_PER_KEY="1000000",
    )
    return env


# The bench key's rate limits: counted on every request, never reached. BENCH_RATE_LIMIT=none
# measures without the limiter.
KEY_RATE_LIMIT = os.environ.get("BENCH_RATE_LIMIT", "1000000/minute")


def create_key(env: dict[str, str], cwd: Path) -> str:
    """A key with credits for everything (the server's own sandbox key has 100,000), and rate
    limits far above what the load reaches: every request is counted, none refused."""
    done = subprocess.run(
        [PYTHON, "-m", "vidgate", "keys", "create", "--name", "bench",
         "--scopes", "video,jobs,usage", "--credits", str(10**12),
         "--video-seconds", str(10**9), "--sandbox",
         "--rate-limit", KEY_RATE_LIMIT, "--generation-rate-limit", KEY_RATE_LIMIT],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not KEY_PATTERN.match(lines[-1]):
        raise BenchError(f"vidgate keys create failed:\n{done.stdout}\n{done.stderr}")
    return lines[-1]


class Renders:
    """The queue of long renders that keeps one video rendering during every phase."""

    def __init__(self, api: httpx.Client, count: int) -> None:
        self.api = api
        self.ids = [self._submit() for _ in range(count)]
        self.checks: list[dict[str, Any]] = []

    def _submit(self) -> str:
        response = self.api.post("/api/v1/videos/generations?async=true", json=RENDER_BODY)
        if response.status_code != 200:
            raise BenchError(f"submitting a render failed: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def state(self) -> dict[str, Any]:
        statuses = {}
        for job_id in self.ids:
            job = self.api.get(f"/api/v1/jobs/{job_id}").json()
            statuses[job_id] = (job["status"], job["progress"])
        processing = [(j, p) for j, (s, p) in statuses.items() if s == "processing"]
        return {
            "processing": processing[0][0] if processing else None,
            "progress": processing[0][1] if processing else None,
            "completed": sum(1 for s, _ in statuses.values() if s == "completed"),
            "failed": sum(1 for s, _ in statuses.values() if s == "failed"),
        }

    def wait_until_rendering(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.state()["processing"] is None:
            if time.monotonic() > deadline:
                raise BenchError("no render started within a minute")
            time.sleep(0.2)

    def check(self, phase: str) -> None:
        state = {"phase": phase, **self.state()}
        self.checks.append(state)
        if state["processing"] is None:
            log(f"WARNING: no render in progress at {phase}")

    @property
    def always_rendering(self) -> bool:
        return all(c["processing"] is not None for c in self.checks)


# --- phases ------------------------------------------------------------------------------------


def rate_spec(cfg: Config, server: Server, vidgate: Server, key: str, method: str,
              paths: list[str], body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A "rate" run against `server`; its CPU and the render's (in vidgate's process group)
    are measured over the window."""
    return {"mode": "rate", "port": server.port, "auth": key, "method": method, "paths": paths,
            "body": body, "clients": cfg.clients, "warmup_s": cfg.warmup_s,
            "duration_s": cfg.duration_s, "server_pid": server.pid, "render_pgid": vidgate.pid,
            **extra}


def measure_rate(name: str, spec: dict[str, Any], renders: Renders) -> dict[str, Any]:
    log(f"{name}: {spec['clients']} clients for {spec['duration_s']:g} s")
    renders.check(f"{name} (start)")
    result = run_loadgen(spec, timeout=spec["warmup_s"] + spec["duration_s"] + 90)
    renders.check(f"{name} (end)")
    log(f"{name}: {result['rps']:.0f} req/s, p50 {fmt(result['p50_ms'])} ms, "
        f"statuses {result['statuses']}")
    return result


def measure_throughput(cfg: Config, bare: Server, vid: Server, key: str,
                       renders: Renders) -> tuple[dict[str, Any], list[str]]:
    """The four rows; returns them and the ids of the jobs the submissions created."""
    rows: dict[str, Any] = {}
    rows["bare_post"] = measure_rate(
        "bare POST", rate_spec(cfg, bare, vid, key, "POST", ["/bare"], SUBMIT_BODY), renders)
    rows["vidgate_submit"] = measure_rate(
        "vidgate submit",
        rate_spec(cfg, vid, vid, key, "POST", ["/api/v1/videos/generations?async=true"],
                  SUBMIT_BODY, collect_ids=True),
        renders)
    job_ids = rows["vidgate_submit"].pop("ids")
    if len(job_ids) < cfg.read_ids:
        raise BenchError(f"the submissions created only {len(job_ids)} jobs")
    read_ids = job_ids[: cfg.read_ids]
    rows["bare_get"] = measure_rate(
        "bare GET", rate_spec(cfg, bare, vid, key, "GET", [f"/bare/{i}" for i in read_ids]),
        renders)
    rows["vidgate_get"] = measure_rate(
        "vidgate GET",
        rate_spec(cfg, vid, vid, key, "GET", [f"/api/v1/jobs/{i}" for i in read_ids]), renders)
    for row in rows.values():
        row.pop("ids", None)
    return rows, job_ids


def more_jobs(cfg: Config, vid: Server, key: str, job_ids: list[str], needed: int) -> list[str]:
    """Top up the pending jobs the polls need, if the submissions window made too few."""
    missing = needed - len(job_ids)
    if missing <= 0:
        return job_ids
    log(f"submitting {missing} more pending jobs for the long-poll phases")
    spec = rate_spec(cfg, vid, vid, key, "POST", ["/api/v1/videos/generations?async=true"],
                     SUBMIT_BODY, collect_ids=True, warmup_s=0.0, duration_s=60.0,
                     clients=10, max_requests=missing, server_pid=None)
    extra = run_loadgen(spec, timeout=120)["ids"]
    if len(job_ids) + len(extra) < needed:
        raise BenchError(f"could create only {len(job_ids) + len(extra)} of {needed} jobs")
    return job_ids + extra


def measure_wakeup(cfg: Config, vid: Server, key: str, ids: list[str],
                   renders: Renders) -> dict[str, Any]:
    log(f"wake-up: {len(ids)} long-polls, cancelled one at a time over {cfg.wake_spread_s:g} s")
    renders.check("wake-up (start)")
    spec = {"mode": "wakeup", "port": vid.port, "auth": key, "ids": ids,
            "spread_s": cfg.wake_spread_s, "server_pid": vid.pid}
    result = run_loadgen(spec, timeout=cfg.wake_spread_s + 150)
    renders.check("wake-up (end)")
    log(f"wake-up: p50 {fmt(result['wake']['p50_ms'])} ms, p99 {fmt(result['wake']['p99_ms'])} ms")
    return result


def measure_hold(cfg: Config, vid: Server, key: str, ids: list[str], probe_id: str,
                 renders: Renders) -> dict[str, Any]:
    log(f"long-polls held: {cfg.hold_polls} polls on {len(ids)} jobs for {cfg.hold_s:g} s")
    renders.check("long-polls (start)")
    spec = {"mode": "hold", "port": vid.port, "auth": key, "ids": ids,
            "polls_per_job": cfg.hold_polls_per_job, "hold_s": cfg.hold_s,
            "server_pid": vid.pid, "probe_id": probe_id, "probes": 20}
    result = run_loadgen(spec, timeout=cfg.hold_s + 180)
    renders.check("long-polls (end)")
    log(f"long-polls: {result['held']} held, {result['returned_cancelled']} came back cancelled")
    return result


# --- the run -----------------------------------------------------------------------------------


def environment(fd_limit: int) -> dict[str, Any]:
    import fastapi
    import uvicorn

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "access_log": "on (log_level=info) in both servers",
        "fd_limit": fd_limit,
    }


def run(cfg: Config) -> dict[str, Any]:
    fd_limit = raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="vidgate-bench-"))
    servers: list[Server] = []
    try:
        vid_port, bare_port = free_port(), free_port()
        env = vidgate_env(work / "data", vid_port)
        log("creating an API key and starting vidgate and the bare app")
        key = create_key(env, work)
        vidgate = Server("vidgate", vid_port, [PYTHON, "-m", "vidgate", "serve"], env, work)
        bare = Server("bare", bare_port, [PYTHON, str(BENCH_DIR / "bare_app.py"), str(bare_port)],
                      env, work)
        for server in (vidgate, bare):
            servers.append(server)
            server.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{vid_port}", timeout=30.0,
                          headers={"Authorization": f"Bearer {key}"}) as api:
            renders = Renders(api, cfg.renders)
            renders.wait_until_rendering()
            log(f"rendering in the background: {cfg.renders} x 60 s 1080p jobs queued")
            throughput, job_ids = measure_throughput(cfg, bare, vidgate, key, renders)
            hold_jobs = cfg.hold_polls // cfg.hold_polls_per_job
            job_ids = more_jobs(cfg, vidgate, key, job_ids,
                                cfg.read_ids + cfg.wake_polls + hold_jobs)
            wake_ids = job_ids[cfg.read_ids : cfg.read_ids + cfg.wake_polls]
            hold_ids = job_ids[cfg.read_ids + cfg.wake_polls :][:hold_jobs]
            wakeup = measure_wakeup(cfg, vidgate, key, wake_ids, renders)
            hold = measure_hold(cfg, vidgate, key, hold_ids, job_ids[0], renders)
        return {
            "config": asdict(cfg),
            "environment": environment(fd_limit),
            "throughput": throughput,
            "wakeup": wakeup,
            "hold": hold,
            "render_checks": renders.checks,
            "always_rendering": renders.always_rendering,
            "server_log_lines": {s.name: s.lines for s in servers},
        }
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- report ------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(results: dict[str, Any], vidgate: str, bare: str) -> float:
    bare_rps = results["throughput"][bare]["rps"]
    return results["throughput"][vidgate]["rps"] / bare_rps if bare_rps else 0.0


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    wake_p99 = results["wakeup"]["wake"]["p99_ms"]
    hold = results["hold"]
    held_ok = (hold["held"] >= TARGETS["held_polls"]
               and hold["returned_cancelled"] == hold["polls"])
    submit = ratio(results, "vidgate_submit", "bare_post")
    read = ratio(results, "vidgate_get", "bare_get")
    rendering = results["always_rendering"]
    return [
        {"name": "submissions", "value": f"{submit:.2f}x bare",
         "target": f">= {TARGETS['submit_ratio']}x", "pass": submit >= TARGETS["submit_ratio"]},
        {"name": "job reads", "value": f"{read:.2f}x bare",
         "target": f">= {TARGETS['read_ratio']}x", "pass": read >= TARGETS["read_ratio"]},
        {"name": "wake-up p99", "value": f"{fmt(wake_p99)} ms",
         "target": f"< {TARGETS['wake_p99_ms']:g} ms",
         "pass": wake_p99 is not None and wake_p99 < TARGETS["wake_p99_ms"]},
        {"name": "long-polls held", "value": f"{hold['held']} held, "
         f"{hold['returned_cancelled']}/{hold['polls']} released",
         "target": f"{TARGETS['held_polls']} held, all released", "pass": held_ok},
        {"name": "video rendering",
         "value": "at every phase check" if rendering else "NOT at every phase check",
         "target": "throughout", "pass": rendering},
    ]


def report(results: dict[str, Any]) -> str:
    env, cfg, tp = results["environment"], results["config"], results["throughput"]
    out = [
        f"vidgate API benchmark ({cfg['name']}): Python {env['python']}, {env['cpus']} CPUs, "
        f"FastAPI {env['fastapi']}, uvicorn {env['uvicorn']} ({env['loop']}, {env['http']}, "
        f"access log {env['access_log']})",
        "Background: vidgate/local 60 s 1080p renders, VIDGATE_WORKERS=1, one rendering in a "
        "child process throughout"
        + ("" if results["always_rendering"] else " (NOT ALWAYS: see the checks below)"),
        "",
        f"Throughput: {cfg['clients']} keep-alive clients, back-to-back, {cfg['duration_s']:g} s "
        f"per row (after {cfg['warmup_s']:g} s warm-up); load generator in its own process;",
        "  CPU columns over the window, 100% = one core; CPU ms/req = server CPU time per 200 "
        "response; render = the render child of vidgate",
        f"  {'endpoint':46} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>7} "
        f"{'ratio':>6} {'server CPU':>10} {'CPU ms/req':>10} {'render CPU':>10}",
    ]
    rows = [
        ("bare_post", "bare  POST /bare", None),
        ("vidgate_submit", "vidgate POST /api/v1/videos/generations?async", "bare_post"),
        ("bare_get", "bare  GET /bare/{id}", None),
        ("vidgate_get", "vidgate GET /api/v1/jobs/{id} (50 jobs)", "bare_get"),
    ]
    for key, label, base in rows:
        row = tp[key]
        bad = sum(n for status, n in row["statuses"].items() if status != "200")
        rat = f"{ratio(results, key, base):.2f}x" if base else ""
        out.append(f"  {label:46} {row['rps']:7.0f} {fmt(row['p50_ms']):>7} "
                   f"{fmt(row['p99_ms']):>7} {bad:7d} {rat:>6} "
                   f"{fmt(row.get('server_cpu_pct'), 0) + '%':>10} "
                   f"{fmt(row.get('server_cpu_ms_per_request'), 2):>10} "
                   f"{fmt(row.get('render_cpu_pct'), 0) + '%':>10}")
    wk = results["wakeup"]
    out += [
        "",
        f"Wake-up of ?poll=true: {wk['polls']} polls held, their jobs cancelled one at a time "
        f"over {cfg['wake_spread_s']:g} s ({wk['returned_before_cancel']} answered early; "
        f"polls: {wk['poll_statuses']})",
        f"  job completedAt -> poll response received:  {_dist(wk['wake'])}",
        f"  cancel response received -> poll response: {_dist(wk['after_cancel_response'])}",
        f"  cancel request sent -> poll response:       {_dist(wk['after_cancel_sent'])}",
    ]
    hd = results["hold"]
    rss = {k: (v or 0) / 1024 for k, v in hd["rss_kib"].items()}
    per_poll = (hd["rss_kib"]["holding"] - hd["rss_kib"]["before"]) / hd["polls"]
    out += [
        "",
        f"Concurrent long-polls: {hd['polls']} polls on {hd['jobs']} pending jobs, sent in "
        f"{hd['open_s']:.1f} s, taken in by the server (its CPU quiet again) after "
        f"{hd['settle_s']:.1f} s more, held {hd['held_s']:.1f} s in all",
        f"  held until release: {hd['held']}/{hd['polls']}; after cancelling the jobs "
        f"{hd['returned_cancelled']} came back cancelled in {hd['release_s']:.1f} s "
        f"(polls: {hd['poll_statuses']})",
        f"  server RSS: {rss['before']:.0f} MiB before, {rss['holding']:.0f} MiB holding "
        f"({per_poll:+.1f} KiB per poll), {rss['holding_end']:.0f} MiB at the end of the hold, "
        f"{rss['after_release']:.0f} MiB after release; fds {hd['fds']['before']} -> "
        f"{hd['fds']['holding']}",
        f"  plain GET /jobs/{{id}}, one at a time: before {_dist(hd['probe_before'])}",
        f"                              while holding {_dist(hd['probe_holding'])}",
        "",
        "Render checks (phase: job in progress, progress %):",
    ]
    for check in results["render_checks"]:
        where = (f"{check['processing']} {check['progress']}%" if check["processing"]
                 else "NONE RENDERING")
        out.append(f"  {check['phase']:28} {where}  ({check['completed']} renders done)")
    out += ["", "Targets:"]
    out += verdict_lines(verdicts(results))
    return "\n".join(out)


def _dist(stats: dict[str, Any]) -> str:
    return (f"p50 {fmt(stats['p50_ms'])} ms, p99 {fmt(stats['p99_ms'])} ms, "
            f"max {fmt(stats['max_ms'])} ms (n={stats['n']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="about 45 s instead of 1.5 minutes (5 s windows instead of 15 s)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the table goes to stderr)")
    args = parser.parse_args()
    try:
        results = run(QUICK if args.quick else FULL)
    except (BenchError, subprocess.TimeoutExpired, httpx.HTTPError) as exc:
        log(f"the bench broke: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    results["targets"] = verdicts(results)
    table = report(results)
    print_results(table, results, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
