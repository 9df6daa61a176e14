"""GET /models and GET /models/{id}: the catalog, with what each model allows and costs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vidgate.api.errors import error_responses
from vidgate.catalog import CATALOG, DEFAULT_MODEL_BY_MODE, get_model
from vidgate.errors import NotFound

router = APIRouter(tags=["models"])


@router.get("/models", summary="List models")
async def list_models() -> dict[str, Any]:
    """Every model, with its modes, durations, resolutions, fps, aspect ratios, tier and price.
    No key needed."""
    return {
        "object": "list",
        "defaults": DEFAULT_MODEL_BY_MODE,
        "data": [spec.describe() for spec in CATALOG.values()],
    }


@router.get("/models/{model_id:path}", summary="Get a model", responses=error_responses(404))
async def get_one_model(model_id: str) -> dict[str, Any]:
    spec = get_model(model_id)
    if spec is None:
        raise NotFound(f"Model not found: {model_id}")
    return spec.describe()
