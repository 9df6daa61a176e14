"""Settings: one typed object, read from the environment and an optional `vidgate.toml`."""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vidgate.media.limits import DEFAULT_MAX_SOURCE_PIXELS, DEFAULT_MAX_SOURCE_SECONDS, SourceLimits

# About a day of retries, as the Standard Webhooks guidance suggests.
DEFAULT_WEBHOOK_RETRY_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)


def _toml_path() -> Path:
    return Path(os.environ.get("VIDGATE_CONFIG", "vidgate.toml"))


class TomlTable(TomlConfigSettingsSource):
    """Settings from `vidgate.toml` (or `VIDGATE_CONFIG`): its top level for the server's own,
    a table of its own for each backend's (`[fal]`); a table the file does not have is empty."""

    def __init__(self, settings_cls: type[BaseSettings], table: str | None = None) -> None:
        path = _toml_path()
        found = table is None or (path.is_file() and isinstance(tomllib.loads(path.read_text()).get(table), dict))
        super().__init__(
            settings_cls,
            toml_file=path if found else None,
            toml_table_header=(table,) if table is not None and found else (),
        )


class TomlSettings(BaseSettings):
    """Settings read from arguments, then the environment, then `vidgate.toml`: its
    `toml_table` (a backend's, such as `[fal]`), or its top level when that is None."""

    toml_table: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlTable(settings_cls, cls.toml_table))


class Settings(TomlSettings):
    """Every setting of the server. Environment variables win over `vidgate.toml`."""

    model_config = SettingsConfigDict(env_prefix="VIDGATE_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default=Path("./vidgate-data"),
        description="Folder for the SQLite database and the generated videos.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "VIDGATE_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; default is a SQLite file in the data folder. "
        "postgresql:// URLs use asyncpg.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections one process keeps (it opens up to twice as many under "
        "load, plus a few for the queue and the job events): size the server's max_connections "
        "to the processes times that.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL put in front of output links (e.g. https://videos.example.com). "
        "Default: the URL the request came in on.",
    )
    host: str = Field(default="127.0.0.1", description="Address `vidgate serve` binds to.")
    port: int = Field(default=8000, description="Port `vidgate serve` listens on.")
    workers: int = Field(
        default=2, ge=1, le=64,
        description="Jobs rendered at the same time by one process that runs workers (the local lane).",
    )
    queue: Literal["auto", "embedded", "procrastinate"] = Field(
        default="auto",
        description="How jobs reach workers: embedded (in the server process, any database) or "
        "procrastinate (PostgreSQL: API and worker processes on any machines). auto: "
        "procrastinate on PostgreSQL, embedded on SQLite.",
    )
    storage: Literal["local", "s3"] = Field(
        default="local",
        description="Where outputs are kept: local (a folder in the data dir, served at /files) or "
        "s3 (an S3-compatible bucket; links are presigned when a job is read).",
    )
    s3_bucket: str | None = Field(default=None, description="The bucket outputs go to (storage s3).")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Where this server reaches the S3 API (e.g. http://minio:9000); unset for AWS.",
    )
    s3_public_url: str | None = Field(
        default=None,
        description="Where clients reach it, which the links name; default: s3_endpoint_url.",
    )
    s3_region: str = Field(default="us-east-1", description="The bucket's region.")
    s3_access_key_id: str | None = Field(
        default=None, description="Default: boto3's own chain (AWS_ACCESS_KEY_ID, instance role...)."
    )
    s3_secret_access_key: str | None = Field(default=None, description="Goes with s3_access_key_id.")
    s3_prefix: str = Field(default="", description="Put before every key, e.g. vidgate/.")
    link_seconds: int = Field(
        default=86_400,
        ge=1,
        le=7 * 86_400,
        description="How long an output link made when a job is read stays valid (S3: at most 7 "
        "days); long enough to play and seek a video. Local links do not expire.",
    )
    output_retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Delete a job's outputs this long after it completed (the job stays, and says "
        "when its outputs were deleted), and uploads this long after they were made. Unset: keep them.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines as JSON objects or as text; auto: JSON unless the output is a terminal.",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="Bring the database to the newest schema when a process starts. Off for "
        "scale-out: run `vidgate db upgrade` once per release; processes then refuse to start "
        "on an older schema.",
    )
    job_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A processing job whose worker has not renewed its lease for this long is "
        "taken back (the worker died).",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Times a job is started before it is failed for good."
    )
    sync_timeout_seconds: float = Field(
        default=900.0, gt=0, description="How long a sync POST waits for its video."
    )
    poll_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long `GET /jobs/{id}?poll=true` holds a request."
    )
    shutdown_seconds: float = Field(
        default=10.0,
        gt=0,
        description="The most a stop (SIGTERM, Ctrl-C) takes: work stops being claimed at once, "
        "held polls and sync requests are answered with the job as it stands, running jobs go "
        "back to the queue; connections still open are closed, and past this the process exits "
        "regardless.",
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long an authenticated key is remembered; a key revoked from the "
        "command line stops working within this time. 0 reads the key table on every request.",
    )
    rate_limit: str = Field(
        default="1200/minute",
        description="Requests one key may make (every endpoint that takes a key), in a sliding "
        "window: N/second, N/minute, N/hour or N/day, or none. A key may have its own "
        "(`vidgate keys create --rate-limit`, `vidgate keys limits`).",
    )
    generation_rate_limit: str = Field(
        default="120/minute",
        description="Generation requests one key may make, counted besides rate_limit; same form.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate limit counts are kept: memory:// (this process) or "
        "redis://HOST:PORT[/DB], which every API process of a scale-out must share, or each "
        "counts on its own.",
    )
    max_active_jobs_per_key: int = Field(
        default=100, ge=1, description="Pending plus processing jobs one key may have (429 past it)."
    )
    max_source_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="Largest source image or video accepted."
    )
    allow_private_sources: bool = Field(
        default=False,
        description="Let source_image / source_video URLs reach every address, private and "
        "local ones included. Off: only globally reachable addresses (and "
        "source_allowed_networks) are fetched.",
    )
    source_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="CIDR blocks source URLs may reach although they are not public, e.g. "
        "10.20.0.0/16 for a media server on the LAN; comma-separated in the environment.",
    )
    max_source_pixels: int = Field(
        default=DEFAULT_MAX_SOURCE_PIXELS,
        gt=0,
        description="Most pixels a source image may decode to (a large JPEG counts at the size "
        "it is decoded to, reduced to what the output needs), and most pixels of a source "
        "video's frame. Larger sources are refused before decoding.",
    )
    max_source_video_seconds: float = Field(
        default=DEFAULT_MAX_SOURCE_SECONDS,
        gt=0,
        description="Longest source video accepted, by the length its file declares.",
    )
    webhook_retry_seconds: Annotated[list[float], NoDecode] = Field(
        default=list(DEFAULT_WEBHOOK_RETRY_SECONDS),
        description="Waits between the attempts to deliver a webhook that failed (no 2xx answer), "
        "in seconds; it is given up after the last. Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, "
        "10 h (about 27 hours in all); comma-separated in the environment.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a webhook receiver has to answer one delivery."
    )
    webhook_concurrency: int = Field(
        default=32, ge=1, description="Webhook deliveries one worker process sends at once."
    )

    @field_validator("rate_limit", "generation_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from vidgate.auth.rate_limits import parse_limit

        parse_limit(value)
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        from vidgate.auth.rate_limits import storage_url

        storage_url(value)
        return value

    @field_validator("source_allowed_networks", "webhook_retry_seconds", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):  # the environment's comma-separated form
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_retry_seconds")
    @classmethod
    def _waits_positive(cls, value: list[float]) -> list[float]:
        if any(not math.isfinite(wait) or wait < 0 for wait in value):
            raise ValueError("waits between webhook attempts must be seconds, 0 or more")
        return value

    @field_validator("source_allowed_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a CIDR block such as 10.20.0.0/16: {exc}") from exc
        return value

    @property
    def source_limits(self) -> SourceLimits:
        return SourceLimits(self.max_source_pixels, self.max_source_video_seconds)

    @property
    def base_url(self) -> str:
        """Where clients reach this server: public_url, else the address it listens on."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.port}"

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("VIDGATE_STORAGE=s3 needs VIDGATE_S3_BUCKET")
        return self

    @property
    def uses_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def queued(self) -> bool:
        """Whether jobs go through procrastinate (else the embedded dispatcher)."""
        if self.queue == "auto":
            return self.uses_postgres
        if self.queue == "procrastinate" and not self.uses_postgres:
            raise ValueError("VIDGATE_QUEUE=procrastinate needs a PostgreSQL DATABASE_URL")
        return self.queue == "procrastinate"

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def job_heartbeat_seconds(self) -> float:
        """How often a running job's lease is renewed, and a worker process says it is alive:
        a third of the lease, so two beats can be missed before the job is taken back."""
        return self.job_lease_seconds / 3

    @property
    def sqlite_path(self) -> Path:
        """The embedded default's database file (used when DATABASE_URL is not set)."""
        return (self.data_dir / "vidgate.db").resolve()

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def work_dir(self) -> Path:
        """Scratch space for downloads and renders in progress."""
        return self.data_dir / "work"


def normalise_database_url(url: str) -> str:
    """Pick the async driver for the URL forms people paste (postgres://, sqlite:///)."""
    replacements = {
        "postgres://": "postgresql+asyncpg://",
        "postgresql://": "postgresql+asyncpg://",
        "sqlite://": "sqlite+aiosqlite://",
    }
    for prefix, replacement in replacements.items():
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


class SettingsError(ValueError):
    """A setting that cannot be used, said in one line per setting: which, where, and why."""


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a SettingsError naming each wrong one (a value that does not parse, a
    key `vidgate.toml` has that no setting is called)."""
    problems = _unknown_toml_keys()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems += [_explain(error) for error in exc.errors()]
        settings = None
    if problems or settings is None:
        raise SettingsError("\n".join(problems))
    return settings


def _unknown_toml_keys() -> list[str]:
    """Top-level keys of vidgate.toml that are no setting (tables belong to backends)."""
    path = _toml_path()
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        return [f"{path}: not valid TOML: {exc}"]
    known = set(Settings.model_fields)
    unknown = [key for key, value in document.items() if not isinstance(value, dict) and key not in known]
    return [f"{path}: unknown setting {key!r}{_did_you_mean(key, known)}" for key in unknown]


def _did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(error: Any) -> str:
    """One validation error as the setting's environment variable, its value and why."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    env = "DATABASE_URL" if name == "database_url" else f"VIDGATE_{name.upper()}"
    where = f"{env} (or {name} in {_toml_path()})" if name in Settings.model_fields else name
    given = f", got {error['input']!r}" if not isinstance(error.get("input"), dict) else ""
    return f"{where}: {error['msg']}{given}"
