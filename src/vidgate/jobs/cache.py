"""Recent job rows for plain reads of `GET /jobs/{id}`, the request clients repeat most.

A finished job never changes, so it is kept until evicted. A running one is dropped as soon as
this process changes it (its status through the events that wake long-polls, its progress when
the heartbeat stores it), and after `active_ttl` seconds in any case, for changes made by
other processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from vidgate.jobs.models import Job, JobStatus


class JobCache:
    def __init__(self, *, active_ttl: float, max_entries: int = 10_000) -> None:
        self.active_ttl = active_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Job]] = OrderedDict()

    def get(self, job_id: str) -> Job | None:
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        stored_at, job = entry
        if not JobStatus(job.status).terminal and time.monotonic() - stored_at > self.active_ttl:
            del self._entries[job_id]
            return None
        return job

    def put(self, job: Job) -> None:
        self._entries[job.id] = (time.monotonic(), job)
        self._entries.move_to_end(job.id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, job_id: str) -> None:
        self._entries.pop(job_id, None)
