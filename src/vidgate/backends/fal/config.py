"""The fal backend's settings: `FAL_KEY` and `VIDGATE_FAL_*` in the environment, or a `[fal]`
table in `vidgate.toml` (`key = "..."`, `queue_url = "..."`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from vidgate.config import TomlSettings


class FalSettings(TomlSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGATE_FAL_", extra="ignore", populate_by_name=True)
    toml_table = "fal"

    key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FAL_KEY", "VIDGATE_FAL_KEY", "key"),
        description="fal.ai API key; without it, live keys cannot use fal models.",
    )
    queue_url: str = Field(
        default="https://queue.fal.run", description="fal's queue API; tests point it at a local fake."
    )
    rest_url: str = Field(default="https://rest.fal.ai", description="fal's REST API, for uploads to its CDN.")
    poll_seconds: float = Field(
        default=0.5, gt=0, description="First wait between fal status polls (it backs off to 5 s)."
    )
    timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A fal request not finished this long after its submit is cancelled at fal "
        "and its job failed (reservation released).",
    )
    jwks_url: str = Field(
        default="https://rest.alpha.fal.ai/.well-known/jwks.json",
        description="Where fal publishes the keys that sign its webhooks.",
    )
    concurrency: int = Field(
        default=200,
        ge=1,
        description="fal jobs one worker process waits on at once (each is a request at fal and "
        "a few KB of memory here).",
    )
