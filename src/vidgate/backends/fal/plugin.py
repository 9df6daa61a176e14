"""fal.ai as a backend plugin: its models, its settings, its lane and its webhook route."""

from __future__ import annotations

from vidgate.backends.fal.backend import FalBackend
from vidgate.backends.fal.config import FalSettings
from vidgate.backends.fal.models import FAL_MODELS
from vidgate.backends.fal.routes import WEBHOOK_PATH, webhook_router
from vidgate.backends.registry import BackendPlugin, BackendServices
from vidgate.config import Settings

API_PREFIX = "/api/v1"


def plugin(settings: Settings, fal: FalSettings | None = None) -> BackendPlugin:
    """The fal plugin, with `fal`'s settings (default: from the environment and vidgate.toml)."""
    fal = fal or FalSettings()
    # fal can only call back a server it can reach: with a public URL configured.
    webhook_url = f"{settings.public_url}{API_PREFIX}{WEBHOOK_PATH}" if settings.public_url else None

    def create(services: BackendServices) -> FalBackend:
        if not fal.key:
            raise RuntimeError("fal.ai is not configured: set FAL_KEY")
        return FalBackend(
            key=fal.key,
            queue_url=fal.queue_url,
            rest_url=fal.rest_url,
            max_download_bytes=services.settings.max_source_bytes,
            webhook_url=webhook_url,
            storage=services.storage,
            poll_first_seconds=fal.poll_seconds,
            timeout_seconds=fal.timeout_seconds,
        )

    return BackendPlugin(
        name="fal",
        lane="fal",
        models=FAL_MODELS,
        create=create,
        configured=fal.key is not None,
        concurrency=fal.concurrency,
        router=webhook_router(fal),
    )
