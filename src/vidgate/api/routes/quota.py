"""GET /quota: the key's credits and video seconds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vidgate.api.deps import BEARER_SECURITY, KeyFirstRoute, UsageKey, api_of
from vidgate.api.errors import error_responses
from vidgate.api.schemas import QuotaOut
from vidgate.auth.models import ApiKey

router = APIRouter(tags=["quota"], route_class=KeyFirstRoute)


@router.get(
    "/quota",
    summary="Credits and video seconds",
    response_model=QuotaOut,
    responses=error_responses(401, 403),
    openapi_extra=BEARER_SECURITY,
)
async def get_quota(request: Request, key: UsageKey) -> Any:
    """`reserved` is held by jobs still running; it becomes `used` or comes back."""
    async with api_of(request).sessions() as session:
        fresh = await session.get(ApiKey, key.id)
    assert fresh is not None
    return {
        "key_id": fresh.id,
        "name": fresh.name,
        "sandbox": fresh.sandbox,
        "scopes": fresh.scopes,
        "quotas": {
            "credits": _bucket(fresh.credits_limit, fresh.credits_used, fresh.credits_reserved),
            "video_seconds": _bucket(fresh.seconds_limit, fresh.seconds_used, fresh.seconds_reserved),
        },
    }


def _bucket(limit: int, used: int, reserved: int) -> dict[str, int]:
    return {"limit": limit, "used": used, "reserved": reserved, "remaining": limit - used - reserved}
