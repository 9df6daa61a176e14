"""Per-key rate limits, as NovaKit has them: every request a key makes counts against its
request limit, and a generation request against its generation limit too, each a sliding
window counter (the `limits` library's strategy): the previous fixed window's count, weighted
by how much of it is still inside the window, plus the current one's, so a limit costs two
counters per key and constant time per request, however large.

Where the counts live: in Redis, shared by every API process of a scale-out, through `limits`
itself; or, in the embedded default, in this process's memory (ProcessWindows, the same
arithmetic on a dict, because `limits`' in-memory storage costs far more than the request it
counts: docs/benchmarks.md).

A request over a limit is refused without being counted. When the counts cannot be reached
(Redis down), requests go through uncounted: a limit protects the server, it must not take
it down."""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

import limits
import limits.aio.strategies
from limits import WindowStats
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


def storage_url(url: str) -> str | None:
    """The `limits` storage for a setting's URL: None for memory:// (ProcessWindows), the
    asynchronous Redis storage for redis://host:port[/db]."""
    scheme = url.partition("://")[0]
    if scheme not in ("memory", "redis", "rediss", "redis+unix"):
        raise ValueError(f"{url!r} is not a rate limit storage: memory:// or redis://HOST:PORT")
    return None if scheme == "memory" else f"async+{url}"


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


class ProcessWindows:
    """Sliding window counters in this process's memory, with the arithmetic of `limits`'
    SlidingWindowCounterRateLimiter over its MemoryStorage (tests/api/test_rate_limits.py holds
    them to the same answers). That storage is not used itself: under load it starts a thread
    every 10 ms to expire counters, and beside the database's threads that cost 0.3 ms of CPU
    per request, more than reading a job. Only the event loop touches these counts, so they
    need no lock, and no expiry: a key's entry is overwritten as its windows pass, and only
    keys that exist are counted."""

    def __init__(self) -> None:
        # limit key -> (number of its current fixed window, previous window's count, current's)
        self._counts: dict[str, tuple[int, int, int]] = {}

    async def hit(self, item: limits.RateLimitItem, *identifiers: str) -> tuple[bool, WindowStats]:
        key = item.key_for(*identifiers)
        expiry = item.get_expiry()
        now = time.time()
        number = int(now / expiry)
        # seconds left in the current fixed window: also how much of the previous one the
        # sliding window still covers
        ends_in = (1 - (now / expiry) % 1) * expiry
        previous, current = self._counts_in(key, number)
        allowed = math.floor(previous * ends_in / expiry + current) < item.amount
        if allowed:
            current += 1
            self._counts[key] = (number, previous, current)
        remaining = max(0, item.amount - math.floor(previous * ends_in / expiry + current))
        # a slot frees when the next of the previous window's requests leaves the sliding
        # window, or when the current window ends (some count is above 0 here: a refusal
        # means the window is full, and a hit counted one)
        frees_in = min(
            ends_in % (expiry / previous) if previous else math.inf,
            ends_in if current else math.inf,
        )
        return allowed, WindowStats(now + frees_in, remaining)

    def _counts_in(self, key: str, number: int) -> tuple[int, int]:
        """The previous and the current window's counts of `key`, its current window `number`."""
        counted_in, previous, current = self._counts.get(key, (number, 0, 0))
        if counted_in == number:
            return previous, current
        return (current, 0) if counted_in == number - 1 else (0, 0)


class SharedWindows:
    """Sliding window counters in Redis, through `limits` (a Lua script per count)."""

    def __init__(self, storage_url: str) -> None:
        self.storage = storage_from_string(storage_url)
        self.limiter = limits.aio.strategies.SlidingWindowCounterRateLimiter(self.storage)

    async def hit(self, item: limits.RateLimitItem, *identifiers: str) -> tuple[bool, WindowStats]:
        allowed = await self.limiter.hit(item, *identifiers)
        return allowed, await self.limiter.get_window_stats(item, *identifiers)


class RateLimits:
    def __init__(self, *, requests: str, generations: str, storage: str = "memory://") -> None:
        """`requests`, `generations`: the default limits (parse_limit's form); `storage`: where
        counts are kept (storage_url's form)."""
        self.defaults = {REQUESTS: requests, GENERATIONS: generations}
        for default in self.defaults.values():
            parse_limit(default)
        shared_url = storage_url(storage)
        self.windows = ProcessWindows() if shared_url is None else SharedWindows(shared_url)
        self.shared = isinstance(self.windows, SharedWindows)

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
                allowed, stats = await self.windows.hit(item, kind, key.id)
            except Exception as exc:  # the storage is out of reach: let requests through
                log.warning("rate limits could not be counted: %r", exc)
                return None
            window = Window(item.amount, stats.remaining, stats.reset_time)
            if not allowed:
                raise RateLimitExceeded(window)
            windows.append(window)
        return min(windows, key=lambda window: window.remaining, default=None)

    def _limit_of(self, key: AuthenticatedKey, kind: str) -> str:
        own = key.generation_rate_limit if kind == GENERATIONS else key.rate_limit
        return own or self.defaults[kind]

    async def check(self) -> None:
        """Raise when the shared storage cannot be reached (readiness)."""
        if isinstance(self.windows, SharedWindows) and not await self.windows.storage.check():
            raise ConnectionError("the rate limit storage does not answer")


class RateLimitExceeded(TooManyRequests):
    def __init__(self, window: Window) -> None:
        retry = window.seconds_to_reset()
        super().__init__("Rate limit exceeded", retryAfter=retry, retry_after=retry)
        self.window = window

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.window.headers()}
