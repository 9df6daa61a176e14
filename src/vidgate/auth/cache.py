"""Recently authenticated keys, so that a request does not read the key table every time.

Only what authorisation needs is kept (id, scopes, sandbox); balances are always read from the
database. A key revoked by another process (`vidgate keys revoke`) stops working once its entry
expires, after at most `ttl` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class AuthenticatedKey:
    id: str
    name: str
    scopes: frozenset[str]
    sandbox: bool


class KeyCache:
    def __init__(self, *, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, AuthenticatedKey]] = OrderedDict()

    def get(self, key_hash: str) -> AuthenticatedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        stored_at, key = entry
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[key_hash]
            return None
        return key

    def put(self, key_hash: str, key: AuthenticatedKey) -> None:
        if self.ttl <= 0:
            return
        self._entries[key_hash] = (time.monotonic(), key)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        for key_hash, (_stored_at, key) in list(self._entries.items()):
            if key.id == key_id:
                del self._entries[key_hash]
