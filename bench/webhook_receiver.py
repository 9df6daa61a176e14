"""The webhook bench's two ends besides vidgate, each in a process of its own:

    python bench/webhook_receiver.py serve PORT          # the receiver (uvicorn, one process)
    python bench/webhook_receiver.py blast URL N CONC    # the bare sender: the ceiling

The receiver answers 204 to every POST and keeps, per `webhook-id`, the first arrival time and
the event's type, job id and the job's completedAt; `GET /stats` returns them. The bare sender
POSTs N bodies like vidgate's (a job object of the same size, signed by `standardwebhooks`),
CONC at a time, with one httpx client, and prints its rate as JSON: what sending alone costs.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

SEEN: dict[str, list[Any]] = {}
POSTS = [0]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    arrived = time.time()
    if scope["method"] == "POST":
        POSTS[0] += 1
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        if headers.get("webhook-id") not in SEEN:
            event = json.loads(body)
            data = event.get("data") or {}
            SEEN[headers["webhook-id"]] = [event.get("type"), data.get("id"), data.get("completedAt"), arrived]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = json.dumps({"posts": POSTS[0], "deliveries": list(SEEN.values())}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


def sample_body(index: int) -> bytes:
    """A body the size of vidgate's generation.cancelled event."""
    job = {"id": f"job_{index:024x}", "userId": "api", "tool": "video", "status": "cancelled", "progress": 0,
           "queuePosition": None, "inputParams": {"prompt": "a", "model": "vidgate/local", "duration_seconds": 1.0,
           "resolution": "720p", "fps": 30, "aspect_ratio": "16:9", "mode": "text_to_video", "source_image": None,
           "source_video": None, "negative_prompt": None, "seed": 123456789, "prompt_optimizer": True,
           "loop": False}, "outputData": None, "estimatedCredits": 10, "actualCredits": 0,
           "createdAt": "2026-12-06T14:00:16.000Z", "completedAt": "2026-12-06T14:00:19.000Z",
           "model": "vidgate/local", "modelTier": "basic", "provider": "local", "errorMessage": None,
           "outputsDeletedAt": None}
    event = {"type": "generation.cancelled", "timestamp": "2026-12-06T14:00:19.000Z", "attempt": 0, "data": job}
    return json.dumps(event, separators=(",", ":")).encode()


async def blast(url: str, count: int, concurrency: int) -> dict[str, Any]:
    import httpx
    from standardwebhooks import Webhook

    signer = Webhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    queue = list(range(count))
    async with httpx.AsyncClient(timeout=30) as client:
        async def sender() -> None:
            while queue:
                index = queue.pop()
                body, now, msg_id = sample_body(index), datetime.now(UTC), f"msg_bare_{index}"
                headers = {"content-type": "application/json", "webhook-id": msg_id,
                           "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": signer.sign(msg_id, now, body)}
                async with client.stream("POST", url, content=body, headers=headers) as response:
                    await response.aread()
                    if response.status_code >= 300:
                        raise RuntimeError(f"the receiver answered {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"sent": count, "seconds": elapsed, "per_second": count / elapsed}


def main() -> None:
    if sys.argv[1] == "serve":
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="info", access_log=False)
    else:
        url, count, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(asyncio.run(blast(url, count, concurrency))))


if __name__ == "__main__":
    main()
