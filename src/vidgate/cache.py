"""A bounded in-memory map whose entries expire: least recently stored are evicted first.

A value read while its key was being forgotten (a read in flight when the change that made
it stale was announced) is not stored: `put(..., read_at=...)` with the time the read began
is refused when the key was forgotten since."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringCache(Generic[V]):
    """`lifetime(value)` says how many seconds an entry stays valid (0: do not store it)."""

    def __init__(self, *, lifetime: Callable[[V], float], max_entries: int = 10_000) -> None:
        self._lifetime = lifetime
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._forgotten: OrderedDict[str, float] = OrderedDict()  # key -> monotonic time, recent ones

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if time.monotonic() > expires_at:
            del self._entries[key]
            return None
        return value

    def put(self, key: str, value: V, *, read_at: float | None = None) -> None:
        """Store `value`; `read_at`: the time.monotonic() at which its read began."""
        lifetime = self._lifetime(value)
        if lifetime <= 0:
            return
        if read_at is not None and self._forgotten.get(key, -math.inf) >= read_at:
            return
        self._entries[key] = (time.monotonic() + lifetime, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
        self._forgotten[key] = time.monotonic()
        self._forgotten.move_to_end(key)
        while len(self._forgotten) > self.max_entries:  # a read lasts far less than this many changes
            self._forgotten.popitem(last=False)
