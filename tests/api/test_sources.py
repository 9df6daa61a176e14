"""Source URLs: never a way into the server's own network (SSRF); the server's own output
links work as sources."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
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


# Every spelling of a private or local address is refused when the job is submitted; the table
# of spellings checked against Python's and the resolver's parsing is in tests/test_outbound.py.
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
        ("http://127.1:8000/a.png", "127.1"),
        ("http://2130706433/a.png", "2130706433"),
        ("http://0x7f000001/a.png", "0x7f000001"),
        ("http://0x7f.1/a.png", "0x7f.1"),
        ("http://0xa9fea9fe/latest/meta-data/", "0xa9fea9fe"),
        ("http://169.254.43518/latest/meta-data/", "169.254.43518"),
        ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "::ffff:a9fe:a9fe"),
    ],
)
async def test_a_source_naming_a_private_address_is_refused_and_changes_nothing(
    harness: Harness, url: str, host: str
) -> None:
    key = await harness.key()
    before = await harness.stored_state()
    for path in (GEN, f"{GEN}?async=true"):
        response = await harness.client.post(path, json=image_job(url), headers=auth(key))
        assert response.status_code == 400
        assert response.json() == {
            "error": f"source_image must be a public URL: {host} is a private or local address"
        }
    assert await harness.stored_state() == before


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


async def test_a_public_address_in_an_unusual_spelling_is_refused_with_the_reason(harness: Harness) -> None:
    key = await harness.key()
    response = await harness.client.post(GEN, json=image_job("http://134744072/a.png"), headers=auth(key))
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "source_image is not a URL this server fetches: host '134744072' is made only of digits"
    )
    assert await harness.job_count(key) == 0


@contextmanager
def media_host(*, redirect_to: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on loopback serving an image at /portrait.png (or redirecting there to
    `redirect_to`): a service only the server's own network can see. Yields its port and the
    paths it was asked for."""
    asked: list[str] = []
    image = make_png()

    async def serve(request: Request) -> Response:
        asked.append(request.url.path)
        if redirect_to is not None:
            return Response(status_code=302, headers={"Location": redirect_to})
        return Response(image, media_type="image/png")

    app = Starlette(routes=[Route("/portrait.png", serve)])
    with serve_in_thread(app) as base:
        yield int(base.rsplit(":", 1)[1]), asked


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (kept bound, so nothing else takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def listener() -> Iterator[tuple[int, Callable[[], bool]]]:
    """A loopback port that listens but never accepts; yields it and a function telling
    whether any connection reached it (a completed handshake waits in its queue)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)

        def connected() -> bool:
            try:
                sock.accept()[0].close()
            except BlockingIOError:
                return False
            return True

        yield sock.getsockname()[1], connected


async def failure_of(harness: Harness, key: str, url: str) -> tuple[int, dict[str, object]]:
    response = await harness.client.post(GEN, json=image_job(url), headers=auth(key))
    body = response.json()
    body.pop("id", None)
    return response.status_code, body


async def test_a_name_resolving_to_a_private_address_is_never_connected_to(
    tmp_path: Path, database_url: str | None, fake_dns: dict[str, str | None]
) -> None:
    """The address is checked before a connection is opened: the private service sees not
    even a TCP handshake, and the job fails with the words an unreachable host gets."""
    fake_dns["media.example.test"] = "127.0.0.1"
    with listener() as (port, connected):
        async with running_harness(tmp_path / "data", database_url, transport=None) as harness:
            key = await harness.key()
            before = await harness.quota(key)
            status, body = await failure_of(harness, key, f"http://media.example.test:{port}/a.png")
            assert not connected()
            assert (status, body) == (400, {"error": "Video generation failed: source_image could not be "
                                            "fetched: media.example.test could not be reached at a public "
                                            "address"})
            assert await harness.quota(key) == before


async def test_refused_unreachable_and_unknown_hosts_get_the_same_answer(
    tmp_path: Path, database_url: str | None, fake_dns: dict[str, str | None]
) -> None:
    """No port scanning through source URLs: an open private port, a closed one, a listening
    one and a name that does not resolve are answered alike, naming only the host."""
    fake_dns["media.example.test"] = "127.0.0.1"
    fake_dns["nowhere.example.test"] = None
    with media_host() as (open_port, asked), closed_port() as shut, listener() as (silent, _):
        async with running_harness(tmp_path / "data", database_url, transport=None) as harness:
            key = await harness.key()
            answers = [
                await failure_of(harness, key, f"http://media.example.test:{port}/portrait.png")
                for port in (open_port, shut, silent)
            ]
            unknown = await failure_of(harness, key, "http://nowhere.example.test/portrait.png")
    expected = "Video generation failed: source_image could not be fetched: {} could not be reached at a public address"
    assert answers == [(400, {"error": expected.format("media.example.test")})] * 3
    assert unknown == (400, {"error": expected.format("nowhere.example.test")})
    assert asked == []


async def test_an_operator_can_let_sources_reach_a_network(
    tmp_path: Path, database_url: str | None, fake_dns: dict[str, str | None]
) -> None:
    fake_dns["media.example.test"] = "127.0.0.1"
    with media_host() as (port, asked):
        async with running_harness(
            tmp_path / "data", database_url, transport=None, source_allowed_networks=["127.0.0.1/32"]
        ) as harness:
            key = await harness.key()
            for url in (f"http://media.example.test:{port}/portrait.png", f"http://127.0.0.1:{port}/portrait.png"):
                response = await harness.client.post(GEN, json=image_job(url), headers=auth(key))
                assert response.status_code == 200, response.text
            # the allowance is that network alone: its neighbour stays refused
            response = await harness.client.post(GEN, json=image_job("http://127.0.0.2/a.png"), headers=auth(key))
            assert response.json() == {"error": "source_image must be a public URL: 127.0.0.2 is a private or local address"}
    assert asked == ["/portrait.png", "/portrait.png"]


async def test_a_redirect_is_checked_like_the_url_itself(
    tmp_path: Path, database_url: str | None, fake_dns: dict[str, str | None]
) -> None:
    fake_dns["media.example.test"] = "127.0.0.1"
    with media_host(redirect_to="http://10.0.0.1/portrait.png") as (port, asked):
        async with running_harness(
            tmp_path / "data", database_url, transport=None, source_allowed_networks=["127.0.0.1/32"]
        ) as harness:
            key = await harness.key()
            status, body = await failure_of(harness, key, f"http://media.example.test:{port}/portrait.png")
    assert (status, body) == (400, {"error": "Video generation failed: source_image could not be fetched: "
                                    "10.0.0.1 could not be reached at a public address"})
    assert asked == ["/portrait.png"]


async def test_allow_private_sources_lets_every_address_through(
    tmp_path: Path, database_url: str | None
) -> None:
    with media_host() as (port, asked):
        async with running_harness(
            tmp_path / "data", database_url, transport=None, allow_private_sources=True
        ) as harness:
            key = await harness.key()
            url = f"http://127.0.0.1:{port}/portrait.png"
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


async def test_a_source_over_the_byte_limit_is_refused_declared_or_not(
    tmp_path: Path, database_url: str | None
) -> None:
    picture = make_png()

    async def chunks() -> AsyncIterator[bytes]:
        yield picture[:500]
        yield picture[500:]

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/declared.png":
            return httpx.Response(200, content=picture)  # with its Content-Length
        return httpx.Response(200, content=chunks())  # chunked: counted as it arrives

    async with running_harness(
        tmp_path / "data", database_url, transport=httpx.MockTransport(serve),
        max_source_bytes=len(picture) - 1,
    ) as harness:
        key = await harness.key()
        for name in ("declared", "streamed"):
            status, body = await failure_of(harness, key, f"https://media.example.com/{name}.png")
            assert (status, body) == (400, {"error": "Video generation failed: source_image is larger "
                                            f"than {len(picture) - 1} bytes"})
