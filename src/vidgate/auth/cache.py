"""Recently authenticated keys, so that a request does not read the key table every time.

Only what authorisation needs is kept (id, scopes, sandbox, rate limits); balances are always read from the
database. A key revoked by another process (`vidgate keys revoke`) stops working once its entry
expires, after at most `ttl` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidgate.cache import ExpiringCache


@dataclass(frozen=True)
class AuthenticatedKey:
    id: str
    name: str
    scopes: frozenset[str]
    sandbox: bool
    rate_limit: str | None = None  # the key's own, else the server's default
    generation_rate_limit: str | None = None


def key_cache(*, ttl: float) -> ExpiringCache[AuthenticatedKey]:
    """Entries by key hash."""
    return ExpiringCache(lifetime=lambda _key: ttl)
