"""Each fal model's own input, built from the seed's generic parameters.

Only the fields a model has are sent (its schema may refuse others). Where a model offers a
fixed set of values, the nearest one is used (a tie goes to the shorter or smaller, which
costs less); the job then reports what the output really has, probed from the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Params = dict[str, Any]


def nearest(value: float, options: Sequence[float]) -> float:
    """The option closest to value; ties go to the smaller.

    >>> nearest(5, [4, 6, 8])
    4
    >>> nearest(7.5, [5, 10])
    10
    """
    return min(options, key=lambda option: (abs(option - value), option))


def _seconds(params: Params, options: Sequence[int], suffix: str = "") -> str:
    return f"{int(nearest(float(params['duration_seconds']), options))}{suffix}"


def _base(params: Params, *, image: bool = False, optimizer: bool = False) -> Params:
    body: Params = {"prompt": params["prompt"]}
    if image:
        body["image_url"] = params["source_image"]
    if optimizer:
        body["prompt_optimizer"] = params["prompt_optimizer"]
    return body


def _optional(body: Params, params: Params, *names: str) -> Params:
    for name in names:
        if params.get(name) is not None:
            body[name] = params[name]
    return body


def _minimax(params: Params) -> Params:
    return _base(params, optimizer=True)


def _minimax_i2v(params: Params) -> Params:
    return _base(params, image=True, optimizer=True)


def _hailuo_02(params: Params) -> Params:
    return {**_base(params, optimizer=True), "duration": _seconds(params, (6, 10))}


def _veo3(params: Params) -> Params:
    body = {
        **_base(params),
        "aspect_ratio": params["aspect_ratio"],
        "duration": _seconds(params, (4, 6, 8), "s"),
        "resolution": "1080p" if params["resolution"] != "720p" else "720p",
        "generate_audio": False,  # audio doubles the price and the API has no audio field
    }
    return _optional(body, params, "negative_prompt", "seed")


def _veo2_i2v(params: Params) -> Params:
    return {**_base(params, image=True), "duration": _seconds(params, (5, 6, 7, 8), "s")}


def _kling_t2v(params: Params) -> Params:
    body = {**_base(params), "duration": _seconds(params, (5, 10)), "aspect_ratio": params["aspect_ratio"]}
    return _optional(body, params, "negative_prompt")


def _kling_i2v(params: Params) -> Params:
    body = {**_base(params, image=True), "duration": _seconds(params, (5, 10))}
    return _optional(body, params, "negative_prompt")


def _pixverse(params: Params) -> Params:
    resolution = "720p" if params["resolution"] == "720p" else "1080p"
    durations = (5, 8) if resolution == "1080p" else (5, 8, 10)
    body = {
        **_base(params),
        "aspect_ratio": params["aspect_ratio"],
        "duration": _seconds(params, durations),
        "resolution": resolution,
    }
    return _optional(body, params, "negative_prompt", "seed")


def _ltx2_fast(params: Params) -> Params:
    return {
        **_base(params),
        "duration": _seconds(params, (6, 8, 10, 12, 14, 16, 18, 20)),
        "resolution": "2160p" if params["resolution"] == "4k" else "1080p",
        "aspect_ratio": "16:9",
        "fps": "50" if params["fps"] == 60 else "25",
        "generate_audio": False,
    }


def _wan_pro(params: Params) -> Params:
    return _optional(_base(params, image=True), params, "seed")


def _seedance(params: Params) -> Params:
    body = {
        **_base(params, image=True),
        "aspect_ratio": params["aspect_ratio"],
        "resolution": "720p" if params["resolution"] == "720p" else "1080p",
        "duration": _seconds(params, range(2, 13)),
    }
    return _optional(body, params, "seed")


def _luma_ray2(params: Params) -> Params:
    body = {
        **_base(params),
        "aspect_ratio": params["aspect_ratio"],
        "duration": _seconds(params, (5, 9), "s"),
        "resolution": "720p" if params["resolution"] == "720p" else "1080p",
        "loop": params["loop"],
    }
    if params.get("source_image"):
        body["image_url"] = params["source_image"]
    return body


BUILDERS: dict[str, Callable[[Params], Params]] = {
    "fal-ai/luma-dream-machine/ray-2": _luma_ray2,
    "fal-ai/luma-dream-machine/ray-2-flash": _luma_ray2,
    "fal-ai/luma-dream-machine/ray-2/image-to-video": _luma_ray2,
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": _luma_ray2,
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


def model_input(model_id: str, params: Params) -> Params:
    """The JSON body fal's queue expects for this model and request."""
    return BUILDERS[model_id](params)
