"""The expiring cache behind key and job lookups."""

from __future__ import annotations

import time

import pytest

from vidgate.cache import ExpiringCache


def test_entries_expire_by_their_own_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: ExpiringCache[str] = ExpiringCache(lifetime=lambda value: 10.0 if value == "short" else 100.0)
    cache.put("a", "short")
    cache.put("b", "long")
    now[0] += 50
    assert cache.get("a") is None
    assert cache.get("b") == "long"


def test_zero_lifetime_is_not_stored_and_size_is_bounded() -> None:
    cache: ExpiringCache[int] = ExpiringCache(lifetime=lambda value: float(value), max_entries=2)
    cache.put("zero", 0)
    assert cache.get("zero") is None
    for name in ("x", "y", "z"):
        cache.put(name, 5)
    assert cache.get("x") is None and cache.get("z") == 5


def test_forget() -> None:
    cache: ExpiringCache[str] = ExpiringCache(lifetime=lambda _value: 60.0)
    cache.put("1", "key_a")
    cache.forget("1")
    cache.forget("never stored")
    assert cache.get("1") is None


def test_a_value_read_while_its_key_was_forgotten_is_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: ExpiringCache[str] = ExpiringCache(lifetime=lambda _value: 100.0)
    read_at = time.monotonic()  # a read of "job_a" begins
    now[0] += 0.001
    cache.forget("job_a")  # the job changes while the read is in flight
    now[0] += 0.001
    cache.put("job_a", "as it was", read_at=read_at)
    assert cache.get("job_a") is None  # the next reader reads it again
    cache.put("job_a", "as it is", read_at=time.monotonic())
    assert cache.get("job_a") == "as it is"
    cache.put("job_b", "never forgotten", read_at=read_at)
    assert cache.get("job_b") == "never forgotten"
