"""Per-key rate limits, as NovaKit has them: every request a key makes counts against its
request limit, and a generation request against its generation limit too, each a sliding
window: the `limits` library's sliding window counter, which weighs the previous fixed
window's count by how much of it is still inside the window, so a limit costs two counters per
key and constant time per request, however large (a moving window keeps a timestamp per
request, and its in-memory form shifts that whole list on every request). The counts live in this
process's memory (the embedded default) or in Redis, shared by every API process of a
scale-out.

A request over a limit is refused without being counted. When the counts cannot be reached
(Redis down), requests go through uncounted: a limit protects the server, it must not take
it down."""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import limits
import limits.aio.strategies
import limits.strategies
from limits.storage import storage_from_string

from vidgate.auth.cache import AuthenticatedKey
from vidgate.errors import TooManyRequests

log = logging.getLogger(__name__)

NO_LIMIT = "none"
SERVER_DEFAULT = "default"  # a key's limit that is the server's
_FORM = "write it as N/second, N/minute, N/hour or N/day (e.g. 120/minute), or none"
REQUESTS, GENERATIONS = "requests", "generations"


@functools.cache
def parse_limit(text: str) -> limits.RateLimitItem | None:
    """'120/minute' (or '120 per minute'); None for 'none'. ValueError for anything else."""
    if text.strip().lower() == NO_LIMIT:
        return None
    try:
        items = limits.parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(f"{text!r} is not a rate limit: {_FORM}")
    return items[0]


def storage_url(url: str) -> str:
    """The `limits` storage for a setting's URL: memory:// (kept as it is: the synchronous
    storage, whose calls never wait; its asynchronous twin hands work to a thread on every
    request), or redis://host:port[/db] (the asynchronous one)."""
    scheme = url.partition("://")[0]
    if scheme not in ("memory", "redis", "rediss", "redis+unix"):
        raise ValueError(f"{url!r} is not a rate limit storage: memory:// or redis://HOST:PORT")
    return url if scheme == "memory" else f"async+{url}"


@dataclass(frozen=True)
class Window:
    """Where a key stands in one limit, as the X-RateLimit-* headers say it."""

    limit: int
    remaining: int
    reset_at: float  # Unix time a request's slot frees

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in self.headers().items()]

    def seconds_to_reset(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimits:
    def __init__(self, *, requests: str, generations: str, storage: str = "memory://") -> None:
        """`requests`, `generations`: the default limits (parse_limit's form); `storage`: where
        counts are kept (storage_url's form)."""
        self.defaults = {REQUESTS: requests, GENERATIONS: generations}
        for default in self.defaults.values():
            parse_limit(default)
        self.shared = not storage.startswith("memory:")
        self.storage = storage_from_string(storage_url(storage))
        self.limiter = (
            limits.aio.strategies.SlidingWindowCounterRateLimiter(self.storage)
            if self.shared else limits.strategies.SlidingWindowCounterRateLimiter(self.storage)
        )

    async def count(self, key: AuthenticatedKey, *, generation: bool) -> Window | None:
        """Count a request of `key`; the window of its tightest limit (for the headers), None
        when it has no limit. TooManyRequests, with that window's headers, when a limit is
        full."""
        kinds = (GENERATIONS, REQUESTS) if generation else (REQUESTS,)
        windows: list[Window] = []
        for kind in kinds:
            item = parse_limit(self._limit_of(key, kind))
            if item is None:
                continue
            try:
                allowed, stats = await self._count(item, kind, key.id)
            except Exception as exc:  # the storage is out of reach: let requests through
                log.warning("rate limits could not be counted: %r", exc)
                return None
            window = Window(item.amount, stats.remaining, stats.reset_time)
            if not allowed:
                raise RateLimitExceeded(window)
            windows.append(window)
        return min(windows, key=lambda window: window.remaining, default=None)

    async def _count(self, item: limits.RateLimitItem, *identifiers: str) -> tuple[bool, Any]:
        if isinstance(self.limiter, limits.strategies.SlidingWindowCounterRateLimiter):
            return self.limiter.hit(item, *identifiers), self.limiter.get_window_stats(item, *identifiers)
        hit = await self.limiter.hit(item, *identifiers)
        return hit, await self.limiter.get_window_stats(item, *identifiers)

    def _limit_of(self, key: AuthenticatedKey, kind: str) -> str:
        own = key.generation_rate_limit if kind == GENERATIONS else key.rate_limit
        return own or self.defaults[kind]

    async def check(self) -> None:
        """Raise when the shared storage cannot be reached (readiness)."""
        if self.shared and not await self.storage.check():
            raise ConnectionError("the rate limit storage does not answer")


class RateLimitExceeded(TooManyRequests):
    def __init__(self, window: Window) -> None:
        retry = window.seconds_to_reset()
        super().__init__("Rate limit exceeded", retryAfter=retry, retry_after=retry)
        self.window = window

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.window.headers()}
