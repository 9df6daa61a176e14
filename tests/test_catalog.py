"""Combinations a model does not make are refused before anything is spent, for live and
sandbox keys alike; `GET /models/{id}` shows the lengths each model really makes."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, auth, installed_catalog

LTX = "fal-ai/ltx-2/text-to-video/fast"
PIXVERSE = "fal-ai/pixverse/v5.5/text-to-video"
GEN = "/api/v1/videos/generations?async=true"


def _check(model: str, *, duration: float, resolution: str = "1080p", fps: int = 30) -> None:
    installed_catalog()[model].check(mode="text_to_video", duration=duration, resolution=resolution, fps=fps,
                         aspect="16:9")


@pytest.mark.parametrize(
    ("model", "settings", "message"),
    [
        (LTX, {"duration": 15, "fps": 60},
         f"model {LTX} makes only 6, 8 or 10 s clips with fps 60, and duration_seconds 15 would be "
         "a 14 s clip; ask for at most 10 s, or another fps"),
        (LTX, {"duration": 15, "resolution": "4k"},
         f"model {LTX} makes only 6, 8 or 10 s clips with resolution 4k"),
        (LTX, {"duration": 20, "resolution": "4k", "fps": 60}, "6, 8 or 10 s clips"),
        (PIXVERSE, {"duration": 10}, f"model {PIXVERSE} makes only 5 or 8 s clips with resolution 1080p"),
        (PIXVERSE, {"duration": 9.5}, "would be a 10 s clip; ask for at most 8 s"),
    ],
)
def test_combinations_a_model_does_not_make_are_refused(model: str, settings: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        _check(model, **settings)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("model", "settings"),
    [
        (LTX, {"duration": 15}),  # 1080p, 30 fps (sent as 25): every length
        (LTX, {"duration": 20, "resolution": "720p"}),  # 720p is made as 1080p
        (LTX, {"duration": 11, "fps": 60}),  # snaps to 10 s, which 50 fps makes
        (LTX, {"duration": 10, "resolution": "4k", "fps": 60}),
        (PIXVERSE, {"duration": 9}),  # snaps to 8 s (the cheaper of the two nearest)
        (PIXVERSE, {"duration": 10, "resolution": "720p"}),
    ],
)
def test_combinations_a_model_makes_pass(model: str, settings: dict) -> None:
    _check(model, **settings)


@pytest.mark.parametrize("sandbox", [True, False])
async def test_the_api_refuses_them_with_400_for_every_key_and_changes_nothing(
    harness: Harness, sandbox: bool
) -> None:
    key = await harness.key(sandbox=sandbox)
    before = await harness.quota(key)
    for body in ({"model": LTX, "duration_seconds": 15, "fps": 60},
                 {"model": LTX, "duration_seconds": 16, "resolution": "4k"},
                 {"model": PIXVERSE, "duration_seconds": 10, "resolution": "1080p"}):
        response = await harness.client.post(GEN, json={"prompt": "a", **body}, headers=auth(key))
        assert response.status_code == 400, response.text
        assert "clips with" in response.json()["error"]
    assert await harness.job_count(key) == 0
    assert await harness.quota(key) == before


async def test_models_show_the_lengths_they_make(harness: Harness) -> None:
    kling = (await harness.client.get("/api/v1/models/fal-ai/kling-video/v2.5-turbo/pro/text-to-video")).json()
    assert kling["duration_seconds"] == {"min": 1.0, "max": 10}
    assert kling["output_durations"] == [5, 10]
    assert kling["limits"] == []
    ltx = (await harness.client.get(f"/api/v1/models/{LTX}")).json()
    assert ltx["output_durations"] == [6, 8, 10, 12, 14, 16, 18, 20]
    assert ltx["limits"] == [{"when": {"resolution": ["4k"]}, "output_durations": [6, 8, 10]},
                             {"when": {"fps": [60]}, "output_durations": [6, 8, 10]}]
    assert (await harness.client.get("/api/v1/models/fal-ai/minimax/video-01")).json()[
        "output_durations"] == [6]
    assert (await harness.client.get("/api/v1/models/vidgate/local")).json()["output_durations"] is None


def test_the_seed_price_holds_for_the_default_model() -> None:
    # The default model makes 6 s clips; a 5 s request costs 5 s (billing is capped by the
    # requested length): the seed's 500 credits.
    assert installed_catalog()["fal-ai/minimax/video-01"].price(5) == (500, 5)
