"""A webhook receiver on loopback (a real HTTP server in a thread): records every request,
and answers with the status a test chooses for each attempt."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified(self, secret: str) -> dict[str, Any]:
        """The event, once its signature checks out with `secret` (raises otherwise)."""
        event: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return event


class Receiver:
    def __init__(self, answer: Callable[[Received, int], int]) -> None:
        """`answer(request, nth)`: the status for the nth (1, 2...) request of its webhook-id."""
        self.answer = answer
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.url = ""

    def by_id(self) -> dict[str, list[Received]]:
        with self.lock:
            found: dict[str, list[Received]] = {}
            for request in self.received:
                found.setdefault(request.headers["webhook-id"], []).append(request)
            return found

    async def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """The requests received, once there are `count` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.received)} webhooks arrived, not {count}")


@contextmanager
def receiving(answer: Callable[[Received, int], int] = lambda _request, _nth: 204, *,
              port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            with receiver.lock:
                receiver.received.append(request)
                nth = sum(1 for r in receiver.received if r.headers.get("webhook-id") == request.headers.get("webhook-id"))
            self.send_response(receiver.answer(request, nth))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
