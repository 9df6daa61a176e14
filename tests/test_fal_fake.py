"""The fal queue fake (tests/fal_fake.py) speaks the protocol of the fal reference, section 1."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest

from tests.fal_fake import STATUS_ERRORS, FakeFal
from tests.live_server import serve_in_thread

KEY = "fal-test-key"
MODEL = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeFal, str]]:
    fake = FakeFal(key=KEY)
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeFal, str]) -> FakeFal:
    fake, _ = served
    fake.reset()  # the server is shared by the module
    return fake


@pytest.fixture
def client(served: tuple[FakeFal, str]) -> Iterator[httpx.Client]:
    _, url = served
    with httpx.Client(base_url=url, headers={"Authorization": f"Key {KEY}"}, timeout=10) as c:
        yield c


def submit(
    client: httpx.Client, model: str = MODEL, body: dict[str, Any] | None = None, **params: str
) -> dict:
    r = client.post(f"/{model}", json=body or {"prompt": "a cat"}, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def poll_to_completion(client: httpx.Client, sub: dict, limit: int = 20) -> httpx.Response:
    for _ in range(limit):
        r = client.get(sub["status_url"])
        if r.json()["status"] == "COMPLETED":
            return r
    raise AssertionError("never completed")


def test_submit_builds_urls_from_owner_and_app(fake: FakeFal, client: httpx.Client) -> None:
    sub = submit(client, body={"prompt": "a cat", "duration": "5"}, fal_webhook="https://hook.example/x?a=1")
    rid = sub["request_id"]
    base = f"{fake.base_url}/fal-ai/kling-video/requests/{rid}"
    assert sub["response_url"] == base
    assert sub["status_url"] == f"{base}/status"
    assert sub["cancel_url"] == f"{base}/cancel"
    assert sub["status"] == "IN_QUEUE" and sub["queue_position"] == 1
    s = fake.submissions[-1]
    assert s.model_id == MODEL and s.request_id == rid
    assert s.body == {"prompt": "a cat", "duration": "5"}
    assert s.headers["authorization"] == f"Key {KEY}"
    assert s.webhook == "https://hook.example/x?a=1" == s.query["fal_webhook"]

    sub2 = submit(client, model="fal-ai/minimax/video-01")
    assert sub2["status_url"] == f"{fake.base_url}/fal-ai/minimax/requests/{sub2['request_id']}/status"
    # the full model path is not a status URL
    assert client.get(f"/{MODEL}/requests/{rid}/status").status_code in (404, 405)


def test_status_progression_result_and_file(fake: FakeFal, client: httpx.Client) -> None:
    fake.polls_in_queue, fake.polls_in_progress = 2, 2
    fake.video_size, fake.video_seconds, fake.video_fps = (320, 240), 1.0, 10
    sub = submit(client)
    assert sub["queue_position"] == 2
    # result before completion
    r = client.get(sub["response_url"])
    assert r.status_code == 400 and r.json() == {"detail": "Request is still in progress"}

    seen = []
    for _ in range(5):
        r = client.get(sub["status_url"], params={"logs": "1"})
        seen.append((r.status_code, r.json()))
    assert [(code, b["status"]) for code, b in seen] == [
        (202, "IN_QUEUE"), (202, "IN_QUEUE"), (202, "IN_PROGRESS"), (202, "IN_PROGRESS"), (200, "COMPLETED"),
    ]
    assert [b["queue_position"] for _, b in seen[:2]] == [1, 0]
    assert seen[0][1]["response_url"] == sub["response_url"]
    logs = seen[3][1]["logs"]
    assert len(logs) == 2 and {"message", "timestamp", "level"} <= set(logs[0])
    done = seen[4][1]
    assert done["metrics"] == {"inference_time": 1.2} and done["response_url"] == sub["response_url"]
    assert "error" not in done and isinstance(done["logs"], list)
    # without ?logs=1 the logs are null; a completed job stays completed
    again = client.get(sub["status_url"])
    assert again.status_code == 200 and again.json()["status"] == "COMPLETED" and again.json()["logs"] is None

    r = client.get(sub["response_url"])
    assert r.status_code == 200
    video = r.json()["video"]
    assert r.json()["seed"] == 123
    assert video["url"] == f"{fake.base_url}/files/{sub['request_id']}.mp4"
    assert video["content_type"] == "video/mp4" and video["file_name"] == "output.mp4"

    # the file is served without auth, like a CDN
    f = httpx.get(video["url"], timeout=10)
    assert f.status_code == 200 and f.headers["content-type"] == "video/mp4"
    assert len(f.content) == video["file_size"]
    with av.open(io.BytesIO(f.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)
        frames = list(container.decode(stream))
    assert len(frames) == 10
    assert frames[0].to_ndarray(format="rgb24").shape == (240, 320, 3)


def test_in_progress_logs_null_without_logs_param(fake: FakeFal, client: httpx.Client) -> None:
    fake.polls_in_queue, fake.polls_in_progress = 0, 1
    sub = submit(client)
    assert sub["queue_position"] == 0
    r = client.get(sub["status_url"])
    assert r.status_code == 202 and r.json()["status"] == "IN_PROGRESS" and r.json()["logs"] is None


def test_auth_required(fake: FakeFal, client: httpx.Client, served: tuple[FakeFal, str]) -> None:
    _, url = served
    sub = submit(client)
    n = len(fake.submissions)
    for headers in ({}, {"Authorization": "Key wrong"}, {"Authorization": f"Bearer {KEY}"}):
        with httpx.Client(base_url=url, headers=headers, timeout=10) as anon:
            r = anon.post(f"/{MODEL}", json={"prompt": "x"})
            assert r.status_code == 401 and r.json() == {"detail": "Unauthorized"}
            assert anon.get(sub["status_url"]).status_code == 401
            assert anon.get(sub["response_url"]).status_code == 401
            assert anon.put(sub["cancel_url"]).status_code == 401
    assert len(fake.submissions) == n


@pytest.mark.parametrize(
    ("outcome", "code", "detail"),
    [
        ("validation_error", 422, [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]),
        ("content_policy", 422, None),
        ("error_completed", 500, "Internal error in the model runner"),
    ],
)
def test_outcomes(fake: FakeFal, client: httpx.Client, outcome: str, code: int, detail: Any) -> None:
    fake.outcome = outcome
    sub = submit(client)
    done = poll_to_completion(client, sub)
    assert done.status_code == 200
    # like fal: a failed request still ends COMPLETED, with the error on its status ...
    assert (done.json()["error"], done.json()["error_type"]) == STATUS_ERRORS[outcome]
    # ... and the model's own error from its result URL
    r = client.get(sub["response_url"])
    assert r.status_code == code
    body = r.json()
    if detail is not None:
        assert body == {"detail": detail}
    else:
        (item,) = body["detail"]
        assert item["type"] == "content_policy_violation" and item["loc"] == ["body", "prompt"]
        assert "flagged by a content checker" in item["msg"]
    # no file for a failed job
    assert httpx.get(f"{fake.base_url}/files/{sub['request_id']}.mp4", timeout=10).status_code == 404


def test_knobs_apply_per_submission(fake: FakeFal, client: httpx.Client) -> None:
    fake.outcome = "validation_error"
    first = submit(client)
    fake.outcome = "ok"
    poll_to_completion(client, first)
    assert client.get(first["response_url"]).status_code == 422


@pytest.mark.parametrize("code", [403, 401])
def test_submit_status(fake: FakeFal, client: httpx.Client, code: int) -> None:
    fake.submit_status = code
    n = len(fake.submissions)
    r = client.post(f"/{MODEL}", json={"prompt": "x"})
    assert r.status_code == code
    if code == 403:
        assert r.json() == {
            "detail": "User is locked. Reason: Exhausted balance. "
            "Top up your balance at fal.ai/dashboard/billing."
        }
    else:
        assert r.json() == {"detail": "Unauthorized"}
    assert len(fake.submissions) == n


def test_status_failures(fake: FakeFal, client: httpx.Client) -> None:
    fake.polls_in_queue, fake.polls_in_progress = 1, 0
    sub = submit(client)
    fake.status_failures = 2
    for url in (sub["status_url"], sub["response_url"]):
        r = client.get(url)
        assert r.status_code == 503
        assert r.json()["error_type"] == "runner_scheduling_failure" and r.json()["detail"]
        assert r.headers["x-fal-error-type"] == "runner_scheduling_failure"
    assert fake.status_failures == 0
    # the failures did not advance the job
    r = client.get(sub["status_url"])
    assert r.status_code == 202 and r.json()["status"] == "IN_QUEUE"
    assert client.get(sub["status_url"]).status_code == 200


def test_cancel(fake: FakeFal, client: httpx.Client) -> None:
    # queued
    queued = submit(client)
    r = client.put(queued["cancel_url"])
    assert r.status_code == 200 and r.json() == {"status": "OK"}
    st = client.get(queued["status_url"])
    assert st.status_code == 200
    assert st.json()["status"] == "COMPLETED" and st.json()["error_type"] == "request_cancelled"
    assert st.json()["error"] == "Request was cancelled"
    r = client.get(queued["response_url"])
    assert r.status_code == 400 and r.json() == {"detail": "Request was cancelled"}
    assert client.put(queued["cancel_url"]).status_code == 400

    # in progress
    running = submit(client)
    assert client.get(running["status_url"]).json()["status"] == "IN_QUEUE"
    assert client.get(running["status_url"]).json()["status"] == "IN_PROGRESS"
    r = client.put(running["cancel_url"])
    assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
    st = client.get(running["status_url"])
    assert st.status_code == 200 and st.json()["error_type"] == "request_cancelled"
    assert client.get(running["response_url"]).status_code == 400

    # completed
    done = submit(client)
    poll_to_completion(client, done)
    r = client.put(done["cancel_url"])
    assert r.status_code == 400 and r.json() == {"status": "ALREADY_COMPLETED"}
    assert client.get(done["response_url"]).status_code == 200

    # unknown
    unknown = queued["cancel_url"].replace(queued["request_id"], "no-such-id")
    r = client.put(unknown)
    assert r.status_code == 404 and r.json() == {"status": "NOT_FOUND"}

    assert fake.cancels[-5:] == [
        queued["request_id"], queued["request_id"], running["request_id"], done["request_id"], "no-such-id",
    ]


def test_unknown_request_id(fake: FakeFal, client: httpx.Client) -> None:
    base = f"{fake.base_url}/fal-ai/minimax/requests/no-such-id"
    assert client.get(f"{base}/status").status_code == 404
    assert client.get(base).status_code == 404
    # a known id under another owner/app is unknown too
    sub = submit(client)
    other = f"{fake.base_url}/fal-ai/minimax/requests/{sub['request_id']}"
    assert client.get(f"{other}/status").status_code == 404
    assert httpx.get(f"{fake.base_url}/files/no-such-id.mp4", timeout=10).status_code == 404


def test_drop_submit_response(fake: FakeFal, client: httpx.Client) -> None:
    fake.drop_submit_response = True
    n = len(fake.submissions)
    with pytest.raises(httpx.TransportError):
        client.post(f"/{MODEL}", json={"prompt": "lost"})
    assert len(fake.submissions) == n + 1
    lost = fake.submissions[-1]
    assert lost.body == {"prompt": "lost"}
    # the job exists and runs: reachable by URLs rebuilt from (model id, request id)
    fake.drop_submit_response = False
    status_url = f"{fake.base_url}/fal-ai/kling-video/requests/{lost.request_id}/status"
    r = client.get(status_url)
    assert r.status_code == 202 and r.json()["status"] == "IN_QUEUE"
    # the server is still healthy afterwards
    submit(client)


def test_status_stream_sends_each_step_then_closes(fake: FakeFal, client: httpx.Client) -> None:
    fake.polls_in_queue, fake.polls_in_progress = 1, 2
    sub = submit(client)
    events = []
    with client.stream("GET", sub["status_url"] + "/stream", params={"logs": "1"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert [e["status"] for e in events] == ["IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert events[1]["logs"][0]["message"] == "Generating: step 1/2"


def test_jwks_publishes_the_webhook_signing_key(fake: FakeFal, client: httpx.Client) -> None:
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert keys == fake.jwks["keys"] and keys[0]["crv"] == "Ed25519"


def test_a_request_can_end_failed_or_without_a_video(fake: FakeFal, client: httpx.Client) -> None:
    fake.outcome = "failed_status"
    failed = submit(client)
    for _ in range(4):  # one poll in the queue, two in progress, then finished
        last = client.get(failed["status_url"]).json()
    assert last["status"] == "FAILED" and last["error"]
    assert client.get(failed["response_url"]).status_code == 500
    fake.outcome = "no_video"
    empty = submit(client)
    poll_to_completion(client, empty)
    assert client.get(empty["response_url"]).json() == {"seed": 123}


def test_submits_turned_away_at_the_ingress_never_reach_fal(fake: FakeFal, client: httpx.Client) -> None:
    fake.submit_failures = [502, 429]
    n = len(fake.submissions)
    for code in (502, 429):
        r = client.post(f"/{MODEL}", json={"prompt": "x"})
        assert r.status_code == code and "nginx" in r.text
        assert "x-fal-request-id" not in r.headers
    assert len(fake.submissions) == n
    fake.submit_failures, fake.submit_failures_from_ingress = [503], False
    r = client.post(f"/{MODEL}", json={"prompt": "x"})
    assert r.status_code == 503 and "x-fal-request-id" in r.headers and r.json()["detail"]
    accepted = client.post(f"/{MODEL}", json={"prompt": "x"})
    assert accepted.status_code == 200 and accepted.headers["x-fal-request-id"] == accepted.json()["request_id"]
    assert fake.submit_attempts >= 4


def test_a_bare_submit_answer_has_only_the_request_id(fake: FakeFal, client: httpx.Client) -> None:
    fake.bare_submit_response = True
    sub = submit(client)
    assert set(sub) == {"request_id", "status", "queue_position"}
    rebuilt = f"{fake.base_url}/fal-ai/kling-video/requests/{sub['request_id']}/status"
    assert client.get(rebuilt).json()["status"] == "IN_QUEUE"


def test_status_result_file_and_upload_errors(fake: FakeFal, client: httpx.Client) -> None:
    fake.polls_in_queue, fake.polls_in_progress = 0, 0
    sub = submit(client)
    fake.odd_statuses, fake.odd_status = 1, "FROBNICATING"
    assert client.get(sub["status_url"]).json()["status"] == "FROBNICATING"
    fake.status_error = 403
    r = client.get(sub["status_url"])
    assert r.status_code == 403 and "User is locked" in r.json()["detail"]
    fake.status_error = None
    poll_to_completion(client, sub)
    fake.result_failures, calls = 1, fake.result_calls
    assert client.get(sub["response_url"]).status_code == 503
    video_url = client.get(sub["response_url"]).json()["video"]["url"]
    assert fake.result_calls == calls + 2
    fake.result_error = 401
    assert client.get(sub["response_url"]).status_code == 401
    fake.file_status = 404
    assert httpx.get(video_url, timeout=10).status_code == 404
    token = client.post("/storage/auth/token", json={}).json()
    assert token["expires_at"] == fake.token_expires_at and fake.token_requests >= 1
    fake.upload_status = 500
    r = httpx.post(f"{token['base_url']}/files/upload", content=b"x",
                   headers={"Authorization": f"Bearer {token['token']}"}, timeout=10)
    assert r.status_code == 500
