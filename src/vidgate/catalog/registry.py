"""The catalog of a server: the models its backend plugins serve, and the seed's default
model for each mode."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from vidgate.catalog.models import ModelSpec

LOCAL_MODEL_ID = "vidgate/local"

DEFAULT_MODEL_BY_MODE = {
    "text_to_video": "fal-ai/minimax/video-01",
    "image_to_video": "fal-ai/minimax/video-01/image-to-video",
    "video_to_video": LOCAL_MODEL_ID,
}


class Catalog:
    """Models by id, in the order the plugins list them."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models = {model.id: model for model in models}

    def get(self, model_id: str) -> ModelSpec | None:
        return self._models.get(model_id)

    def __getitem__(self, model_id: str) -> ModelSpec:
        return self._models[model_id]

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
