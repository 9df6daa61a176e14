"""What the background loops (workers, reaper, heartbeat, intake) share."""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Call in a loop's `except Exception` before carrying on.

    A cancellation that lands mid-query can surface as a driver error instead of CancelledError
    (the connection clean-up fails and its exception replaces the original); a loop that logged
    it and went on would never stop. The task still counts the request, so ask it.
    """
    if cancelling():
        raise asyncio.CancelledError()


def cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
