"""Wire shapes of the API. Requests and sync responses are snake_case; job objects are
camelCase, as in NovaKit's documentation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vidgate.media.dimensions import ASPECT_RATIOS, AUTO_ASPECT_RATIO, DEFAULT_ASPECT_RATIO
from vidgate.media.fetch import check_source_url
from vidgate.webhooks.urls import check_webhook_url

Resolution = Literal["720p", "1080p", "4k"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "auto"]
Mode = Literal["text_to_video", "image_to_video", "video_to_video"]
JobStatusName = Literal["pending", "processing", "completed", "failed", "cancelled"]

MAX_PROMPT_CHARS = 2000
MAX_URL_CHARS = 16 * 1024 * 1024  # data: URIs included
MAX_SEED = 2**32 - 1


# Keys of a property schema that describe it rather than constrain it.
_ANNOTATIONS = ("title", "description", "default", "examples")


def optional_fields_nullable(schema: dict[str, Any]) -> None:
    """Mark every optional property as also accepting null, as `_null_means_absent` does."""
    required = set(schema.get("required", ()))
    properties = schema.get("properties", {})
    for name, prop in properties.items():
        if name not in required and not _allows_null(prop):
            notes = {key: prop[key] for key in _ANNOTATIONS if key in prop}
            rest = {key: value for key, value in prop.items() if key not in _ANNOTATIONS}
            properties[name] = {"anyOf": [rest, {"type": "null"}], **notes}


def _allows_null(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(option.get("type") == "null" for option in options)


class GenerationRequest(BaseModel):
    """Body of `POST /videos/generations`. An explicit `null` means the default."""

    model_config = ConfigDict(
        strict=True, extra="forbid", allow_inf_nan=False, json_schema_extra=optional_fields_nullable
    )

    prompt: str = Field(
        description="Text description of the video",
        max_length=MAX_PROMPT_CHARS,
        # enforced by _prompt_not_blank, whose message is clearer than pydantic's
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
    model: str | None = Field(
        default=None,
        json_schema_extra={"minLength": 1},  # "" is an unknown model, not the default
        description="Model ID; default depends on the mode (text: fal-ai/minimax/video-01, "
        "image: fal-ai/minimax/video-01/image-to-video, video: vidgate/local)",
    )
    duration_seconds: float = Field(default=5, description="Video duration in seconds")
    resolution: Resolution = "720p"
    fps: Literal[30, 60] = 30
    aspect_ratio: AspectRatio | None = Field(
        default=None,
        description="16:9, 9:16, 1:1, 4:3 or 3:4; or auto: the source image's or video's own shape "
        "(the nearest of those where the model needs one). Default: 16:9 in text_to_video, auto in "
        "image_to_video and video_to_video. The job reports the width and height it really has.",
    )
    mode: Mode = "text_to_video"
    source_image: str | None = Field(default=None, description="Image URL for image-to-video")
    source_video: str | None = Field(default=None, description="Video URL for video-to-video")
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Random seed (a whole number; 42.0 is 42)"
    )
    prompt_optimizer: bool = True
    loop: bool = False
    webhook_url: str | None = Field(
        default=None,
        description="Where to send this job's events (generation.started, generation.completed, "
        "generation.failed, generation.cancelled), signed with the API key's webhook secret by "
        "the Standard Webhooks scheme. Default: the key's webhook URL, if it has one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is required")
        return value

    @field_validator("prompt", "model", "negative_prompt", "source_image", "source_video", "webhook_url")
    @classmethod
    def _no_nul(cls, value: str, info: Any) -> str:
        # PostgreSQL cannot store NUL in text or JSON, and no prompt or URL needs one
        if "\x00" in value:
            raise ValueError(f"{info.field_name} must not contain NUL characters")
        return value

    @field_validator("seed", mode="before")
    @classmethod
    def _integral_seed(cls, value: Any) -> Any:
        """JSON has one number type: 42.0 is the seed 42 (42.5 is refused as no integer)."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("fps", mode="after")
    @classmethod
    def _fps_int(cls, value: float) -> int:
        return int(value)

    @field_validator("source_image", "source_video")
    @classmethod
    def _source_url(cls, value: str, info: Any) -> str:
        if len(value) > MAX_URL_CHARS:
            raise ValueError(f"{info.field_name} is too long")
        problem = check_source_url(value)
        if problem:
            raise ValueError(f"{info.field_name} {problem}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        problem = check_webhook_url(value)
        if problem:
            raise ValueError(f"webhook_url {problem}")
        return value

    @model_validator(mode="after")
    def _source_for_mode(self) -> GenerationRequest:
        if self.mode == "image_to_video" and self.source_image is None:
            raise ValueError("source_image is required for image_to_video")
        if self.mode == "video_to_video" and self.source_video is None:
            raise ValueError("source_video is required for video_to_video")
        if self.aspect_ratio is None:
            self.aspect_ratio = DEFAULT_ASPECT_RATIO if self.mode == "text_to_video" else AUTO_ASPECT_RATIO
        elif self.aspect_ratio == AUTO_ASPECT_RATIO and self.mode == "text_to_video":
            raise ValueError(
                "aspect_ratio auto follows a source image or video, and text_to_video has none: "
                f"choose one of {', '.join(ASPECT_RATIOS)}"
            )
        return self


# The request /docs shows first: it renders on this machine whatever the key, so it succeeds
# as sent from "Try it out".
GENERATION_EXAMPLE: dict[str, Any] = {
    "prompt": "Ocean waves crashing on rocks at sunset",
    "model": "vidgate/local",
    "duration_seconds": 5,
    "resolution": "720p",
    "fps": 30,
    "aspect_ratio": "16:9",
}
SEED_EXAMPLE: dict[str, Any] = {  # the seed's own request, for fal.ai (or a sandbox key)
    "prompt": "A timelapse of a flower blooming",
    "model": "fal-ai/minimax/video-01",
    "duration_seconds": 5,
    "resolution": "720p",
    "negative_prompt": "blurry, static",
}
_JOB_ID = "job_01a24bb264a53aab19b7ff24"
_VIDEO_URL = f"http://127.0.0.1:8000/files/{_JOB_ID}/3q2-7Xr0pYk/video.mp4"
_POSTER_URL = f"http://127.0.0.1:8000/files/{_JOB_ID}/3q2-7Xr0pYk/poster.jpg"
_VIDEO_EXAMPLE: dict[str, Any] = {"url": _VIDEO_URL, "duration_seconds": 5.0, "width": 1280, "height": 720,
                                  "thumbnail_url": _POSTER_URL, "url_expires_at": None}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ErrorBody(BaseModel):
    model_config = _examples({"error": "duration_seconds must be between 1 and 6 for model fal-ai/minimax/video-01"})

    error: str


_EXPIRES = "When `url` and `thumbnail_url` stop working (ISO 8601); null when they do not expire"


class VideoData(BaseModel):
    model_config = _examples(_VIDEO_EXAMPLE)

    url: str | None = Field(description="The video; null once retention has deleted it")
    duration_seconds: float
    width: int
    height: int
    thumbnail_url: str | None = Field(default=None, description="A JPEG poster of the video")
    url_expires_at: str | None = Field(default=None, description=_EXPIRES)


class Usage(BaseModel):
    credits_used: int
    seconds_used: int
    seconds_remaining: int
    credits_remaining: int


class GenerationResponse(BaseModel):
    model_config = _examples({
        "id": _JOB_ID, "created": 1796565616,
        "data": _VIDEO_EXAMPLE,
        "model": "vidgate/local", "model_tier": "basic", "provider": "local",
        "usage": {"credits_used": 50, "seconds_used": 5, "seconds_remaining": 595, "credits_remaining": 9950},
    })

    id: str
    created: int
    data: VideoData
    model: str
    model_tier: str
    provider: str
    usage: Usage


class AsyncGenerationResponse(BaseModel):
    model_config = _examples({"id": _JOB_ID, "status": "pending", "created": 1796565616, "model": "vidgate/local",
                              "estimated_credits": 50, "provider": "local"})

    id: str
    status: Literal["pending", "processing", "completed", "failed", "cancelled"] = Field(
        description='"pending" for a new job; a replayed Idempotency-Key shows its job\'s status'
    )
    created: int
    model: str
    estimated_credits: int
    provider: str


class JobVideo(BaseModel):
    url: str | None = Field(description="The video; null once retention has deleted it")
    thumbnail_url: str | None = None
    url_expires_at: str | None = Field(default=None, description=_EXPIRES)
    width: int
    height: int
    duration_seconds: float
    fps: float


class JobOutput(BaseModel):
    video: JobVideo
    seed: int | None = None
    provider: str | None = None
    optimized_prompt: str | None = Field(
        default=None, description="The prompt as rendered, when prompt_optimizer expanded it"
    )


JOB_EXAMPLE: dict[str, Any] = {
    "id": _JOB_ID, "userId": "api", "tool": "video", "status": "completed", "progress": 100, "queuePosition": None,
    "inputParams": {**GENERATION_EXAMPLE, "mode": "text_to_video", "seed": 3093625105, "prompt_optimizer": True,
                    "loop": False, "negative_prompt": None, "source_image": None, "source_video": None},
    "outputData": {
        "video": {**_VIDEO_EXAMPLE, "fps": 30.0},
        "seed": 3093625105, "provider": "local",
        "optimized_prompt": "Ocean waves crashing on rocks at sunset, cinematic, smooth camera motion",
    },
    "estimatedCredits": 50, "actualCredits": 50, "createdAt": "2026-12-06T14:00:16Z",
    "completedAt": "2026-12-06T14:00:19Z", "model": "vidgate/local", "modelTier": "basic", "provider": "local",
    "errorMessage": None, "outputsDeletedAt": None,
}


class JobOut(BaseModel):
    model_config = _examples(JOB_EXAMPLE)

    id: str
    userId: str
    tool: str
    status: JobStatusName
    progress: int
    queuePosition: int | None = Field(
        default=None, description="A pending job's place in its lane's queue (1: the next to start); "
        "null once it has started"
    )
    inputParams: dict[str, Any]
    outputData: JobOutput | None
    estimatedCredits: int
    actualCredits: int | None
    createdAt: str
    completedAt: str | None
    model: str
    modelTier: str
    provider: str
    errorMessage: str | None
    outputsDeletedAt: str | None = Field(
        default=None, description="When retention deleted the job's outputs (ISO 8601)"
    )


class JobList(BaseModel):
    model_config = _examples({"jobs": [JOB_EXAMPLE]})

    jobs: list[JobOut]


WEBHOOK_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "msg_019af3b2c4d1a4be6f0c2d9e", "event": "generation.completed", "jobAttempt": 1,
    "url": "https://example.com/hooks/vidgate", "status": "delivered", "attempts": 1,
    "createdAt": "2026-12-06T14:00:19.412Z", "lastAttemptAt": "2026-12-06T14:00:19.430Z",
    "lastStatusCode": 204, "lastError": None, "nextAttemptAt": None, "deliveredAt": "2026-12-06T14:00:19.430Z",
}


class WebhookDeliveryOut(BaseModel):
    model_config = _examples(WEBHOOK_DELIVERY_EXAMPLE)

    id: str = Field(description="Sent as the `webhook-id` header, the same on every retry")
    event: Literal["generation.started", "generation.completed", "generation.failed", "generation.cancelled"]
    jobAttempt: int = Field(description="The run of the job the event tells of (a job taken over "
                            "from a worker that stopped starts again: a second generation.started)")
    url: str
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: to be sent (again at nextAttemptAt); delivered: answered 2xx; "
        "failed: every attempt failed, given up"
    )
    attempts: int = Field(description="Sends tried so far")
    createdAt: str
    lastAttemptAt: str | None
    lastStatusCode: int | None = Field(description="The receiver's HTTP status at the last attempt")
    lastError: str | None = Field(description="Why the last attempt failed")
    nextAttemptAt: str | None = Field(description="When a pending delivery is sent next")
    deliveredAt: str | None


class WebhookDeliveryList(BaseModel):
    model_config = _examples({"webhooks": [WEBHOOK_DELIVERY_EXAMPLE]})

    webhooks: list[WebhookDeliveryOut]


class QuotaBucket(BaseModel):
    limit: int
    used: int
    reserved: int
    remaining: int


class QuotaOut(BaseModel):
    model_config = _examples({
        "key_id": "key_5f1c0e9a7b3d2e41", "name": "my app", "sandbox": False, "scopes": ["jobs", "usage", "video"],
        "quotas": {"credits": {"limit": 10000, "used": 50, "reserved": 0, "remaining": 9950},
                   "video_seconds": {"limit": 600, "used": 5, "reserved": 0, "remaining": 595}},
    })

    key_id: str
    name: str
    sandbox: bool
    scopes: list[str]
    quotas: dict[str, QuotaBucket]


class DurationRange(BaseModel):
    min: float
    max: float


class ModelLimit(BaseModel):
    when: dict[str, list[str | int]] = Field(description="The parameter value that narrows the lengths")
    output_durations: list[int] = Field(description="The clip lengths (s) made with that value")


class ModelPricing(BaseModel):
    credits_per_second: int
    quota_multiplier: float = Field(description="Price relative to the basic tier")
    billing: str


LOCAL_MODEL_EXAMPLE: dict[str, Any] = {
    "id": "vidgate/local", "object": "model", "title": "vidgate local engine",
    "best_for": "Offline renders on this machine; free of any provider account", "provider": "local",
    "tier": "basic", "modes": ["text_to_video", "image_to_video", "video_to_video"],
    "duration_seconds": {"min": 1.0, "max": 60}, "resolutions": ["720p", "1080p", "4k"], "fps": [30, 60],
    "aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"], "ignores": [], "output_durations": None,
    "limits": [], "pricing": {"credits_per_second": 10, "quota_multiplier": 0.2, "billing": "per started second"},
}


class ModelOut(BaseModel):
    model_config = _examples(LOCAL_MODEL_EXAMPLE)

    id: str
    object: Literal["model"]
    title: str
    best_for: str
    provider: str = Field(description="The backend that serves it for live keys (sandbox keys: local)")
    tier: str
    modes: list[Mode]
    duration_seconds: DurationRange
    resolutions: list[str]
    fps: list[int]
    aspect_ratios: list[str] = Field(description="Besides auto (the source's shape) in the source modes")
    ignores: list[str] = Field(description="Parameters accepted without effect: the model has no control for them")
    output_durations: list[int] | None = Field(description="The clip lengths it makes; null: any length in range")
    limits: list[ModelLimit]
    pricing: ModelPricing


class ModelList(BaseModel):
    model_config = _examples({
        "object": "list",
        "defaults": {"text_to_video": "fal-ai/minimax/video-01",
                     "image_to_video": "fal-ai/minimax/video-01/image-to-video", "video_to_video": "vidgate/local"},
        "data": [LOCAL_MODEL_EXAMPLE],
    })

    object: Literal["list"]
    defaults: dict[str, str] = Field(description="The model each mode uses when a request names none")
    data: list[ModelOut]


class Health(BaseModel):
    model_config = _examples({"status": "ok"})

    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = _examples(
        {"ready": True, "checks": {"database": "ok", "queue": "ok", "storage": "ok", "events": "ok"}},
        {"error": "Not ready: database unreachable", "ready": False,
         "checks": {"database": "unreachable: no answer within 3 s", "queue": "ok", "storage": "ok", "events": "ok"}},
    )

    error: str | None = Field(default=None, description="What is unreachable (with a 503)")
    ready: bool
    checks: dict[str, str] = Field(description='Each dependency: "ok" or why it is unreachable')


class WebhookAck(BaseModel):
    model_config = _examples({"ok": True})

    ok: bool


_UPLOAD_EXAMPLE = {
    "id": "file_019ae5c1a2b3c4d5e6f70812", "object": "file", "kind": "image", "use_as": "source_image",
    "filename": "portrait.png", "content_type": "image/png", "bytes": 48213, "width": 720,
    "height": 960, "duration_seconds": None,
    "url": "http://127.0.0.1:8000/files/file_019ae5c1a2b3c4d5e6f70812/Qm9keS1zb3VyY2U/source.png",
    "url_expires_at": None, "created_at": "2026-12-06T17:20:01.512Z",
}


class UploadOut(BaseModel):
    model_config = _examples(_UPLOAD_EXAMPLE)

    id: str
    object: Literal["file"]
    kind: Literal["image", "video"]
    use_as: Literal["source_image", "source_video"] = Field(
        description="The generation request field that takes `url`"
    )
    filename: str = Field(description="The name the file was uploaded under")
    content_type: str
    bytes: int
    width: int = Field(description="As shown: an image's EXIF rotation is applied")
    height: int
    duration_seconds: float | None = Field(description="A video's length; null for an image")
    url: str = Field(description="Give it as `source_image` or `source_video` (the link itself is "
                     "the credential, as with outputs)")
    url_expires_at: str | None = Field(description="When `url` stops working; null when it does not expire")
    created_at: str


class UploadList(BaseModel):
    model_config = _examples({"object": "list", "data": [_UPLOAD_EXAMPLE], "has_more": False,
                              "last_id": _UPLOAD_EXAMPLE["id"]})

    object: Literal["list"]
    data: list[UploadOut]
    has_more: bool = Field(description="More uploads follow: ask again with after=last_id")
    last_id: str | None = Field(description="The id of the page's last (oldest) upload")


class UploadDeleted(BaseModel):
    model_config = _examples({"id": "file_019ae5c1a2b3c4d5e6f70812", "object": "file", "deleted": True})

    id: str
    object: Literal["file"]
    deleted: Literal[True]
