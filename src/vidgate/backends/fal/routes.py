"""POST /api/v1/webhooks/fal: fal says a request is done. Polling stays the fallback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from vidgate.api.deps import api_of
from vidgate.api.errors import error_responses
from vidgate.api.schemas import WebhookAck
from vidgate.backends.fal.config import FalSettings
from vidgate.backends.fal.webhooks import InvalidWebhook, KeysUnavailable, WebhookVerifier
from vidgate.errors import NotFound, ServiceUnavailable, Unauthorized
from vidgate.jobs import store

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/fal"


def webhook_router(fal: FalSettings) -> APIRouter:
    verifier = WebhookVerifier(jwks_url=fal.jwks_url)
    router = APIRouter(tags=["webhooks"])

    @router.post(WEBHOOK_PATH, summary="fal.ai completion webhook", response_model=WebhookAck,
                 responses=error_responses(401, 404, 503))
    async def fal_webhook(request: Request) -> dict[str, Any]:
        """Verified against fal's published Ed25519 keys; the job it names checks its request
        at once, on whichever worker runs it, and completes it (exactly once, whether the
        webhook or a poll comes first). A 503 when fal's keys cannot be fetched: fal delivers
        the call again later, and the job's own polling goes on meanwhile."""
        if not fal.key:
            raise NotFound("fal.ai is not configured on this server")
        body = await request.body()
        try:
            request_id = await verifier.verify(request.headers, body)
        except InvalidWebhook as exc:
            log.warning("refused a fal webhook: %s", exc)
            raise Unauthorized("Invalid webhook signature") from exc
        except KeysUnavailable as exc:
            log.warning("could not check a fal webhook: %s", exc)
            raise ServiceUnavailable("fal.ai's signing keys are unavailable; deliver again later") from exc
        api = api_of(request)
        job_id = await store.running_job_with_request(api.sessions, "fal", request_id)
        if job_id is not None:
            await api.events.poke(job_id)
        return {"ok": True}

    return router
