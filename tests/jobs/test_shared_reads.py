"""SharedReads: overlapping reads of a job share one query, and a change drops the read in
flight so that a reader after the change never gets a row read before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vidgate.jobs.cache import SharedReads


async def settle() -> None:
    """Let every task started so far run up to its first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


class SlowReads:
    """A stand-in for the database: each read returns the row's version when it started."""

    def __init__(self) -> None:
        self.version = 0
        self.reads = 0
        self.release = asyncio.Event()
        self.fail = False

    async def read(self, job_id: str) -> Any:
        self.reads += 1
        seen = self.version
        await self.release.wait()
        if self.fail:
            raise ConnectionError("database gone")
        return (job_id, seen)


async def test_overlapping_reads_share_one_query() -> None:
    db = SlowReads()
    shared = SharedReads(db.read)
    readers = [asyncio.create_task(shared.get("job_a")) for _ in range(1000)]
    await settle()
    db.release.set()
    assert set(await asyncio.gather(*readers)) == {("job_a", 0)} and db.reads == 1
    assert await shared.get("job_a") == ("job_a", 0) and db.reads == 2  # a later read is a new one


async def test_a_reader_after_a_change_never_gets_the_row_from_before_it() -> None:
    db = SlowReads()
    shared = SharedReads(db.read)
    before = asyncio.create_task(shared.get("job_a"))
    await settle()
    db.version = 1  # the job changes while that read is in flight; its event says so
    shared.forget("job_a")
    after = asyncio.create_task(shared.get("job_a"))
    await settle()
    db.release.set()
    assert await before == ("job_a", 0)
    assert await after == ("job_a", 1) and db.reads == 2


async def test_a_failed_read_reaches_every_reader_and_the_next_one_tries_again() -> None:
    db = SlowReads()
    shared = SharedReads(db.read)
    db.fail = True
    readers = [asyncio.create_task(shared.get("job_a")) for _ in range(3)]
    await settle()
    db.release.set()
    for reader in readers:
        with pytest.raises(ConnectionError):
            await reader
    db.fail = False
    assert await shared.get("job_a") == ("job_a", 0) and db.reads == 2


async def test_a_reader_that_goes_away_does_not_cancel_the_others() -> None:
    db = SlowReads()
    shared = SharedReads(db.read)
    leaving, staying = asyncio.create_task(shared.get("job_a")), asyncio.create_task(shared.get("job_a"))
    await settle()
    leaving.cancel()
    db.release.set()
    assert await staying == ("job_a", 0)
