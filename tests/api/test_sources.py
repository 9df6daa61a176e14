"""Source URLs: never a way into the server's own network (SSRF); the server's own output
links work as sources."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import Harness, auth, fake_internet, make_png, running_harness
from tests.live_server import serve_in_thread

GEN = "/api/v1/videos/generations"


def image_job(source: str) -> dict[str, object]:
    return {"prompt": "p", "mode": "image_to_video", "source_image": source, "duration_seconds": 1}


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8000/a.png", "127.0.0.1"),
        ("http://localhost/a.png", "localhost"),
        ("http://media.localhost/a.png", "media.localhost"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.5/a.png", "10.0.0.5"),
        ("https://192.168.1.20/a.png", "192.168.1.20"),
        ("http://0.0.0.0/a.png", "0.0.0.0"),
        ("http://[::1]/a.png", "::1"),
        ("http://[fd00::1]/a.png", "fd00::1"),
    ],
)
async def test_a_source_naming_a_private_address_is_refused_and_changes_nothing(
    harness: Harness, url: str, host: str
) -> None:
    key = await harness.key()
    before = await harness.quota(key)
    for path in (GEN, f"{GEN}?async=true"):
        response = await harness.client.post(path, json=image_job(url), headers=auth(key))
        assert response.status_code == 400
        assert response.json() == {
            "error": f"source_image must be a public URL: {host} is a private or local address"
        }
    assert await harness.job_count(key) == 0
    assert await harness.quota(key) == before


async def test_a_private_source_video_is_refused_too(harness: Harness) -> None:
    key = await harness.key()
    body = {"prompt": "p", "mode": "video_to_video", "source_video": "http://10.1.2.3/v.mp4",
            "duration_seconds": 1}
    response = await harness.client.post(GEN, json=body, headers=auth(key))
    assert response.status_code == 400
    assert response.json() == {
        "error": "source_video must be a public URL: 10.1.2.3 is a private or local address"
    }


async def test_a_url_that_is_not_a_valid_url_is_refused(harness: Harness) -> None:
    key = await harness.key()
    response = await harness.client.post(GEN, json=image_job("http://0177.0.0.1/a.png"), headers=auth(key))
    assert response.status_code == 400
    assert response.json() == {"error": "source_image is not a valid URL"}
    assert await harness.job_count(key) == 0


@contextmanager
def private_media_host() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback serving an image: a service only the server's own network
    can see. Yields its port and the paths it was asked for."""
    asked: list[str] = []
    image = make_png()

    async def serve(request: Request) -> Response:
        asked.append(request.url.path)
        return Response(image, media_type="image/png")

    app = Starlette(routes=[Route("/portrait.png", serve)])
    with serve_in_thread(app) as base:
        yield base.rsplit(":", 1)[1], asked


async def test_a_name_that_resolves_to_a_private_address_is_refused_when_connecting(
    tmp_path: Path, database_url: str | None
) -> None:
    with private_media_host() as (port, asked):
        # 127.0.0.1 written as one number: no IP literal to spot, the resolver makes it loopback
        url = f"http://2130706433:{port}/portrait.png"
        async with running_harness(tmp_path / "guarded", database_url, transport=None) as harness:
            key = await harness.key()
            response = await harness.client.post(GEN, json=image_job(url), headers=auth(key))
            assert response.status_code == 400
            assert response.json()["error"] == (
                "Video generation failed: source_image must be a public URL: 2130706433 resolves "
                "to 127.0.0.1, which is a private or local address"
            )
            quota = await harness.quota(key)
            assert quota["credits"]["used"] == 0 and quota["credits"]["reserved"] == 0
        assert asked == []  # the private service never saw a request

        async with running_harness(
            tmp_path / "open", database_url, transport=None, allow_private_sources=True
        ) as harness:
            key = await harness.key()
            response = await harness.client.post(GEN, json=image_job(url), headers=auth(key))
            assert response.status_code == 200, response.text
        assert asked == ["/portrait.png"]


async def test_an_own_output_link_is_a_source_even_on_a_loopback_public_url(
    tmp_path: Path, database_url: str | None
) -> None:
    nothing_online = fake_internet({})
    async with running_harness(
        tmp_path / "data", database_url, transport=nothing_online, public_url="http://127.0.0.1:8000"
    ) as harness:
        key = await harness.key()
        first = await harness.client.post(
            GEN, json={"prompt": "ocean waves", "duration_seconds": 1}, headers=auth(key)
        )
        link = first.json()["data"]["url"]
        assert link.startswith("http://127.0.0.1:8000/files/")
        body = {"prompt": "black and white", "mode": "video_to_video", "source_video": link,
                "duration_seconds": 1}
        second = await harness.client.post(GEN, json=body, headers=auth(key))
        # read from storage: the stand-in internet answers 404 to everything
        assert second.status_code == 200, second.text
        assert second.json()["data"]["duration_seconds"] == pytest.approx(1, abs=0.05)
