"""A bound on how long a stopping process may take: past it, the process exits whatever it is
still doing. Jobs it had not yet given back are taken back by their lease (embedded) or by
procrastinate's stalled-worker check (scale-out), so nothing is lost, only delayed."""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

EXIT_CODE = 1


def exit_after(seconds: float) -> threading.Timer:
    """Start the clock of a stop: the process exits `seconds` from now unless it ends first."""

    def overdue() -> None:
        log.error("still stopping after %.1f s: exiting now", seconds)
        logging.shutdown()
        os._exit(EXIT_CODE)

    timer = threading.Timer(seconds, overdue)
    timer.daemon = True
    timer.start()
    return timer
