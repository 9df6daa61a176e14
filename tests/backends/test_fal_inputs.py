"""Every fal model in the catalog has an input builder, and what the catalog says a model
ignores really does not reach it."""

from __future__ import annotations

import pytest

from vidgate.backends.fal.inputs import BUILDERS, model_input, nearest
from vidgate.catalog import CATALOG

FAL_MODELS = sorted(m.id for m in CATALOG.values() if m.provider == "fal")
BASE = {"prompt": "p", "duration_seconds": 5, "resolution": "720p", "fps": 30, "aspect_ratio": "16:9",
        "mode": "text_to_video", "source_image": "https://example.com/a.png", "source_video": None,
        "negative_prompt": "blurry", "seed": 11, "prompt_optimizer": True, "loop": False}
CHANGED = {"duration_seconds": [9, 2, 20], "resolution": ["1080p", "4k"], "fps": [60],
           "aspect_ratio": ["9:16"], "negative_prompt": ["dark"], "seed": [12],
           "prompt_optimizer": [False], "loop": [True]}


def test_every_fal_model_has_a_builder() -> None:
    assert set(FAL_MODELS) == set(BUILDERS)


@pytest.mark.parametrize("model", FAL_MODELS)
def test_ignored_parameters_do_not_reach_the_model(model: str) -> None:
    spec = CATALOG[model]
    body = model_input(model, BASE)
    for name in spec.ignores:
        for value in CHANGED[name]:
            assert model_input(model, {**BASE, name: value}) == body, name
    for name in set(CHANGED) - set(spec.ignores) - {"aspect_ratio"}:
        bodies = [model_input(model, {**BASE, name: value}) for value in CHANGED[name]]
        assert any(changed != body for changed in bodies), f"{model} claims to use {name}"


def test_luma_loops_and_nearest_prefers_the_cheaper_tie() -> None:
    assert model_input("fal-ai/luma-dream-machine/ray-2", {**BASE, "loop": True})["loop"] is True
    assert nearest(7, [5, 9]) == 5
    assert nearest(8, [5, 9]) == 9
