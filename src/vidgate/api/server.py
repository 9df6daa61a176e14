"""The uvicorn server of `vidgate serve`, with a stop in the order its clients need.

uvicorn alone, on SIGTERM or Ctrl-C, waits for every open request before the application
hears of the stop: a held long-poll or sync request keeps the workers claiming new jobs for
as long as it lasts (a sync request may wait 15 minutes). Here the application hears first:
held requests are answered with their job as it stands and workers give their jobs back, then
the remaining connections get what is left of `VIDGATE_SHUTDOWN_SECONDS`, and past it the
process exits regardless."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn

from vidgate.ops.stopping import exit_after

log = logging.getLogger(__name__)

# Kept out of the connections' share of the stop, for the application's own shutdown.
LIFESPAN_SHARE_SECONDS = 1.0


class GracefulServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, *, stop_taking_work: Callable[[], Awaitable[None]], stop_seconds: float
    ) -> None:
        super().__init__(config)
        self.stop_taking_work = stop_taking_work
        self.stop_seconds = stop_seconds
        self._stop_deadline: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.stop_seconds
            exit_after(self.stop_seconds)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        deadline = self._stop_deadline or time.monotonic() + self.stop_seconds

        def left_before_the_lifespan() -> float:
            return max(deadline - time.monotonic() - LIFESPAN_SHARE_SECONDS, 0.1)

        try:
            async with asyncio.timeout(left_before_the_lifespan()):
                await self.stop_taking_work()
        except TimeoutError:
            log.error("workers did not give their jobs back in time; their leases will")
        self.config.timeout_graceful_shutdown = left_before_the_lifespan()
        await super().shutdown(sockets)
