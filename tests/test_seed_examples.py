"""The seed document's own examples, run unchanged but for the host and the key."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import seed_internet, server_database, settings_for_tests
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.auth import service as keys
from vidgate.db.engine import create_engine, create_sessionmaker
from vidgate.db.migrate import upgrade

SEED_HOST = "https://www.novakit.ai"
SEED_KEY = "sk_your_api_key"

# Copied from the seed document. Its web copy lost the Python indentation, restored here;
# nothing else is changed.
SEED_CURL = '''curl -X POST "https://www.novakit.ai/api/v1/videos/generations?async=true" \\
-H "Authorization: Bearer sk_your_api_key" \\
-H "Content-Type: application/json" \\
-d '{
"prompt": "A drone flyover of a tropical beach at golden hour, cinematic",
"duration_seconds": 5,
"aspect_ratio": "16:9"
}\''''

SEED_IMAGE_TO_VIDEO = '''import requests
response = requests.post(
"https://www.novakit.ai/api/v1/videos/generations?async=true",
headers={
"Authorization": "Bearer sk_your_api_key",
"Content-Type": "application/json"
},
json={
"prompt": "The person slowly turns and smiles",
"mode": "image_to_video",
"source_image": "https://example.com/portrait.jpg",
"duration_seconds": 3
}
)
job_id = response.json()["id"]
print(f"Job started: {job_id}")'''

SEED_POLLING = '''import requests
import time
# Start the job
response = requests.post(
"https://www.novakit.ai/api/v1/videos/generations?async=true",
headers={"Authorization": "Bearer sk_your_api_key"},
json={"prompt": "Ocean waves crashing on rocks", "duration_seconds": 5}
)
job_id = response.json()["id"]
# Poll until complete
while True:
    status = requests.get(
    f"https://www.novakit.ai/api/v1/jobs/{job_id}?poll=true",
    headers={"Authorization": "Bearer sk_your_api_key"}
    ).json()
    print(f"Status: {status['status']}, Progress: {status.get('progress', 0)}%")
    if status["status"] == "completed":
        print(f"Video URL: {status['outputData']['video']['url']}")
        break
    elif status["status"] == "failed":
        print(f"Failed: {status.get('errorMessage')}")
        break
    time.sleep(5)'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with server_database() as database_url:
        settings = settings_for_tests(tmp_path_factory.mktemp("seed") / "data", database_url=database_url)
        secret = asyncio.run(_sandbox_key(settings))
        app = create_app(settings, http_transport=seed_internet())
        with serve_in_thread(app) as base:
            yield base, secret


async def _sandbox_key(settings, *, sandbox: bool = True) -> str:  # type: ignore[no-untyped-def]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    _row, secret = await keys.create_key(
        create_sessionmaker(engine), name="seed", scopes=["video", "jobs", "usage"],
        credits=100_000, video_seconds=1_000, sandbox=sandbox,
    )
    await engine.dispose()
    return secret


def _adapt(snippet: str, base: str, key: str) -> str:
    return snippet.replace(SEED_HOST, base).replace(SEED_KEY, key)


def _run_python(snippet: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet, "<seed example>", "exec"), {})  # noqa: S102 - the seed's own code
    return out.getvalue()


def _wait(base: str, key: str, job_id: str) -> dict:
    while True:
        job = requests.get(f"{base}/api/v1/jobs/{job_id}?poll=true",
                           headers={"Authorization": f"Bearer {key}"}, timeout=60).json()
        if job["status"] not in ("pending", "processing"):
            return job


def test_seed_curl_example(server: tuple[str, str]) -> None:
    base, key = server
    command = _adapt(SEED_CURL, base, key)
    output = subprocess.run(["bash", "-c", command + " --silent"], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    submitted = json.loads(output)
    assert submitted["status"] == "pending"
    assert submitted["estimated_credits"] == 500  # the default model, 5 s
    job = _wait(base, key, submitted["id"])
    assert job["status"] == "completed", job
    assert (job["outputData"]["video"]["width"], job["outputData"]["video"]["height"]) == (1280, 720)
    assert job["outputData"]["video"]["duration_seconds"] == 5


def test_seed_image_to_video_example(server: tuple[str, str]) -> None:
    base, key = server
    printed = _run_python(_adapt(SEED_IMAGE_TO_VIDEO, base, key))
    assert printed.startswith("Job started: job_")
    job = _wait(base, key, printed.split(": ", 1)[1].strip())
    assert job["status"] == "completed", job
    assert job["model"] == "fal-ai/minimax/video-01/image-to-video"
    assert job["outputData"]["video"]["duration_seconds"] == 3


def test_seed_polling_example(server: tuple[str, str]) -> None:
    base, key = server
    printed = _run_python(_adapt(SEED_POLLING, base, key))
    lines = printed.strip().splitlines()
    assert lines[-2].startswith("Status: completed, Progress: 100%")
    url = lines[-1].removeprefix("Video URL: ")
    assert url.startswith(base + "/files/")
    video = requests.get(url, timeout=30)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


def test_the_readme_offline_image_to_video_example(server: tuple[str, str]) -> None:
    """The README's stand-in for the seed's image-to-video example runs with no internet."""
    base, key = server
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```bash\n(BASE=http://localhost:8000 KEY=sk_test_\.\.\.\n.*?)```", readme, re.S)
    assert block, "the README lost its offline image-to-video example"
    script = block.group(1).replace("BASE=http://localhost:8000 KEY=sk_test_...", f"BASE={base} KEY={key}")
    output = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    submitted = json.loads(output)
    assert submitted["status"] == "pending" and submitted["model"] == "fal-ai/minimax/video-01/image-to-video"
    job = _wait(base, key, submitted["id"])
    assert job["status"] == "completed", job
    assert job["outputData"]["video"]["duration_seconds"] == 3
