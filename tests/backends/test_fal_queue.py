"""The queue client's own rules, against canned answers (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from vidgate.backends.fal import queue as queue_module
from vidgate.backends.fal.queue import FalError, FalLost, FalQueue, FalRejected, Handle, Patience

BASE = "https://queue.test"
HANDLE = Handle(request_id="r1", status_url=f"{BASE}/fal-ai/x/requests/r1/status",
                response_url=f"{BASE}/fal-ai/x/requests/r1", cancel_url=f"{BASE}/fal-ai/x/requests/r1/cancel")


def _queue(answer: Callable[[httpx.Request], httpx.Response]) -> FalQueue:
    return FalQueue(httpx.AsyncClient(transport=httpx.MockTransport(answer)), key="k", base_url=BASE)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("down", request=request)


@pytest.mark.parametrize(
    ("status", "answer", "kind", "message"),
    [
        ({"status": "COMPLETED", "error": "flagged", "error_type": "content_policy_violation"},
         lambda r: httpx.Response(200, json={}), FalRejected,
         "fal.ai refused the request under its content policy: flagged"),
        ({"status": "COMPLETED", "error": "Runner crashed"}, _refuse, FalError,
         "fal.ai could not make the video: Runner crashed"),
        ({"status": "CANCELED"}, lambda r: httpx.Response(200, json={}), FalError,
         "fal.ai could not make the video: the request ended as CANCELED"),
        ({"status": "COMPLETED", "error": "Invalid status code: 422"},
         lambda r: httpx.Response(422, json={"detail": [{"loc": ["body", "duration"], "msg": "bad",
                                                         "type": "enum"}]}),
         FalRejected, "fal.ai rejected the input: duration: bad"),
    ],
    ids=["policy from the status", "result unreachable", "canceled", "422 from the result"],
)
async def test_a_failed_request_is_explained_by_its_result_else_its_status(
    status: dict, answer: Callable[[httpx.Request], httpx.Response], kind: type[FalError], message: str
) -> None:
    error = await _queue(answer).failure(HANDLE, status)
    assert type(error) is kind and str(error) == message


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("fal-ai/kling-video/v2.5-turbo/pro/text-to-video", f"{BASE}/fal-ai/kling-video/requests/r9"),
        ("fal-ai/veo3", f"{BASE}/fal-ai/veo3/requests/r9"),
        ("workflows/me/my-flow/run", f"{BASE}/workflows/me/my-flow/requests/r9"),
    ],
)
async def test_urls_missing_from_a_submit_answer_are_built_from_owner_and_app(model: str, base: str) -> None:
    handle = await _queue(lambda r: httpx.Response(200, json={"request_id": "r9"})).submit(model, {})
    assert handle == Handle(request_id="r9", status_url=f"{base}/status", response_url=base,
                            cancel_url=f"{base}/cancel")


async def test_a_submit_answer_without_a_request_id_is_a_lost_submit() -> None:
    with pytest.raises(FalLost):
        await _queue(lambda r: httpx.Response(200, json={"status": "IN_QUEUE"})).submit("fal-ai/veo3", {})


async def test_calls_to_fal_wait_their_turn_past_the_process_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """However many jobs poll at once, at most CONNECTIONS calls are open: the rest wait in the
    queue client, not in httpx's pool (which grows costly with every request waiting in it)."""
    monkeypatch.setattr(queue_module, "CONNECTIONS", 3)
    open_calls, most = 0, 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal open_calls, most
        open_calls += 1
        most = max(most, open_calls)
        await asyncio.sleep(0.01)
        open_calls -= 1
        return httpx.Response(200, json={"status": "IN_QUEUE"})

    fal = FalQueue(httpx.AsyncClient(transport=httpx.MockTransport(answer)), key="k", base_url=BASE)
    statuses = await asyncio.gather(*(fal.status(HANDLE, Patience.for_seconds(5)) for _ in range(20)))
    assert [status["status"] for status in statuses] == ["IN_QUEUE"] * 20
    assert most == 3
