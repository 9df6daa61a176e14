"""GET /models and GET /models/{id}: the catalog, with what each model allows and costs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vidgate.api.deps import api_of
from vidgate.api.errors import error_responses
from vidgate.api.schemas import ModelList, ModelOut
from vidgate.catalog import DEFAULT_MODEL_BY_MODE
from vidgate.errors import NotFound

router = APIRouter(tags=["models"])


@router.get("/models", summary="List models", response_model=ModelList)
async def list_models(request: Request) -> dict[str, Any]:
    """Every model, with its modes, durations, resolutions, fps, aspect ratios, tier and price.
    No key needed."""
    return {
        "object": "list",
        "defaults": DEFAULT_MODEL_BY_MODE,
        "data": [spec.describe() for spec in api_of(request).catalog],
    }


@router.get("/models/{model_id:path}", summary="Get a model", response_model=ModelOut,
            responses=error_responses(404))
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    spec = api_of(request).catalog.get(model_id)
    if spec is None:
        raise NotFound(f"Model not found: {model_id}")
    return spec.describe()
