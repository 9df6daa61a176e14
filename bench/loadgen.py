"""The load generator of bench/api.py, run in its own process (never inside a server).

Reads one JSON spec on stdin, runs it, writes one JSON result on stdout:

    {"mode": "rate", ...}    N keep-alive clients sending requests back-to-back for a while
    {"mode": "wakeup", ...}  K long-polls, their jobs cancelled one at a time: wake-up latency
    {"mode": "hold", ...}    N long-polls held at once: all held? server RSS? plain GET latency?
    {"mode": "streams", ...} N job event streams (SSE) held at once, their jobs then cancelled
                             one at a time: all held? server RSS? delay of the last event?

The HTTP/1.1 client is a minimal one on asyncio streams (keep-alive, Content-Length bodies,
and the chunked body of an event stream), so that the client spends as little as possible of the CPU it shares with the servers.
Every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Latencies use time.perf_counter(): uvloop's loop.time() ticks in whole milliseconds.
REQUEST_TIMEOUT_S = 30.0
POLL_TIMEOUT_S = 45.0  # longer than the server's 30 s hold, so a held poll always answers
HOLD_LIMIT_S = 25.0  # the server answers a held poll after 30 s: release before that
CONNECT_CONCURRENCY = 100
MAX_RECONNECTS_PER_CLIENT = 50


# --- HTTP ------------------------------------------------------------------------------------


def build_request(
    spec: dict[str, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{spec['port']}"]
    if spec.get("auth"):
        lines.append(f"Authorization: Bearer {spec['auth']}")
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    elif method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        length = _content_length(lower)
        body = await self.reader.readexactly(length) if length else b""
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _content_length(lower_head: bytes) -> int:
    start = lower_head.find(b"\r\ncontent-length:")
    if start < 0:
        if b"\r\ntransfer-encoding:" in lower_head:
            raise ValueError("chunked responses are not supported by this client")
        return 0
    end = lower_head.find(b"\r\n", start + 2)
    return int(lower_head[start + 17 : end])


def job_id_of(body: bytes) -> str | None:
    """The first `"id":"..."` of a JSON body, without parsing it all."""
    start = body.find(b'"id":"')
    if start < 0:
        return None
    start += 6
    return body[start : body.find(b'"', start)].decode()


# --- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 0.50),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms) if ms else None,
        "mean_ms": sum(ms) / len(ms) if ms else None,
    }


# --- process figures (Linux /proc) -------------------------------------------------------------


def read_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def count_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat; with
    `reaped_children`, plus that of its children that ended and were waited for."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


async def wait_until_quiet(pid: int, timeout: float, busy_below: float = 0.25) -> float:
    """Wait until the process uses under `busy_below` of a CPU over 0.3 s (it has taken in
    every request); returns the seconds waited, at most `timeout`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    previous = cpu_seconds(pid)
    while loop.time() - started < timeout:
        await asyncio.sleep(0.3)
        now = cpu_seconds(pid)
        if (now - previous) / 0.3 < busy_below:
            break
        previous = now
    return loop.time() - started


def render_cpu_seconds(pgid: int) -> float:
    """CPU seconds of vidgate's process group less the server (whose pid is the group id):
    the forkserver and the render children. A render child that ended is counted through its
    parent, the forkserver, which waited for it."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pgid:
            try:
                if os.getpgid(int(entry)) == pgid:
                    total += cpu_seconds(int(entry), reaped_children=True)
            except (OSError, ValueError, IndexError):
                continue
    return total


async def cpu_in_window(spec: dict[str, Any], start: float, end: float) -> dict[str, float]:
    """CPU use (100 = one core) between two time.perf_counter() moments: of the server under
    load, and of the rest of vidgate's process group (the render child)."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    server, render = cpu_seconds(spec["server_pid"]), render_cpu_seconds(spec["render_pgid"])
    began = time.perf_counter()
    await asyncio.sleep(max(0.0, end - began))
    seconds = time.perf_counter() - began
    server = cpu_seconds(spec["server_pid"]) - server
    render = render_cpu_seconds(spec["render_pgid"]) - render
    return {
        "server_cpu_s": server,
        "server_cpu_pct": 100.0 * server / seconds,
        "render_cpu_pct": 100.0 * render / seconds,
    }


# --- mode "rate": N clients back-to-back for a fixed time --------------------------------------


@dataclass
class RateTally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    ids: list[str] = field(default_factory=list)
    sent: int = 0


async def run_rate(spec: dict[str, Any]) -> dict[str, Any]:
    """`clients` connections, each sending back-to-back for `warmup_s` + `duration_s` (or until
    `max_requests` were sent). Requests completed inside the measured window count."""
    body = spec.get("body")
    requests = [build_request(spec, spec["method"], path, body) for path in spec["paths"]]
    tally = RateTally()
    window_start = time.perf_counter() + spec["warmup_s"]
    window_end = window_start + spec["duration_s"]
    max_requests = spec.get("max_requests", 10**7)
    clients = [
        _rate_client(spec, n, requests, tally, window_start, window_end, max_requests)
        for n in range(spec["clients"])
    ]
    cpu = None
    if spec.get("server_pid"):
        cpu = asyncio.create_task(cpu_in_window(spec, window_start, window_end))
    await asyncio.gather(*clients)
    measured = max(1e-9, min(time.perf_counter(), window_end) - window_start)
    ok = len(tally.latencies)
    cpu_figures = await cpu if cpu is not None else {}
    if cpu_figures and ok:
        cpu_figures["server_cpu_ms_per_request"] = 1000.0 * cpu_figures["server_cpu_s"] / ok
    return {
        **cpu_figures,
        "ok": ok,
        "sent": tally.sent,
        "statuses": dict(tally.statuses),
        "seconds": measured,
        "rps": ok / measured,
        **summary_ms(tally.latencies),
        "ids": tally.ids,
    }


async def _rate_client(
    spec: dict[str, Any],
    n: int,
    requests: list[bytes],
    tally: RateTally,
    window_start: float,
    window_end: float,
    max_requests: int,
) -> None:
    conn = Connection(spec["port"])
    collect_ids = spec.get("collect_ids", False)
    reconnects = 0
    i = n
    while time.perf_counter() < window_end and tally.sent < max_requests:
        tally.sent += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, body = await conn.request(requests[i % len(requests)])
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            tally.statuses[type(exc).__name__] += 1
            conn.close()
            reconnects += 1
            if reconnects > MAX_RECONNECTS_PER_CLIENT:
                break
            continue
        done = time.perf_counter()
        i += 1
        if collect_ids and status == 200:
            job_id = job_id_of(body)
            if job_id:
                tally.ids.append(job_id)
        if window_start <= done <= window_end:
            tally.statuses[str(status)] += 1
            if status == 200:
                tally.latencies.append(done - started)
    conn.close()


# --- long-polls --------------------------------------------------------------------------------


@dataclass
class Poll:
    job_id: str
    sent_at: float | None = None  # wall clock (time.time()), for comparing with completedAt
    received_at: float | None = None
    status_code: int | None = None
    job: dict[str, Any] | None = None
    error: str | None = None


async def _poll(spec: dict[str, Any], poll: Poll, connect_gate: asyncio.Semaphore) -> None:
    conn = Connection(spec["port"])
    raw = build_request(spec, "GET", f"/api/v1/jobs/{poll.job_id}?poll=true")
    try:
        async with connect_gate:
            await conn.open()
        poll.sent_at = time.time()
        async with asyncio.timeout(POLL_TIMEOUT_S):
            status, body = await conn.request(raw)
        poll.received_at = time.time()
        poll.status_code = status
        poll.job = json.loads(body) if body else None
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
        poll.error = type(exc).__name__
    finally:
        conn.close()


async def _until(condition: Callable[[], bool], timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return condition()


def parse_iso_ms(value: str | None) -> float | None:
    """`2026-01-01T12:00:00.123Z` as a Unix timestamp."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def _cancel(conn: Connection, spec: dict[str, Any], job_id: str) -> tuple[int | None, float]:
    raw = build_request(spec, "POST", f"/api/v1/jobs/{job_id}/cancel")
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            status, _ = await conn.request(raw)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        conn.close()
        status = None
    return status, time.time()


# --- mode "wakeup" -----------------------------------------------------------------------------


async def run_wakeup(spec: dict[str, Any]) -> dict[str, Any]:
    """One long-poll per job; once all are held, cancel the jobs one at a time, spread over
    `spread_s`. Wake-up = poll response received - the job's completedAt."""
    polls = [Poll(job_id) for job_id in spec["ids"]]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    tasks = [asyncio.create_task(_poll(spec, p, gate)) for p in polls]
    all_sent = await _until(lambda: all(p.sent_at or p.error for p in polls), 30.0)
    settle_s = await wait_until_quiet(spec["server_pid"], timeout=8.0)
    early = sum(1 for p in polls if p.received_at is not None or p.error)

    cancels: dict[str, tuple[float, int | None, float]] = {}  # id -> (sent, status, received)
    conn = Connection(spec["port"])
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval = spec["spread_s"] / max(1, len(polls))
    for n, p in enumerate(polls):
        await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
        sent = time.time()
        status, received = await _cancel(conn, spec, p.job_id)
        cancels[p.job_id] = (sent, status, received)
    conn.close()
    await asyncio.wait(tasks, timeout=POLL_TIMEOUT_S)

    wake, after_cancel, after_cancel_sent = [], [], []
    statuses: Counter[str] = Counter()
    for p in polls:
        status = (p.job or {}).get("status") if p.status_code == 200 else (p.error or p.status_code)
        statuses[str(status)] += 1
        completed = parse_iso_ms((p.job or {}).get("completedAt"))
        cancel_sent, _, cancel_received = cancels[p.job_id]
        if status != "cancelled" or completed is None or p.received_at is None:
            continue
        if p.received_at < cancel_sent:  # answered before its job was cancelled: not a wake-up
            continue
        wake.append(p.received_at - completed)
        after_cancel.append(p.received_at - cancel_received)
        after_cancel_sent.append(p.received_at - cancel_sent)
    return {
        "polls": len(polls),
        "all_sent": all_sent,
        "settle_s": settle_s,
        "returned_before_cancel": early,
        "cancel_statuses": dict(Counter(str(c[1]) for c in cancels.values())),
        "poll_statuses": dict(statuses),
        "wake": summary_ms(wake),
        "after_cancel_response": summary_ms(after_cancel),
        "after_cancel_sent": summary_ms(after_cancel_sent),
    }


# --- mode "hold" -------------------------------------------------------------------------------


async def _probe(spec: dict[str, Any], count: int) -> dict[str, Any]:
    """`count` sequential plain GET /jobs/{id}, 20 ms apart: does the server answer quickly?"""
    conn = Connection(spec["port"])
    raw = build_request(spec, "GET", f"/api/v1/jobs/{spec['probe_id']}")
    latencies, failures = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, _ = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            conn.close()
            status = None
        if status == 200:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
        await asyncio.sleep(0.02)
    conn.close()
    return {**summary_ms(latencies), "failures": failures}


async def _cancel_all(spec: dict[str, Any], job_ids: list[str], clients: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    queue = list(reversed(job_ids))

    async def client() -> None:
        conn = Connection(spec["port"])
        while queue:
            status, _ = await _cancel(conn, spec, queue.pop())
            statuses[str(status)] += 1
        conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses


async def run_hold(spec: dict[str, Any]) -> dict[str, Any]:
    """`polls_per_job` long-polls on each job, all at once; hold them `hold_s`, measuring the
    server meanwhile; then cancel the jobs and check every poll returned `cancelled`."""
    pid = spec["server_pid"]
    polls = [Poll(job_id) for job_id in spec["ids"] for _ in range(spec["polls_per_job"])]
    rss_before, fds_before = read_rss_kib(pid), count_fds(pid)
    probe_before = await _probe(spec, spec["probes"])

    loop = asyncio.get_running_loop()
    opened_at = loop.time()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    tasks = [asyncio.create_task(_poll(spec, p, gate)) for p in polls]
    all_sent = await _until(lambda: all(p.sent_at or p.error for p in polls), 15.0)
    open_s = loop.time() - opened_at
    settle_s = await wait_until_quiet(pid, timeout=8.0)
    rss_holding, fds_holding = read_rss_kib(pid), count_fds(pid)
    probe_holding = await _probe(spec, spec["probes"])
    # Release before the server's own 30 s hold runs out.
    release_at = min(opened_at + open_s + settle_s + spec["hold_s"], opened_at + HOLD_LIMIT_S)
    await asyncio.sleep(max(0.0, release_at - loop.time()))
    answered_early = sum(1 for p in polls if p.received_at is not None or p.error)
    held_s = loop.time() - opened_at
    rss_holding_end = read_rss_kib(pid)

    release_started = loop.time()
    cancel_statuses = await _cancel_all(spec, list(spec["ids"]), clients=4)
    await asyncio.wait(tasks, timeout=POLL_TIMEOUT_S)
    release_s = loop.time() - release_started
    statuses = Counter(
        str((p.job or {}).get("status") if p.status_code == 200 else (p.error or p.status_code))
        for p in polls
    )
    await asyncio.sleep(0.5)
    return {
        "polls": len(polls),
        "jobs": len(spec["ids"]),
        "all_sent": all_sent,
        "open_s": open_s,
        "settle_s": settle_s,
        "held_s": held_s,
        "answered_before_release": answered_early,
        "held": len(polls) - answered_early,
        "release_s": release_s,
        "cancel_statuses": dict(cancel_statuses),
        "poll_statuses": dict(statuses),
        "returned_cancelled": statuses.get("cancelled", 0),
        "rss_kib": {
            "before": rss_before,
            "holding": rss_holding,
            "holding_end": rss_holding_end,
            "after_release": read_rss_kib(pid),
        },
        "fds": {"before": fds_before, "holding": fds_holding},
        "probe_before": probe_before,
        "probe_holding": probe_holding,
    }


# --- mode "streams" ----------------------------------------------------------------------------

TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Stream:
    job_id: str
    first_at: float | None = None  # wall clock of the first event
    events: int = 0
    job: dict[str, Any] | None = None  # as the last event showed it
    ended_at: float | None = None  # wall clock of the event that showed the job ended
    status_code: int | None = None
    error: str | None = None


async def _follow(spec: dict[str, Any], stream: Stream, connect_gate: asyncio.Semaphore) -> None:
    """GET /api/v1/jobs/{id}/events, read chunk by chunk until the event of a terminal state."""
    conn = Connection(spec["port"])
    raw = build_request(spec, "GET", f"/api/v1/jobs/{stream.job_id}/events")
    try:
        async with connect_gate:
            await conn.open()
        assert conn.reader is not None and conn.writer is not None
        conn.writer.write(raw)
        async with asyncio.timeout(spec["timeout_s"]):
            head = await conn.reader.readuntil(b"\r\n\r\n")
            stream.status_code = int(head[9:12])
            if stream.status_code != 200:
                return
            pending = b""
            while True:
                size = int((await conn.reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    return
                pending += (await conn.reader.readexactly(size + 2))[:-2]
                *blocks, pending = pending.split(b"\r\n\r\n")
                for block in blocks:
                    if _take_event(stream, block, time.time()):
                        return
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
        stream.error = type(exc).__name__
    finally:
        conn.close()


def _take_event(stream: Stream, block: bytes, received_at: float) -> bool:
    """Record one event block; True once it shows the job ended."""
    data = [line[5:].strip() for line in block.split(b"\r\n") if line.startswith(b"data:")]
    if not data:
        return False  # a ping (a comment line)
    stream.job = json.loads(b"\n".join(data))
    stream.events += 1
    stream.first_at = stream.first_at or received_at
    if stream.job["status"] in TERMINAL:
        stream.ended_at = received_at
        return True
    return False


async def run_streams(spec: dict[str, Any]) -> dict[str, Any]:
    """`streams_per_job` event streams on each (pending) job, all at once; hold them `hold_s`,
    measuring the server meanwhile; then cancel the jobs one at a time over `spread_s`. Delay
    = the cancelled event received - the job's completedAt."""
    pid = spec["server_pid"]
    streams = [Stream(job_id) for job_id in spec["ids"] for _ in range(spec["streams_per_job"])]
    rss_before = read_rss_kib(pid)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    loop = asyncio.get_running_loop()
    opened_at = loop.time()
    tasks = [asyncio.create_task(_follow(spec, s, gate)) for s in streams]
    all_open = await _until(lambda: all(s.first_at or s.error or s.status_code not in (None, 200)
                                        for s in streams), 60.0)
    open_s = loop.time() - opened_at
    settle_s = await wait_until_quiet(pid, timeout=8.0)
    rss_holding = read_rss_kib(pid)
    probe_holding = await _probe(spec, spec["probes"])
    await asyncio.sleep(spec["hold_s"])
    ended_early = sum(1 for s in streams if s.ended_at is not None or s.error)
    rss_holding_end = read_rss_kib(pid)

    cancels: dict[str, tuple[float, int | None]] = {}
    conn = Connection(spec["port"])
    start = loop.time()
    interval = spec["spread_s"] / max(1, len(spec["ids"]))
    for n, job_id in enumerate(spec["ids"]):
        await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
        sent = time.time()
        status, _received = await _cancel(conn, spec, job_id)
        cancels[job_id] = (sent, status)
    conn.close()
    await asyncio.wait(tasks, timeout=spec["timeout_s"])

    delays = []
    for s in streams:
        completed = parse_iso_ms((s.job or {}).get("completedAt"))
        if s.ended_at is not None and completed is not None and s.ended_at >= cancels[s.job_id][0]:
            delays.append(s.ended_at - completed)
    return {
        "streams": len(streams),
        "jobs": len(spec["ids"]),
        "all_open": all_open,
        "open_s": open_s,
        "settle_s": settle_s,
        "ended_before_cancel": ended_early,
        "held": len(streams) - ended_early,
        "stream_statuses": dict(Counter(str((s.job or {}).get("status") or s.error or s.status_code)
                                        for s in streams)),
        "cancel_statuses": dict(Counter(str(status) for _sent, status in cancels.values())),
        "events_per_stream": summary_count([s.events for s in streams]),
        "delay": summary_ms(delays),
        "rss_kib": {"before": rss_before, "holding": rss_holding, "holding_end": rss_holding_end,
                    "after": read_rss_kib(pid)},
        "probe_holding": probe_holding,
    }


def summary_count(values: Sequence[int]) -> dict[str, float | int | None]:
    return {"min": min(values, default=None), "max": max(values, default=None),
            "mean": sum(values) / len(values) if values else None}


# --- entry point -------------------------------------------------------------------------------

MODES: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "rate": run_rate,
    "wakeup": run_wakeup,
    "hold": run_hold,
    "streams": run_streams,
}


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main() -> None:
    spec = json.load(sys.stdin)
    raise_fd_limit()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(MODES[spec["mode"]](spec))
    else:
        result = uvloop.run(MODES[spec["mode"]](spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
