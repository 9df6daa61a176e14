"""Job events between processes over PostgreSQL LISTEN/NOTIFY (scale-out).

Every process listens on one channel on a connection of its own. An event is a NOTIFY with
`kind:job_id[,job_id...]` as its payload (many jobs' progress travels in one); PostgreSQL
delivers it to every listening process, the sender included, each of which hands it to its
own waiters and handlers (`JobEvents.deliver`). A
listening connection that drops is opened again; since events may have been missed meanwhile,
every waiter is then woken to read its job again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from vidgate.jobs.events import EventKind, JobEvents
from vidgate.jobs.loops import raise_if_cancelling

log = logging.getLogger(__name__)

CHANNEL = "vidgate_jobs"
RECONNECT_SECONDS = 1.0
IDS_PER_NOTIFY = 200  # a payload holds at most 8,000 bytes


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (postgresql+asyncpg://...) as libpq and asyncpg write it."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgresql") else url


class PgJobEvents(JobEvents):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = libpq_url(url)
        self._sender: asyncpg.Connection | None = None
        self._send_lock = asyncio.Lock()
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="vidgate-events")
        with contextlib.suppress(TimeoutError):  # the loop goes on connecting meanwhile
            async with asyncio.timeout(10):
                await self._listening.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sender is not None:
            await self._sender.close()
            self._sender = None

    async def publish(self, kind: EventKind, *job_ids: str) -> None:
        payloads = [
            f"{kind}:{','.join(job_ids[start : start + IDS_PER_NOTIFY])}"
            for start in range(0, len(job_ids), IDS_PER_NOTIFY)
        ]
        async with self._send_lock:  # one connection, one query at a time
            try:
                if self._sender is None or self._sender.is_closed():
                    self._sender = await asyncpg.connect(self.url)
                for payload in payloads:
                    await self._sender.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except (OSError, asyncpg.PostgresError) as exc:
                # Waiters still wake at their timeout; a worker still sees a cancel at its next
                # heartbeat. Losing an event delays, it never loses a job.
                log.warning("could not send the %s event of %d jobs: %s", kind, len(job_ids), exc)
                self._sender = None

    async def check(self) -> None:
        if not self._listening.is_set():
            raise ConnectionError("not listening for job events")

    async def _listen(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self.url)
            except Exception as exc:  # noqa: BLE001 - any failure to connect: try again
                raise_if_cancelling()
                log.warning("could not listen for job events: %s", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            try:
                await connection.add_listener(CHANNEL, self._received)
                self._listening.set()
                self.wake_all()  # anything missed before this listener was up
                await lost.wait()
                log.warning("the job events connection dropped; listening again")
            finally:
                self._listening.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))

    def _received(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        kind, _, job_ids = payload.partition(":")
        try:
            event = EventKind(kind)
        except ValueError:
            log.warning("ignored a job event of unknown kind %r", kind)
            return
        for job_id in job_ids.split(","):
            self.deliver(event, job_id)
