"""X-RateLimit-Limit, -Remaining and -Reset on every response to a request that was counted
against its key's rate limits, whatever answered it (the route, or an error)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Where ScopedKey leaves the key's tightest rate limit window (auth.rate_limits.Window).
RATE_LIMIT_WINDOW = "vidgate.rate_limit_window"


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            window = scope.get(RATE_LIMIT_WINDOW)
            if message["type"] == "http.response.start" and window is not None:
                # appended as they are: nothing else sets these headers
                message["headers"] = [*message.get("headers", ()), *window.raw_headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
