"""Job events: a job changed (wake whoever waits for it), its progress moved, its cancel was
asked for, news for it arrived from its provider (a webhook).

`JobEvents` delivers them inside one process (the embedded default). In scale-out,
`PgJobEvents` (jobs/pg_events.py) carries them between processes over PostgreSQL
LISTEN/NOTIFY, so a long-poll held on one API process wakes when a worker on another machine
finishes the job, and a cancel sent to any API process reaches the worker running the job.
"""

from __future__ import annotations

import asyncio
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable

Handler = Callable[[str], None]


class EventKind(enum.StrEnum):
    CHANGED = "changed"  # its status (or anything but progress) changed
    PROGRESS = "progress"  # its stored progress moved
    CANCEL = "cancel"  # stop it, wherever it runs
    POKE = "poke"  # its provider has news: check now


class JobEvents:
    """Events delivered inside this process. Subclasses carry them between processes by
    overriding `publish`, `start` and `stop`, and call `deliver` for each event received."""

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._watchers: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._handlers: defaultdict[EventKind, list[Handler]] = defaultdict(list)
        self.waits_ended = False

    def subscribe(self, job_id: str, *, progress: bool = False) -> asyncio.Future[None]:
        """A future resolved at the job's next change (or, with `progress`, at its next change
        or progress). Subscribe before reading the job, so a change between the read and the
        wait is not missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.waits_ended:
            future.set_result(None)
        else:
            (self._watchers if progress else self._waiters)[job_id].add(future)
        return future

    def unsubscribe(self, job_id: str, future: asyncio.Future[None]) -> None:
        for registry in (self._waiters, self._watchers):
            waiters = registry.get(job_id)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del registry[job_id]

    def on(self, kind: EventKind, handler: Handler) -> None:
        """Call `handler(job_id)` for every event of `kind` (for any job)."""
        self._handlers[kind].append(handler)

    async def changed(self, job_id: str) -> None:
        await self.publish(EventKind.CHANGED, job_id)

    async def progressed(self, *job_ids: str) -> None:
        await self.publish(EventKind.PROGRESS, *job_ids)

    async def cancel(self, job_id: str) -> None:
        await self.publish(EventKind.CANCEL, job_id)

    async def poke(self, job_id: str) -> None:
        await self.publish(EventKind.POKE, job_id)

    async def publish(self, kind: EventKind, *job_ids: str) -> None:
        for job_id in job_ids:
            self.deliver(kind, job_id)

    def deliver(self, kind: EventKind, job_id: str) -> None:
        for handler in self._handlers.get(kind, ()):
            handler(job_id)
        if kind is EventKind.CHANGED:
            _wake(self._waiters.pop(job_id, ()))
        if kind in (EventKind.CHANGED, EventKind.PROGRESS):
            _wake(self._watchers.pop(job_id, ()))

    def end_waits(self) -> None:
        """The process is stopping: wake every waiter, and let no one wait from now on, so that
        held polls and sync requests are answered with their job as it stands."""
        self.waits_ended = True
        self.wake_all()

    def wake_all(self) -> None:
        """Wake every waiter (after events may have been missed): each reads its job again."""
        for job_id in {*self._waiters, *self._watchers}:
            self.deliver(EventKind.CHANGED, job_id)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def check(self) -> None:
        """Raise when events cannot be delivered (readiness)."""


def _wake(futures: Iterable[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
