"""Each fal model's own input, built from the seed's generic parameters.

Only the fields a model has are sent (its schema may refuse others). Where a model offers a
fixed set of values, the nearest one is used (a tie goes to the shorter or smaller, which
costs less); the job then reports what the output really has, probed from the file. The
lengths each model makes live in the catalog (`ModelSpec.output_durations`), which also
refuses the combinations a model does not make before anything is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vidgate.backends.base import VideoRequest
from vidgate.backends.fal.models import FAL_CATALOG
from vidgate.catalog.models import ModelSpec, nearest

Params = dict[str, Any]
Builder = Callable[[ModelSpec, VideoRequest], Params]

__all__ = ["BUILDERS", "RATIO_FROM_SOURCE", "model_input", "nearest"]

# Height of each resolution name, ours and the models' own spellings.
_HEIGHTS = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080, "1440p": 1440,
            "2160p": 2160, "4k": 2160}


def _seconds(spec: ModelSpec, request: VideoRequest, suffix: str = "") -> str:
    return f"{int(spec.output_duration(float(request.duration_seconds)))}{suffix}"


def _resolution(request: VideoRequest, options: Sequence[str]) -> str:
    """The model's resolution (as it spells it) nearest the requested one."""
    by_height = {_HEIGHTS[option]: option for option in options}
    return by_height[int(nearest(_HEIGHTS[request.resolution], list(by_height)))]


def _base(request: VideoRequest, *, image: bool = False, optimizer: bool = False) -> Params:
    body: Params = {"prompt": request.prompt}
    if image:
        body["image_url"] = request.source_image
    if optimizer:
        body["prompt_optimizer"] = request.prompt_optimizer
    return body


def _optional(body: Params, request: VideoRequest, *names: str) -> Params:
    for name in names:
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    return body


def _minimax(spec: ModelSpec, request: VideoRequest) -> Params:
    return _base(request, optimizer=True)


def _minimax_i2v(spec: ModelSpec, request: VideoRequest) -> Params:
    return _base(request, image=True, optimizer=True)


def _hailuo_02(spec: ModelSpec, request: VideoRequest) -> Params:
    return {**_base(request, optimizer=True), "duration": _seconds(spec, request)}


def _veo3(spec: ModelSpec, request: VideoRequest) -> Params:
    body = {
        **_base(request),
        "aspect_ratio": request.aspect_ratio,
        "duration": _seconds(spec, request, "s"),
        "resolution": _resolution(request, ("720p", "1080p")),
        "generate_audio": False,  # audio doubles the price and the API has no audio field
    }
    return _optional(body, request, "negative_prompt", "seed")


def _veo2_i2v(spec: ModelSpec, request: VideoRequest) -> Params:
    return {**_base(request, image=True), "duration": _seconds(spec, request, "s")}


def _kling_t2v(spec: ModelSpec, request: VideoRequest) -> Params:
    body = {**_base(request), "duration": _seconds(spec, request), "aspect_ratio": request.aspect_ratio}
    return _optional(body, request, "negative_prompt")


def _kling_i2v(spec: ModelSpec, request: VideoRequest) -> Params:
    body = {**_base(request, image=True), "duration": _seconds(spec, request)}
    return _optional(body, request, "negative_prompt")


def _pixverse(spec: ModelSpec, request: VideoRequest) -> Params:
    body = {
        **_base(request),
        "aspect_ratio": request.aspect_ratio,
        "duration": _seconds(spec, request),
        "resolution": _resolution(request, ("360p", "540p", "720p", "1080p")),
    }
    return _optional(body, request, "negative_prompt", "seed")


def _ltx2_fast(spec: ModelSpec, request: VideoRequest) -> Params:
    return {
        **_base(request),
        "duration": _seconds(spec, request),
        "resolution": _resolution(request, ("1080p", "1440p", "2160p")),
        "aspect_ratio": "16:9",
        "fps": "50" if request.fps == 60 else "25",
        "generate_audio": False,
    }


def _wan_pro(spec: ModelSpec, request: VideoRequest) -> Params:
    return _optional(_base(request, image=True), request, "seed")


def _seedance(spec: ModelSpec, request: VideoRequest) -> Params:
    body = {
        **_base(request, image=True),
        "aspect_ratio": request.aspect_ratio,
        "resolution": _resolution(request, ("480p", "720p", "1080p")),
        "duration": _seconds(spec, request),
    }
    return _optional(body, request, "seed")


def _luma_ray2(spec: ModelSpec, request: VideoRequest) -> Params:
    return {
        **_base(request),
        "aspect_ratio": request.aspect_ratio,
        "duration": _seconds(spec, request, "s"),
        "resolution": _resolution(request, ("540p", "720p", "1080p")),
        "loop": request.loop,
    }


def _luma_ray2_i2v(spec: ModelSpec, request: VideoRequest) -> Params:
    """Only the image-to-video endpoints take an image (a first frame)."""
    return {**_luma_ray2(spec, request), "image_url": request.source_image}


BUILDERS: dict[str, Builder] = {
    "fal-ai/luma-dream-machine/ray-2": _luma_ray2,
    "fal-ai/luma-dream-machine/ray-2-flash": _luma_ray2,
    "fal-ai/luma-dream-machine/ray-2/image-to-video": _luma_ray2_i2v,
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": _luma_ray2_i2v,
    "fal-ai/minimax/video-01": _minimax,
    "fal-ai/minimax/hailuo-02/standard/text-to-video": _hailuo_02,
    "fal-ai/veo3": _veo3,
    "fal-ai/veo3/fast": _veo3,
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": _kling_t2v,
    "fal-ai/kling-video/v2/master/text-to-video": _kling_t2v,
    "fal-ai/pixverse/v5.5/text-to-video": _pixverse,
    "fal-ai/ltx-2/text-to-video/fast": _ltx2_fast,
    "fal-ai/minimax/video-01/image-to-video": _minimax_i2v,
    "fal-ai/veo2/image-to-video": _veo2_i2v,
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": _kling_i2v,
    "fal-ai/wan-pro/image-to-video": _wan_pro,
    "fal-ai/minimax/hailuo-2.3/pro/image-to-video": _minimax_i2v,
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": _seedance,
}


# Image-to-video models that are sent a ratio and have no `auto` of their own: aspect ratio
# auto becomes the ratio nearest the source image before their input is built. The others
# follow the image by themselves (no aspect control, or `auto`, Seedance's default).
RATIO_FROM_SOURCE = frozenset({
    "fal-ai/luma-dream-machine/ray-2/image-to-video",
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
})


def model_input(request: VideoRequest) -> Params:
    """The JSON body fal's queue expects for the request's model."""
    return BUILDERS[request.model](FAL_CATALOG[request.model], request)
