"""Every fal model in the catalog has an input builder, what the catalog says a model ignores
really does not reach it, and the length it is sent is the one the catalog says it makes."""

from __future__ import annotations

import pytest

from tests.conftest import installed_catalog
from vidgate.backends.base import VideoRequest
from vidgate.backends.fal.inputs import BUILDERS, model_input, nearest

FAL_MODELS = sorted(m.id for m in installed_catalog() if m.provider == "fal")
IMAGE = "https://example.com/a.png"
COMMON = {"prompt": "p", "duration_seconds": 5, "resolution": "720p", "fps": 30, "aspect_ratio": "16:9",
          "source_video": None, "negative_prompt": "blurry", "seed": 11, "prompt_optimizer": True,
          "loop": False}
# What the API hands a model of each mode: text-to-video requests carry no image.
BASE = {
    "text_to_video": {**COMMON, "mode": "text_to_video", "source_image": None},
    "image_to_video": {**COMMON, "mode": "image_to_video", "source_image": IMAGE},
}
CHANGED = {"duration_seconds": [9, 2, 20], "resolution": ["1080p", "4k"], "fps": [60],
           "aspect_ratio": ["9:16"], "negative_prompt": ["dark"], "seed": [12],
           "prompt_optimizer": [False], "loop": [True]}


def fal_body(model: str, params: dict) -> dict:
    """What fal is sent for a request of `params` to `model`."""
    return model_input(VideoRequest.from_params({**params, "model": model}))


def _base(model: str) -> dict:
    return BASE[installed_catalog()[model].modes[0]]


def test_every_fal_model_has_a_builder() -> None:
    assert set(FAL_MODELS) == set(BUILDERS)


@pytest.mark.parametrize("model", FAL_MODELS)
def test_ignored_parameters_do_not_reach_the_model(model: str) -> None:
    spec = installed_catalog()[model]
    base = _base(model)
    body = fal_body(model, base)
    for name in spec.ignores:
        for value in CHANGED[name]:
            assert fal_body(model, {**base, name: value}) == body, name
    for name in set(CHANGED) - set(spec.ignores) - {"aspect_ratio"}:
        bodies = [fal_body(model, {**base, name: value}) for value in CHANGED[name]]
        assert any(changed != body for changed in bodies), f"{model} claims to use {name}"


@pytest.mark.parametrize("model", FAL_MODELS)
def test_only_image_to_video_endpoints_get_an_image(model: str) -> None:
    image_to_video = installed_catalog()[model].modes == ("image_to_video",)
    # A stray source_image on a text-to-video request must not reach a model that has no
    # image field (its schema may refuse it).
    body = fal_body(model, {**_base(model), "source_image": IMAGE})
    assert ("image_url" in body) is image_to_video
    if image_to_video:
        assert body["image_url"] == IMAGE


@pytest.mark.parametrize("model", FAL_MODELS)
def test_the_length_sent_is_the_one_the_catalog_says_the_model_makes(model: str) -> None:
    spec = installed_catalog()[model]
    assert spec.output_durations, f"{model} must say which lengths it makes"
    for requested in range(1, int(spec.max_duration) + 1):
        body = fal_body(model, {**_base(model), "duration_seconds": requested})
        made = spec.output_duration(requested)
        assert made in spec.output_durations
        if "duration" in body:
            assert int(str(body["duration"]).removesuffix("s")) == made
        else:
            assert spec.output_durations == (made,)  # a fixed length, nothing to send


@pytest.mark.parametrize(
    ("model", "resolution", "sent"),
    [
        ("fal-ai/ltx-2/text-to-video/fast", "720p", "1080p"),
        ("fal-ai/ltx-2/text-to-video/fast", "4k", "2160p"),
        ("fal-ai/veo3", "1080p", "1080p"),
        ("fal-ai/pixverse/v5.5/text-to-video", "720p", "720p"),
        ("fal-ai/luma-dream-machine/ray-2", "1080p", "1080p"),
        ("fal-ai/bytedance/seedance/v1/pro/image-to-video", "720p", "720p"),
    ],
)
def test_resolutions_are_spelled_as_each_model_spells_them(model: str, resolution: str, sent: str) -> None:
    assert fal_body(model, {**_base(model), "resolution": resolution})["resolution"] == sent


def test_luma_loops_and_nearest_prefers_the_cheaper_tie() -> None:
    assert fal_body("fal-ai/luma-dream-machine/ray-2", {**BASE["text_to_video"], "loop": True})["loop"] is True
    assert nearest(7, [5, 9]) == 5
    assert nearest(8, [5, 9]) == 9
