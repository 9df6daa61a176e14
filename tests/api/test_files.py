"""Output links: whole files, byte ranges, HEAD, and Range errors in the API's error shape."""

from __future__ import annotations

import pytest

from tests.conftest import Harness

CONTENT = bytes(range(256)) * 40  # 10240 bytes, each offset recognisable


@pytest.fixture
async def link(harness: Harness, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """The URL path of a stored output (no render needed: storage serves any file)."""
    source = tmp_path / "video.mp4"
    source.write_bytes(CONTENT)
    storage = harness.api.storage
    key = (await storage.put("job_files_test", {"video.mp4": source}))["video.mp4"]
    return storage.link(key).url


async def test_a_range_gets_those_bytes(harness: Harness, link: str) -> None:
    response = await harness.client.get(link, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == CONTENT[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(CONTENT)}"


@pytest.mark.parametrize("header", ["bytes=abc", "items=0-10", "bytes=20-10", "bytes"])
async def test_a_malformed_range_is_a_400_in_the_error_shape(
    harness: Harness, link: str, header: str
) -> None:
    response = await harness.client.get(link, headers={"Range": header})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "Invalid Range header: expected bytes=START-END (e.g. bytes=0-1023)"
    }


async def test_a_range_past_the_end_is_a_416_in_the_error_shape(harness: Harness, link: str) -> None:
    response = await harness.client.get(link, headers={"Range": f"bytes={len(CONTENT)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.json() == {"error": f"Range not satisfiable: the file is {len(CONTENT)} bytes long"}


async def test_head_gets_the_headers_of_get_without_the_body(harness: Harness, link: str) -> None:
    got = await harness.client.get(link)
    head = await harness.client.head(link)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "accept-ranges", "etag", "last-modified",
                 "cache-control"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(CONTENT) == len(got.content)

    ranged = await harness.client.head(link, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(CONTENT)}"


async def test_unknown_links_are_404_for_get_and_head(harness: Harness, link: str) -> None:
    wrong = link.replace("/job_files_test/", "/job_other/")
    response = await harness.client.get(wrong)
    assert response.status_code == 404 and response.json() == {"error": "File not found"}
    assert (await harness.client.head(wrong)).status_code == 404
