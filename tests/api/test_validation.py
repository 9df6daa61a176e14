"""Every bad input gets a 4xx in the API's format, with a clear message, and changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, auth

URL = "/api/v1/videos/generations?async=true"
OK = {"prompt": "Ocean waves crashing on rocks", "duration_seconds": 1}

BAD_BODIES = [
    ({}, "prompt is required"),
    ({"prompt": ""}, "prompt is required"),
    ({"prompt": "   "}, "prompt is required"),
    ({"prompt": None}, "prompt is required"),
    ({"prompt": "x" * 2001}, "prompt must be at most 2000 characters"),
    ({"prompt": 42}, "prompt must be a string"),
    ({**OK, "model": "no/such-model"}, "Invalid model: no/such-model"),
    ({**OK, "model": 7}, "model must be a string"),
    ({**OK, "model": ""}, 'Invalid model: "". GET /api/v1/models lists the models'),
    ({**OK, "model": {"id": "vidgate/local"}}, "model must be a string"),
    ({"prompt": {"text": "waves"}}, "prompt must be a string"),
    ({**OK, "negative_prompt": {"not": "blurry"}}, "negative_prompt must be a string"),
    ({**OK, "mode": "image_to_video", "source_image": {"url": "https://example.com/a.png"}},
     "source_image must be a string"),
    ({"prompt": "waves\x00crashing"}, "prompt must not contain NUL characters"),
    ({**OK, "negative_prompt": "\x00"}, "negative_prompt must not contain NUL characters"),
    ({**OK, "resolution": "480p"}, "resolution must be one of 720p, 1080p or 4k"),
    ({**OK, "fps": 24}, "fps must be 30 or 60"),
    ({**OK, "fps": "30"}, "fps must be 30 or 60"),
    ({**OK, "aspect_ratio": "21:9"}, "aspect_ratio must be one of 16:9, 9:16, 1:1, 4:3, 3:4 or auto"),
    ({**OK, "mode": "audio_to_video"}, "mode must be one of text_to_video, image_to_video or video_to_video"),
    ({**OK, "mode": "image_to_video"}, "source_image is required for image_to_video"),
    ({**OK, "mode": "video_to_video"}, "source_video is required for video_to_video"),
    ({**OK, "mode": "image_to_video", "source_image": "ftp://host/x.png"},
     "source_image must be an http(s) URL or a data: URI"),
    ({**OK, "mode": "image_to_video", "source_image": "https://"},
     "source_image must be an absolute URL with a host"),
    ({**OK, "duration_seconds": "5"}, "duration_seconds must be a number"),
    ({**OK, "duration_seconds": True}, "duration_seconds must be a number"),
    ({**OK, "duration_seconds": 0}, "duration_seconds must be between 1 and 6 for model fal-ai/minimax/video-01"),
    ({**OK, "duration_seconds": 7}, "duration_seconds must be between 1 and 6 for model fal-ai/minimax/video-01"),
    ({**OK, "duration_seconds": -3}, "duration_seconds must be between 1 and 6"),
    ({**OK, "model": "vidgate/local", "duration_seconds": 61}, "duration_seconds must be between 1 and 60 for model vidgate/local"),
    ({**OK, "seed": 1.5}, "seed must be an integer"),
    ({**OK, "seed": 42.5}, "seed must be an integer"),
    ({**OK, "seed": -1.0}, "seed is out of range"),
    ({**OK, "seed": 2.0**40}, "seed is out of range"),
    ({**OK, "seed": "42"}, "seed must be an integer"),
    ({**OK, "seed": -1}, "seed is out of range"),
    ({**OK, "seed": 2**40}, "seed is out of range"),
    ({**OK, "loop": "yes"}, "loop must be a boolean"),
    ({**OK, "prompt_optimizer": 1}, "prompt_optimizer must be a boolean"),
    ({**OK, "negative_prompt": ["blurry"]}, "negative_prompt must be a string"),
    ({**OK, "webhook": "https://x"}, "Unknown parameter: webhook"),
    ({**OK, "model": "fal-ai/minimax/video-01", "aspect_ratio": "9:16"},
     "aspect_ratio 9:16 is not available for model fal-ai/minimax/video-01; allowed: 16:9"),
    ({**OK, "model": "fal-ai/minimax/video-01", "resolution": "4k"},
     "resolution 4k is not available for model fal-ai/minimax/video-01; allowed: 720p, 1080p"),
    ({**OK, "model": "fal-ai/veo3", "mode": "image_to_video", "source_image": "https://example.com/a.png"},
     "model fal-ai/veo3 does not support mode image_to_video; it supports: text_to_video"),
    ({**OK, "model": "fal-ai/wan-pro/image-to-video"},
     "model fal-ai/wan-pro/image-to-video does not support mode text_to_video"),
]


async def _unchanged(harness: Harness, before: dict) -> None:
    """No job made, no balance moved, no ledger row written since `before` was taken."""
    assert await harness.stored_state() == before


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_body_is_a_400_that_changes_nothing(harness: Harness, body: dict, message: str) -> None:
    key = await harness.key()
    before = await harness.stored_state()
    response = await harness.client.post(URL, json=body, headers=auth(key))
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]
    await _unchanged(harness, before)


async def test_a_whole_number_seed_written_as_a_float_is_that_seed(harness: Harness) -> None:
    key = await harness.key()
    response = await harness.client.post(URL, json={**OK, "seed": 42.0}, headers=auth(key))
    assert response.status_code == 200, response.text
    job = (await harness.client.get(f"/api/v1/jobs/{response.json()['id']}", headers=auth(key))).json()
    assert job["inputParams"]["seed"] == 42 and isinstance(job["inputParams"]["seed"], int)


@pytest.mark.parametrize("body", [OK, {**OK, "model": None}])
async def test_an_absent_or_null_model_is_the_default(harness: Harness, body: dict) -> None:
    key = await harness.key()
    response = await harness.client.post(URL, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "fal-ai/minimax/video-01"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "Malformed JSON in request body"),
        (b'{"prompt": "a",}', "Malformed JSON in request body"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b'"a prompt"', "Request body must be a JSON object"),
        (b"", "Request body must be a JSON object"),
        (b"\xff\xfe\x00garbage", "Malformed JSON in request body"),
        # Python's json module reads these non-standard literals; none is a duration
        (b'{"prompt": "a", "duration_seconds": NaN}', "duration_seconds must be a finite number"),
        (b'{"prompt": "a", "duration_seconds": Infinity}', "duration_seconds must be a finite number"),
        (b'{"prompt": "a", "duration_seconds": -Infinity}', "duration_seconds must be a finite number"),
        (b'{"prompt": "a", "duration_seconds": 1e400}', "duration_seconds must be a finite number"),
        (b'{"prompt": "a", "seed": NaN}', "seed must be an integer"),
        (b'{"prompt": "a", "fps": Infinity}', "fps must be 30 or 60"),
        (b'{"prompt": "a", "duration_seconds": ' + b"7" * 5000 + b"}",
         "Malformed JSON in request body: a number has too many digits"),
        (b'{"prompt": "a", "seed": -' + b"9" * 5000 + b"}",
         "Malformed JSON in request body: a number has too many digits"),
        (b'{"prompt": "waves \\u0000 rocks"}', "prompt must not contain NUL characters"),
        (b'{"prompt": "waves \\ud800 rocks"}',
         "prompt must be valid Unicode text (it has an unpaired surrogate)"),
        (b'{"prompt": "a", "negative_prompt": "\\udfff"}',
         "negative_prompt must be valid Unicode text (it has an unpaired surrogate)"),
        (b'{"prompt": "caf\xe9"}', "Request body is not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "Request body is nested too deeply"),
    ],
)
async def test_malformed_json_is_a_400(harness: Harness, raw: bytes, message: str) -> None:
    key = await harness.key()
    before = await harness.stored_state()
    response = await harness.client.post(
        URL, content=raw, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"error": message}
    await _unchanged(harness, before)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Invalid API key"),
        ("Bearer", "Invalid API key"),
        ("Basic dXNlcjpwYXNz", "Invalid API key"),
        ("Bearer sk_short", "Invalid API key"),
        ("Bearer sk_" + "g" * 64, "Invalid API key"),
        ("Bearer sk_" + "a" * 64, "API key not found"),
        ("Bearer sk_test_" + "0" * 64, "API key not found"),
    ],
)
async def test_auth_failures_are_401_and_change_nothing(
    harness: Harness, header: str | None, message: str
) -> None:
    await harness.key()  # a key whose balances must stay as they are
    before = await harness.stored_state()
    headers = {"Authorization": header} if header else {}
    for method, path in [("post", URL), ("get", "/api/v1/jobs"), ("get", "/api/v1/quota"),
                         ("get", "/api/v1/jobs/job_x"), ("post", "/api/v1/jobs/job_x/cancel")]:
        kwargs = {"json": OK} if method == "post" else {}
        response = await getattr(harness.client, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401, (path, response.text)
        assert response.json() == {"error": message}
    await _unchanged(harness, before)


async def test_revoked_key_is_401_and_changes_nothing(harness: Harness) -> None:
    from sqlalchemy import select

    from vidgate.auth import service as keys
    from vidgate.auth.keys import hash_key
    from vidgate.auth.models import ApiKey

    key = await harness.key()
    async with harness.sessions() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
    assert await keys.revoke_key(harness.sessions, key_id)
    before = await harness.stored_state()
    response = await harness.client.post(URL, json=OK, headers=auth(key))
    assert response.status_code == 401
    assert response.json() == {"error": "API key has been revoked"}
    await _unchanged(harness, before)


@pytest.mark.parametrize(
    ("scopes", "method", "path", "message"),
    [
        (("jobs", "usage"), "post", URL, "API key missing required scope: video"),
        (("video",), "get", "/api/v1/jobs", "API key missing required scope: jobs or usage"),
        (("video",), "get", "/api/v1/jobs/job_abc", "API key missing required scope: jobs or usage"),
        (("video", "jobs"), "get", "/api/v1/quota", "API key missing required scope: usage"),
    ],
)
async def test_missing_scope_is_403(
    harness: Harness, scopes: tuple[str, ...], method: str, path: str, message: str
) -> None:
    key = await harness.key(scopes=scopes)
    before = await harness.stored_state()
    kwargs = {"json": OK} if method == "post" else {}
    response = await getattr(harness.client, method)(path, headers=auth(key), **kwargs)
    assert response.status_code == 403
    assert response.json() == {"error": message}
    await _unchanged(harness, before)


async def answer_and_body_reads(harness: Harness, headers: dict[str, str]) -> tuple[int, bytes, int]:
    """POST a generation straight to the ASGI app; return its status, its body and how many
    times the app asked for the request's body."""
    reads = 0

    async def receive() -> dict[str, object]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b'{"prompt": "waves"}', "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    raw_headers = [(b"content-type", b"application/json"), (b"content-length", b"19")]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/videos/generations", "raw_path": b"/api/v1/videos/generations",
        "query_string": b"async=true", "root_path": "", "headers": raw_headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    await harness.app(scope, receive, send)
    status = next(int(m["status"]) for m in sent if m["type"] == "http.response.start")  # type: ignore[call-overload]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]
    return status, body, reads


async def test_the_key_is_checked_before_the_body_is_read(harness: Harness) -> None:
    """A caller without a usable key costs no body parsing: the body is not even read."""
    no_scope = await harness.key(scopes=("jobs",))
    for headers, status in [({}, 401), ({"Authorization": "Bearer sk_test_" + "0" * 64}, 401),
                            (auth(no_scope), 403)]:
        answered, _, reads = await answer_and_body_reads(harness, headers)
        assert (answered, reads) == (status, 0)
    answered, body, reads = await answer_and_body_reads(harness, auth(await harness.key()))
    assert answered == 200 and b'"status":"pending"' in body and reads == 1


async def test_a_malformed_body_without_a_key_is_a_401(harness: Harness) -> None:
    response = await harness.client.post(URL, content=b'{"prompt": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit is out of range"),
        ("limit=101", "limit is out of range"),
        ("limit=ten", "limit must be an integer"),
        ("tool=painting", "tool must be one of image, image_edit, video, music, tts or stt"),
        ("pending=maybe", "pending must be a boolean"),
    ],
)
async def test_bad_job_list_queries_are_400(harness: Harness, query: str, message: str) -> None:
    key = await harness.key()
    response = await harness.client.get(f"/api/v1/jobs?{query}", headers=auth(key))
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_payment_required_has_the_reference_fields_and_changes_nothing(harness: Harness) -> None:
    key = await harness.key(credits=499, seconds=100)
    before = await harness.stored_state()
    response = await harness.client.post(URL, json={"prompt": "a", "duration_seconds": 5}, headers=auth(key))
    assert response.status_code == 402
    assert response.json() == {
        "error": "Credits limit exceeded",
        "credits_remaining": 499,
        "credits_needed": 500,
        "credits_estimated": 500,
        "seconds_remaining": 100,
        "seconds_needed": 5,
        "quota_multiplier": 2.0,
    }
    await _unchanged(harness, before)



async def test_video_seconds_shortfall_is_a_402_with_every_field_and_changes_nothing(
    harness: Harness,
) -> None:
    key = await harness.key(credits=10_000, seconds=4)
    before = await harness.stored_state()
    body = {"prompt": "a", "duration_seconds": 5, "model": "vidgate/local"}
    response = await harness.client.post(URL, json=body, headers=auth(key))
    assert response.status_code == 402
    assert response.json() == {
        "error": "Video seconds limit exceeded",
        "credits_remaining": 10_000,
        "credits_needed": 50,
        "credits_estimated": 50,
        "seconds_remaining": 4,
        "seconds_needed": 5,
        "quota_multiplier": 0.2,
    }
    await _unchanged(harness, before)


async def test_live_key_on_unconfigured_fal_is_503_and_changes_nothing(harness: Harness) -> None:
    key = await harness.key(sandbox=False)
    before = await harness.stored_state()
    response = await harness.client.post(URL, json=OK, headers=auth(key))
    assert response.status_code == 503
    assert "FAL_KEY" in response.json()["error"]
    await _unchanged(harness, before)


async def test_unknown_routes_and_methods_use_the_error_shape(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}
    response = await harness.client.delete("/api/v1/videos/generations")
    assert response.status_code == 405
    assert "error" in response.json()


async def test_bad_async_flag_is_400_and_changes_nothing(harness: Harness) -> None:
    key = await harness.key()
    before = await harness.stored_state()
    response = await harness.client.post(
        "/api/v1/videos/generations?async=perhaps", json=OK, headers=auth(key)
    )
    assert response.status_code == 400
    assert response.json() == {"error": "async must be a boolean"}
    await _unchanged(harness, before)


async def test_oversized_body_is_a_413_that_changes_nothing(harness: Harness) -> None:
    from vidgate.api.limits import MAX_BODY_BYTES

    key = await harness.key()
    before = await harness.stored_state()
    huge = b'{"prompt": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    response = await harness.client.post(
        URL, content=huge, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"Request body larger than {MAX_BODY_BYTES} bytes"}

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):
            yield b"a" * (1 << 20)

    response = await harness.client.post(
        URL, content=chunks(), headers={**auth(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    await _unchanged(harness, before)


@pytest.mark.parametrize("job_id", ["job_x", "%00", "job_%00", "%ff", "%ED%A0%80", "JOB_" + "0" * 24, "j" * 5000])
async def test_malformed_job_ids_are_404_on_every_job_endpoint(harness: Harness, job_id: str) -> None:
    key = await harness.key()
    before = await harness.stored_state()
    for method, path in [("get", f"/api/v1/jobs/{job_id}"), ("get", f"/api/v1/jobs/{job_id}?poll=true"),
                         ("post", f"/api/v1/jobs/{job_id}/cancel")]:
        response = await getattr(harness.client, method)(path, headers=auth(key))
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"error": "Job not found"}
    await _unchanged(harness, before)
