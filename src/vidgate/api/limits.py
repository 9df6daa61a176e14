"""A cap on request bodies, checked before anything is read."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api.openai_videos import OPENAI_PREFIX, openai_error

# The largest body the API accepts: a generation request with a data: URI source fits.
MAX_BODY_BYTES = 20 * 1024 * 1024
# What a multipart form adds around an uploaded file (boundaries, part headers, small fields).
FORM_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    """Answers 413 in the API's error shape when a body is, or turns out to be, too large.
    `uploads` gives paths that take files their own limit, for multipart forms."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, uploads: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        max_bytes = self.max_bytes
        if headers.get(b"content-type", b"").startswith(b"multipart/form-data"):  # a file may come
            max_bytes = self.uploads.get(scope["path"], self.max_bytes)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(scope, send, max_bytes)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            # Past the limit the app sees the body end there; its answer is replaced below.
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:
                too_large = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._reject(scope, send, max_bytes)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, scope: Scope, send: Send, max_bytes: int) -> None:
        error = {"error": f"Request body larger than {max_bytes} bytes"}
        if scope["path"].startswith(OPENAI_PREFIX + "/"):
            error = openai_error(413, error)
        body = json.dumps(error).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
