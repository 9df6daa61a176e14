"""vidgate.Client and vidgate.AsyncClient against a running server: the seed's examples, live
progress, uploads, downloads, the API's errors as typed exceptions; and the retry policy (a
server answering 503 then 200), which keeps a submission's Idempotency-Key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_png, settings_for_tests
from tests.live_server import serve_in_thread
from tests.webhook_receiver import receiving
from vidgate import AsyncClient, Client
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.cli import with_database
from vidgate.sdk import InsufficientQuotaError, Job, NotFoundError
from vidgate.sdk.errors import AuthenticationError, VidgateError


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A running server; yields its URL, a sandbox key, and one with 10 credits."""
    settings = settings_for_tests(tmp_path_factory.mktemp("sdk") / "data", allow_private_sources=True)
    made = [with_database(settings, lambda sessions, credits=credits: keys.create_key(
        sessions, name="sdk", scopes=("video", "jobs", "usage"), credits=credits, video_seconds=10_000, sandbox=True,
    ))[1] for credits in (100_000, 10)]
    with serve_in_thread(create_app(settings)) as base:
        yield base, made[0], made[1]


def test_the_seeds_example_with_live_progress_and_a_download(live: tuple[str, str, str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    base, key, _poor = live
    monkeypatch.setenv("VIDGATE_BASE_URL", base)
    monkeypatch.setenv("VIDGATE_API_KEY", key)
    seen: list[Job] = []
    with Client() as client:  # from the environment
        job = client.videos.generate("Ocean waves crashing on rocks", duration_seconds=5, on_progress=seen.append)
        assert job.status == "completed" and (job.width, job.height) == (1280, 720)
        assert seen[-1] == job and any(step.status == "processing" for step in seen)
        saved = client.download(job, tmp_path / "waves.mp4")
        assert saved.read_bytes()[4:8] == b"ftyp"
        poster = client.download(job.id, tmp_path / "waves.jpg", variant="thumbnail")
        assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
        assert job.id in [listed.id for listed in client.jobs.list()]


def test_a_local_image_is_uploaded_for_an_image_to_video(live: tuple[str, str, str], tmp_path: Path) -> None:
    base, key, _poor = live
    portrait = tmp_path / "portrait.png"
    portrait.write_bytes(make_png(240, 320))
    with Client(base, key) as client:
        job = client.videos.generate("The person slowly turns and smiles", mode="image_to_video",
                                     source_image=portrait, duration_seconds=1)
        assert job.status == "completed" and (job.width, job.height) == (720, 960)
        assert job.raw["inputParams"]["source_image"].startswith(f"{base}/files/file_")


def test_jobs_are_followed_and_cancelled(live: tuple[str, str, str]) -> None:
    base, key, _poor = live
    with Client(base, key) as client, receiving() as receiver:
        job = client.videos.generate("a long sunrise", model="vidgate/local", duration_seconds=60, resolution="1080p",
                                     wait=False, webhook_url=receiver.url)
        assert job.status in ("pending", "processing")
        cancelled = client.jobs.cancel(job.id)
        assert cancelled.status == "cancelled"
        assert [step.status for step in client.jobs.events(job.id)] == ["cancelled"]
        for _ in range(100):  # the cancel's webhook, as the client lists it
            deliveries = client.jobs.webhooks(job.id)
            if deliveries and all(d["status"] == "delivered" for d in deliveries):
                break
            time.sleep(0.1)
        assert deliveries[-1]["event"] == "generation.cancelled" and deliveries[-1]["status"] == "delivered"
        assert deliveries[-1]["id"] in receiver.by_id()


def test_the_apis_errors_are_typed(live: tuple[str, str, str]) -> None:
    base, key, poor = live
    with Client(base, key) as client, pytest.raises(NotFoundError):
        client.jobs.get("job_missing")
    with Client(base, poor) as client, pytest.raises(InsufficientQuotaError) as short:
        client.videos.generate("a film", model="vidgate/local", duration_seconds=5)
    assert short.value.credits_remaining == 10 and short.value.status == 402
    with Client(base, "sk_test_wrong") as stranger, pytest.raises(AuthenticationError):
        stranger.jobs.list()


async def test_the_async_client_generates_and_waits(live: tuple[str, str, str]) -> None:
    base, key, _poor = live
    async with AsyncClient(base, key) as client:
        job = await client.videos.generate("a quiet lake", duration_seconds=1)
        assert job.status == "completed" and job.video_url
        assert (await client.jobs.get(job.id)).status == "completed"
        assert await client.jobs.webhooks(job.id) == []  # it named no webhook_url, nor has its key one


def test_a_submission_is_retried_after_a_503_with_the_same_idempotency_key() -> None:
    sent: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/videos/generations"):
            if len([r for r in sent if r.url.path.endswith("/videos/generations")]) == 1:
                return httpx.Response(503, json={"error": "The database is unreachable"}, headers={"Retry-After": "0"})
            return httpx.Response(200, json={"id": "job_1", "status": "pending"})
        return httpx.Response(200, json={"id": "job_1", "status": "pending", "progress": 0, "model": "vidgate/local"})

    http = httpx.Client(base_url="http://vidgate.test", transport=httpx.MockTransport(server))
    with Client("http://vidgate.test", "sk_test_x", http=http) as client:
        job = client.videos.generate("waves", wait=False)
    submissions = [r for r in sent if r.url.path.endswith("/videos/generations")]
    assert job.id == "job_1" and len(submissions) == 2
    assert submissions[0].headers["Idempotency-Key"] == submissions[1].headers["Idempotency-Key"]


def test_the_command_line_client_generates_follows_and_cancels(live: tuple[str, str, str], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vidgate.cli import main as cli

    base, key, _poor = live
    env = {"VIDGATE_BASE_URL": base, "VIDGATE_API_KEY": key}
    runner = CliRunner()
    portrait = tmp_path / "portrait.png"
    portrait.write_bytes(make_png(240, 320))
    made = runner.invoke(cli, ["remote", "generate", "The person slowly turns and smiles", "--mode", "image_to_video",
                               "--source-image", str(portrait), "--duration", "1", "-o", str(tmp_path / "out.mp4")],
                         env=env)
    assert made.exit_code == 0, made.output
    job_id = made.stdout.split(":")[0]
    assert made.stdout.strip() == f"{job_id}: 720x960, 1.0 s, saved to {tmp_path / 'out.mp4'}"
    assert f"{job_id} completed 100%" in made.stderr  # plain progress lines outside a terminal
    assert (tmp_path / "out.mp4").read_bytes()[4:8] == b"ftyp"

    listed = runner.invoke(cli, ["remote", "jobs", "list"], env=env)
    assert listed.exit_code == 0 and job_id in listed.output
    shown = runner.invoke(cli, ["remote", "jobs", "show", job_id], env=env)
    assert '"status": "completed"' in shown.output
    started = runner.invoke(cli, ["remote", "generate", "a long sunrise", "--model", "vidgate/local",
                                  "--duration", "60", "--no-wait"], env=env)
    long_id = started.stdout.strip()
    cancelled = runner.invoke(cli, ["remote", "jobs", "cancel", long_id], env=env)
    assert cancelled.exit_code == 0 and cancelled.output.strip() == f"{long_id} cancelled"
    waited = runner.invoke(cli, ["remote", "jobs", "wait", long_id], env=env)
    assert waited.exit_code == 1 and f"{long_id} cancelled" in waited.output
    missing = runner.invoke(cli, ["remote", "jobs", "show", "job_missing"], env=env)
    assert missing.exit_code == 1 and "Error: Job not found" in missing.output
    typo = runner.invoke(cli, ["remote", "generate", "p", "--mode", "image_to_video", "--source-image", "portrat.jpg"],
                         env=env)
    assert typo.exit_code == 2 and "'portrat.jpg' is neither a file nor an http(s) URL" in typo.output
    before = len(runner.invoke(cli, ["remote", "jobs", "list", "--limit", "100"], env=env).output.splitlines())
    nowhere = runner.invoke(cli, ["remote", "generate", "p", "-o", str(tmp_path / "no" / "out.mp4")], env=env)
    assert nowhere.exit_code == 2 and "is not a folder" in nowhere.output
    after = len(runner.invoke(cli, ["remote", "jobs", "list", "--limit", "100"], env=env).output.splitlines())
    assert after == before  # refused before anything was made or charged


def _stream_of(*blocks: str) -> httpx.MockTransport:
    """A server whose event stream sends these blocks (keep-alive comments among them)."""
    pending = {"id": "job_1", "status": "pending", "progress": 0, "model": "vidgate/local"}

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            body = "".join(blocks).encode()
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=pending)

    return httpx.MockTransport(serve)


def _event(status: str, progress: int) -> str:
    job = {"id": "job_1", "status": status, "progress": progress, "model": "vidgate/local"}
    return f"id: {status}.{progress}\r\nevent: job\r\ndata: {json.dumps(job)}\r\n\r\n"


def test_keep_alive_comments_are_not_jobs_and_a_deadline_is_kept_between_events() -> None:
    ping = ": ping - 2026-12-06 17:00:00\r\n\r\n"
    transport = _stream_of(_event("pending", 0), ping, _event("processing", 40), ping, _event("completed", 100))
    with Client("http://vidgate.test", "sk_test_x", http=httpx.Client(base_url="http://vidgate.test",
                                                                       transport=transport)) as client:
        seen: list[str] = []
        done = client.jobs.wait("job_1", on_progress=lambda job: seen.append(job.status))
        assert done.status == "completed" and seen == ["pending", "processing", "completed"]
        assert [job.status for job in client.jobs.events("job_1")] == ["pending", "processing", "completed"]
    stuck = _stream_of(_event("pending", 0), ping, ping, ping)
    with Client("http://vidgate.test", "sk_test_x", http=httpx.Client(base_url="http://vidgate.test",
                                                                       transport=stuck)) as client:
        with pytest.raises(VidgateError, match="did not end within 0 s"):
            client.jobs.wait("job_1", timeout=0)
