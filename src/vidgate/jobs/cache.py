"""Recent job rows for plain reads of `GET /jobs/{id}`, the request clients repeat most.

A finished job never changes, so it is kept until evicted. A running one is dropped as soon as
this process changes it (its status through the events that wake long-polls, its progress when
the heartbeat stores it), and after `active_ttl` seconds in any case, for changes made by
other processes.
"""

from __future__ import annotations

import math

from vidgate.cache import ExpiringCache
from vidgate.jobs.models import Job, JobStatus


def job_cache(*, active_ttl: float) -> ExpiringCache[Job]:
    """Entries by job id."""
    return ExpiringCache(
        lifetime=lambda job: math.inf if JobStatus(job.status).terminal else active_ttl
    )
