"""Recently authenticated keys, so that a request does not read the key table every time.

Only what authorisation and submission need is kept (id, scopes, sandbox, rate limits, webhook
defaults); balances are always read from the
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
    webhook_url: str | None = None  # where its jobs' events go when a request names none
    signs_webhooks: bool = False  # it has a webhook signing secret


def key_cache(*, ttl: float) -> ExpiringCache[AuthenticatedKey]:
    """Entries by key hash."""
    return ExpiringCache(lifetime=lambda _key: ttl)
