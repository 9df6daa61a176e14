"""OpenAI's videos API shapes (`/v1/videos`, as the `openai` package and gateways speak it),
translated to and from vidgate's generation requests and jobs.

The same jobs, keys, credits and catalog serve both APIs: a video made through one is a job
visible through the other, and its id is the job's id.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vidgate.catalog import DEFAULT_MODEL_BY_MODE, Catalog, ModelSpec
from vidgate.errors import BadRequest
from vidgate.jobs.models import Job, JobStatus
from vidgate.media.dimensions import AUTO_ASPECT_RATIO, output_dimensions

OPENAI_PREFIX = "/v1"  # where the OpenAI-shaped API is served
# How often the SDK's poller asks again while a video is queued or in progress.
POLL_AFTER_MS = 1000
# OpenAI's model names: code written for them gets the default model of its mode here.
OPENAI_MODEL_PREFIX = "sora-"

STATUS = {
    JobStatus.PENDING: "queued",
    JobStatus.PROCESSING: "in_progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


class ImageReference(BaseModel):
    """The image to start from: a URL (or data: URI), or an upload of this key (POST /api/v1/files)."""

    model_config = ConfigDict(extra="forbid")

    image_url: str | None = None
    file_id: str | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> ImageReference:
        if (self.image_url is None) == (self.file_id is None):
            raise ValueError("give one of image_url and file_id")
        return self


class CreateVideo(BaseModel):
    """What `POST /v1/videos` takes, as a multipart form (the SDK) or JSON."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    prompt: str = Field(min_length=1, max_length=10_000)
    model: str | None = Field(default=None, description="A model id of GET /api/v1/models; "
                              "sora-* and none mean the default model of the mode")
    seconds: str | None = Field(default=None, description='Duration in seconds, as a string ("4")')
    size: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1280x720 or 720x1280")
    input_reference: ImageReference | None = None

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class RemixVideo(BaseModel):
    """What `POST /v1/videos/{id}/remix` takes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"prompt": "the same waves, at night"}]})

    prompt: str = Field(min_length=1, max_length=10_000, description="What the remade video shows")


def remix_params(original: Job, prompt: str, source_video: str) -> dict[str, Any]:
    """A video-to-video request that remakes `original`'s video (at `source_video`) with
    `prompt`, at its duration, resolution and fps."""
    video = (original.output_data or {}).get("video") or {}
    params = original.input_params
    return {
        "prompt": prompt,
        "mode": "video_to_video",
        "model": DEFAULT_MODEL_BY_MODE["video_to_video"],
        "source_video": source_video,
        "duration_seconds": float(video.get("duration_seconds") or params.get("duration_seconds", 5)),
        "resolution": params.get("resolution", "720p"),
        "fps": params.get("fps", 30),
    }


def parse_create(fields: dict[str, Any]) -> CreateVideo:
    try:
        return CreateVideo.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise BadRequest(f"{where}: {error['msg']}", param=where) from exc


def generation_params(create: CreateVideo, catalog: Catalog, *, source_image: str | None) -> dict[str, Any]:
    """The vidgate generation request that `create` asks for (with `source_image`, an
    image-to-video one)."""
    mode = "image_to_video" if source_image is not None else "text_to_video"
    model = create.model
    if model is None or model.startswith(OPENAI_MODEL_PREFIX):
        model = DEFAULT_MODEL_BY_MODE[mode]
    params: dict[str, Any] = {"prompt": create.prompt, "model": model, "mode": mode}
    if source_image is not None:
        params["source_image"] = source_image
    if create.seconds is not None:
        params["duration_seconds"] = _seconds(create.seconds)
    if create.size is not None:
        spec = catalog.get(model)
        if spec is None:
            raise BadRequest(f"Invalid model: {model}. GET /api/v1/models lists the models", param="model")
        params["resolution"], params["aspect_ratio"] = resolution_for_size(create.size, spec)
    return params


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise BadRequest(f"seconds must be a number of seconds, not {text!r}", param="seconds") from None
    if not 0 < seconds < 1e6:
        raise BadRequest("seconds must be a positive number of seconds", param="seconds")
    return seconds


def resolution_for_size(size: str, spec: ModelSpec) -> tuple[str, str]:
    """The resolution and aspect ratio of `spec` that make `size` (WIDTHxHEIGHT); BadRequest
    listing the sizes it makes otherwise."""
    made = {
        "{}x{}".format(*output_dimensions(resolution, aspect)): (resolution, aspect)
        for resolution in spec.resolutions
        for aspect in spec.aspect_ratios
    }
    if size not in made:
        raise BadRequest(f"size {size} is not one {spec.id} makes; it makes {', '.join(made)}", param="size")
    return made[size]


def video_object(job: Job) -> dict[str, Any]:
    """A job as OpenAI's video object."""
    status = JobStatus(job.status)
    params = job.input_params
    video = (job.output_data or {}).get("video") or {}
    return {
        "id": job.id,
        "object": "video",
        "created_at": int(job.created_at.timestamp()),
        "completed_at": int(job.completed_at.timestamp()) if job.completed_at else None,
        "expires_at": None,
        "error": _error(job, status),
        "model": job.model,
        "progress": job.progress,
        "prompt": params.get("prompt"),
        "remixed_from_video_id": job.remix_of,
        "seconds": _format_seconds(video.get("duration_seconds") or params.get("duration_seconds")),
        "size": _size(params, video),
        "status": STATUS[status],
    }


def _error(job: Job, status: JobStatus) -> dict[str, str] | None:
    if status is JobStatus.CANCELLED:
        return {"code": "cancelled", "message": "The video was cancelled"}
    if status is JobStatus.FAILED:
        return {"code": job.error_kind or "failed", "message": job.error_message or "The video failed"}
    return None


def _format_seconds(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _size(params: dict[str, Any], video: dict[str, Any]) -> str | None:
    if video.get("width") and video.get("height"):
        return f"{video['width']}x{video['height']}"
    aspect = params.get("aspect_ratio")
    if aspect is None or aspect == AUTO_ASPECT_RATIO:
        return None  # the source's shape: known once the video is made
    return "{}x{}".format(*output_dimensions(params.get("resolution", "720p"), aspect))


ERROR_TYPES = {401: "authentication_error", 402: "insufficient_quota", 403: "permission_error",
               404: "not_found_error", 429: "rate_limit_exceeded"}


def openai_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An error body of the API's form ({"error": "...", extras}) in OpenAI's."""
    message = body.get("error")
    return {"error": {
        "message": message if isinstance(message, str) else "Request failed",
        "type": ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error"),
        "param": body.get("param"),
        "code": body.get("code"),
    }}


_VIDEO_EXAMPLE = {
    "id": "job_019ae5c1a2b3c4d5e6f70812", "object": "video", "created_at": 1796565616,
    "completed_at": 1796565629, "expires_at": None, "error": None, "model": "vidgate/local",
    "progress": 100, "prompt": "ocean waves at sunset", "remixed_from_video_id": None, "seconds": "4",
    "size": "1280x720", "status": "completed",
}


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_VIDEO_EXAMPLE]})

    id: str = Field(description="The job's id: the same job in /api/v1/jobs")
    object: Literal["video"]
    created_at: int
    completed_at: int | None
    expires_at: int | None
    error: VideoError | None
    model: str
    progress: int
    prompt: str | None
    remixed_from_video_id: str | None
    seconds: str | None
    size: str | None = Field(description="WIDTHxHEIGHT; null until made when it follows the input image")
    status: Literal["queued", "in_progress", "completed", "failed"]


class VideoList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "object": "list", "data": [_VIDEO_EXAMPLE], "first_id": _VIDEO_EXAMPLE["id"],
        "last_id": _VIDEO_EXAMPLE["id"], "has_more": False,
    }]})

    object: Literal["list"]
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": _VIDEO_EXAMPLE["id"], "object": "video.deleted", "deleted": True}]})

    id: str
    object: Literal["video.deleted"]
    deleted: Literal[True]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "message": "size 1024x1792 is not one vidgate/local makes; it makes 1280x720, 720x1280, ...",
        "type": "invalid_request_error", "param": "size", "code": None}}]})

    error: OpenAIErrorDetail

