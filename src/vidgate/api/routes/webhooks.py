"""POST /webhooks/fal: fal says a request is done. Polling stays the fallback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from vidgate.api.deps import runtime_of
from vidgate.api.errors import error_responses
from vidgate.backends.fal import FalBackend
from vidgate.backends.fal.webhooks import InvalidWebhook, KeysUnavailable
from vidgate.errors import NotFound, ServiceUnavailable, Unauthorized

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)


@router.post("/webhooks/fal", summary="fal.ai completion webhook", responses=error_responses(401, 404, 503))
async def fal_webhook(request: Request) -> dict[str, Any]:
    """Verified against fal's published Ed25519 keys; the job it names checks its request at
    once and completes it (exactly once, whether the webhook or a poll comes first). A 503
    when fal's keys cannot be fetched: fal delivers the call again later, and the job's own
    polling goes on meanwhile."""
    backend = runtime_of(request).backends.get("fal")
    if not isinstance(backend, FalBackend):
        raise NotFound("fal.ai is not configured on this server")
    body = await request.body()
    try:
        request_id = await backend.webhooks.verify(request.headers, body)
    except InvalidWebhook as exc:
        log.warning("refused a fal webhook: %s", exc)
        raise Unauthorized("Invalid webhook signature") from exc
    except KeysUnavailable as exc:
        log.warning("could not check a fal webhook: %s", exc)
        raise ServiceUnavailable("fal.ai's signing keys are unavailable; deliver again later") from exc
    backend.request_finished(request_id)
    return {"ok": True}
