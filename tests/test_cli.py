"""`vidgate keys ...`, `generate` and the first `serve` from the command line."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tests.live_server import free_port, printed_key, vidgate_serve, wait_until_ready
from vidgate.cli import main


@pytest.fixture
def run(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_database_url: str | None
):
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if server_database_url:
        monkeypatch.setenv("DATABASE_URL", server_database_url)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_create_list_revoke(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "ci", "--scopes", "video,jobs", "--credits", "500",
                  "--video-seconds", "60")
    assert created.exit_code == 0, created.output
    last_line = created.stdout.strip().splitlines()[-1]  # log lines go to stderr
    assert re.fullmatch(r"sk_[0-9a-f]{64}", last_line)
    key_id = re.search(r"key_[0-9a-f]{16}", created.output).group(0)  # type: ignore[union-attr]

    sandbox = run("keys", "create", "--name", "dev", "--credits", "1", "--video-seconds", "1", "--sandbox")
    assert re.fullmatch(r"sk_test_[0-9a-f]{64}", sandbox.stdout.strip().splitlines()[-1])

    listed = run("keys", "list")
    assert key_id in listed.output and "live" in listed.output and "sandbox" in listed.output
    assert last_line not in listed.output  # only a prefix is ever shown
    assert last_line[:9] in listed.output

    assert run("keys", "revoke", key_id).exit_code == 0
    assert "revoked" in run("keys", "list").output
    again = run("keys", "revoke", key_id)
    assert again.exit_code != 0 and f"No active key with ID {key_id}" in again.output


def test_webhook_secrets_are_shown_once_and_urls_checked(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "hooks", "--webhook-url", "https://hooks.example.com/vidgate")
    assert created.exit_code == 0, created.output
    lines = created.stdout.strip().splitlines()
    assert lines[-2].startswith("Webhook signing secret (shown once): whsec_") and lines[-1].startswith("sk_")
    assert "Webhooks go to https://hooks.example.com/vidgate" in created.output
    first_secret = lines[-2].rsplit(" ", 1)[1]
    key_id = re.search(r"key_[0-9a-f]{16}", created.output).group(0)  # type: ignore[union-attr]
    assert first_secret not in run("keys", "list").output

    rotated = run("keys", "webhook", key_id, "--rotate-secret")
    assert rotated.exit_code == 0, rotated.output
    assert f"{key_id}: webhooks go to https://hooks.example.com/vidgate" in rotated.output
    second_secret = rotated.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1]
    assert second_secret.startswith("whsec_") and second_secret != first_secret

    cleared = run("keys", "webhook", key_id, "--clear-url")
    assert cleared.exit_code == 0 and "no default webhook URL" in cleared.output
    assert "whsec_" not in cleared.output  # the secret is shown only when it is made

    private = run("keys", "webhook", key_id, "--url", "http://192.168.1.5/hook")
    assert private.exit_code == 2 and "192.168.1.5 is a private or local address" in private.output
    refused = run("keys", "create", "--name", "x", "--webhook-url", "ftp://example.com/hook")
    assert refused.exit_code == 2 and "the URL must be an http(s) URL" in refused.output
    assert run("keys", "webhook", key_id).exit_code == 2  # nothing to change
    missing = run("keys", "webhook", "key_0000000000000000", "--rotate-secret")
    assert missing.exit_code == 1 and "No key with ID key_0000000000000000" in missing.output


def test_bad_arguments_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "create", "--name", "x", "--scopes", "video,admin", "--credits", "1",
                 "--video-seconds", "1")
    assert result.exit_code == 2 and "unknown scopes: admin" in result.output
    result = run("keys", "create", "--name", "x", "--credits", "-5", "--video-seconds", "1")
    assert result.exit_code == 2
    for empty in ("", " , ,"):
        result = run("keys", "create", "--name", "x", "--scopes", empty, "--credits", "1",
                     "--video-seconds", "1")
        assert result.exit_code == 2
        assert "at least one scope is required: video, jobs, usage" in result.output
    assert run("keys", "list").output.count("\n") == 1  # header only: nothing was created


def test_generate_renders_a_file_without_a_server(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import av

    out = tmp_path / "clips" / "out.mp4"
    result = run("generate", "rain on a window", "-o", str(out), "--duration", "0.5",
                 "--aspect-ratio", "9:16", "--fps", "60", "--seed", "42", "--poster", str(tmp_path / "p.jpg"))
    assert result.exit_code == 0, result.output
    assert "seed 42" in result.output
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
        assert stream.average_rate == 60
        assert sum(1 for _ in container.decode(stream)) == 30
    assert (tmp_path / "p.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "Rendering: rain on a window, " in result.output  # optimized, as the API would


def test_generate_renders_the_prompt_as_given_without_the_optimizer(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("generate", "rain on a window", "-o", str(tmp_path / "o.mp4"), "--duration", "0.2",
                 "--no-prompt-optimizer")
    assert result.exit_code == 0, result.output
    assert "Rendering:" not in result.output


def test_generate_reports_bad_sources_and_missing_ones(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run("generate", "x", "-o", str(tmp_path / "o.mp4"), "--mode", "image_to_video")
    assert missing.exit_code == 2 and "--source-image is required for image_to_video" in missing.output
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    bad = run("generate", "x", "-o", str(tmp_path / "o.mp4"), "--mode", "image_to_video",
              "--source-image", str(junk))
    assert bad.exit_code == 1 and "source_image" in bad.output
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_first_start_prints_a_key_and_a_curl_line_that_works(
    tmp_path: Path, server_database_url: str | None
) -> None:
    port = free_port()
    with vidgate_serve(tmp_path / "data", port, database_url=server_database_url) as process:
        printed = wait_until_ready(process)
        key = printed_key(printed)
        assert key, printed
        curl = re.search(r"^ *(curl .*?[^\\])$", printed, re.M | re.S)
        assert curl, printed
        command = curl.group(1)
        assert f'"http://localhost:{port}/api/v1/videos/generations"' in command
        assert f'"Authorization: Bearer {key}"' in command
        answer = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                timeout=300, check=True)
        video = json.loads(answer.stdout)
        assert video["data"]["url"].startswith(f"http://localhost:{port}/files/")
        assert (video["data"]["width"], video["data"]["height"], video["data"]["duration_seconds"]) == (
            1280, 720, 5)
        assert video["usage"]["credits_used"] == 500
        download = requests.get(video["data"]["url"], timeout=30)
        assert download.headers["content-type"] == "video/mp4" and download.content[4:8] == b"ftyp"
    with vidgate_serve(tmp_path / "data", port, database_url=server_database_url) as process:
        again = wait_until_ready(process)
    assert printed_key(again) is None  # shown once; the restart says how to make another
    assert "`vidgate keys create --name NAME [--sandbox]` makes one" in again


def test_processes_apart_need_postgresql(run, server_database_url: str | None) -> None:  # type: ignore[no-untyped-def]
    if server_database_url:  # on PostgreSQL they are allowed: see tests/scaleout
        return
    worker = run("worker")
    assert worker.exit_code == 2 and "`vidgate worker` needs PostgreSQL" in worker.output
    serve = run("serve", "--no-workers")
    assert serve.exit_code == 2 and "--no-workers needs PostgreSQL" in serve.output


def test_db_upgrade_then_processes_that_do_not_migrate(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VIDGATE_MIGRATE_ON_START", "false")
    refused = run("keys", "create", "--name", "refused")
    assert refused.exit_code == 1
    assert "the database schema is at revision none" in refused.output and "run `vidgate db upgrade`" in refused.output
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0 and re.search(r"schema revision \d{4}$", upgraded.output.strip())
    assert run("keys", "list").exit_code == 0


@pytest.mark.parametrize(
    ("lanes", "concurrency", "chosen"),
    [(None, None, {"local": 2, "fal": 200}), ("fal", None, {"fal": 200}), ("local=1,fal=7", None, {"local": 1, "fal": 7}),
     ("local", 4, {"local": 4})],
)
def test_worker_lanes(lanes: str | None, concurrency: int | None, chosen: dict[str, int]) -> None:
    from vidgate.cli import choose_lanes

    assert choose_lanes(lanes, concurrency, available={"local": 2, "fal": 200}) == chosen


@pytest.mark.parametrize(("lanes", "message"), [("gpu", "no backend configured here runs on lane 'gpu'"),
                                                ("local=none", "'none' is not a number of jobs")])
def test_worker_lanes_refused(lanes: str, message: str) -> None:
    from vidgate.cli import choose_lanes

    with pytest.raises(ValueError, match=message):
        choose_lanes(lanes, None, available={"local": 2, "fal": 200})


def test_a_worker_whose_metrics_port_is_taken_says_so(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", "postgresql://vidgate@127.0.0.1:1/vidgate")  # never reached
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = run("worker", "--metrics-port", str(port))
    assert worker.exit_code == 2, worker.output
    assert f"cannot serve metrics on 127.0.0.1:{port}: Address already in use" in worker.output


def test_a_key_without_allowances_gets_the_defaults(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "quick")
    assert created.exit_code == 0, created.output
    assert "10000 credits, 600 video seconds" in created.stdout


def test_listing_keys_where_there_is_no_database_says_so_and_creates_nothing(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, server_database_url: str | None
) -> None:
    if server_database_url:  # PostgreSQL: the database exists; this is about the SQLite default
        return
    for command in (("keys", "list"), ("keys", "revoke", "key_0123456789abcdef")):
        result = run(*command)
        assert result.exit_code == 1
        assert f"No vidgate database at {(tmp_path / 'data' / 'vidgate.db').resolve()}" in result.output
    assert not (tmp_path / "data").exists()


def test_install_runs_pip_only_when_the_project_or_the_extras_change(tmp_path: Path) -> None:
    """scripts/install on a copy of the project whose .venv python records its calls."""
    repo = Path(__file__).parents[1]
    (tmp_path / "scripts").mkdir()
    shutil.copy(repo / "scripts" / "install", tmp_path / "scripts" / "install")
    shutil.copy(repo / "pyproject.toml", tmp_path / "pyproject.toml")
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {tmp_path / "calls"}\n')
    fake.chmod(0o755)

    def pip_runs(*args: str) -> list[str]:
        calls = tmp_path / "calls"
        calls.unlink(missing_ok=True)
        subprocess.run([str(tmp_path / "scripts" / "install"), *args], check=True, timeout=60)
        return calls.read_text().splitlines() if calls.exists() else []

    assert pip_runs() == ["-m pip install --quiet -e ."]
    assert pip_runs() == []  # a restart installs nothing
    assert pip_runs("test") == [
        "-m pip install --quiet --no-deps torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu",
        "-m pip install --quiet -e .[test,gpu]"]
    assert pip_runs() == [] and pip_runs("test") == []  # the test tools include the rest
    with (tmp_path / "pyproject.toml").open("a") as project:
        project.write("\n# a dependency changed\n")
    assert pip_runs() == ["-m pip install --quiet -e ."]


SERVER_STACK = ("sqlalchemy", "alembic", "pydantic_settings", "fastapi", "uvicorn", "vidgate.db", "vidgate.app")


@pytest.mark.parametrize(
    "arguments",
    [["--help"], ["keys", "--help"], ["generate", "waves", "-o", "{out}", "--duration", "0.2"]],
    ids=["help", "keys help", "generate"],
)
def test_help_and_generate_do_not_load_the_server_stack(arguments: list[str], tmp_path: Path) -> None:
    """What a command imports, in a fresh interpreter: help and `generate` leave the database,
    the settings and the server alone (they cost most of a second to import)."""
    script = (
        "import sys\n"
        "from vidgate.cli import main\n"
        f"main({[a.replace('{out}', str(tmp_path / 'out.mp4')) for a in arguments]!r}, standalone_mode=False)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r} or m in {SERVER_STACK!r}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
