"""The fal.ai models vidgate serves: the seed's two tables."""

from __future__ import annotations

from vidgate.catalog.models import Limit, ModelSpec
from vidgate.media.dimensions import RESOLUTIONS

T2V = ("text_to_video",)
I2V = ("image_to_video",)

# What each fal model cannot control (see backends/fal/inputs.py for what it is sent).
_NO_LENGTH = ("duration_seconds",)
_FIXED_LOOK = ("resolution", "fps", "aspect_ratio")
_NO_EXTRAS = ("negative_prompt", "seed", "loop")
_MINIMAX_IGNORES = _NO_LENGTH + _FIXED_LOOK + _NO_EXTRAS
LUMA_ASPECTS = ("16:9", "9:16", "4:3", "3:4")

# The clip lengths each fal model makes (its `duration` enum, or its one fixed length); the
# input builders in backends/fal/inputs.py send the nearest of these.
FIXED_6S = (6,)
KLING_SECONDS = (5, 10)
VEO3_SECONDS = (4, 6, 8)
LUMA_SECONDS = (5, 9)
LTX2_FAST_SECONDS = (6, 8, 10, 12, 14, 16, 18, 20)
# LTX-2 Fast makes clips over 10 s only at 25 fps (our 30) and 1080p (our 720p and 1080p).
LTX2_FAST_LIMITS = (Limit("resolution", ("4k",), (6, 8, 10)), Limit("fps", (60,), (6, 8, 10)))

FAL_MODELS: tuple[ModelSpec, ...] = (
    # Text-to-video (the seed's first table).
    ModelSpec("fal-ai/minimax/video-01", "MiniMax Video-01", "fal", "standard", T2V, 6,
              "Realistic, high quality (default)", aspect_ratios=("16:9",), ignores=_MINIMAX_IGNORES,
              output_durations=FIXED_6S),
    ModelSpec("fal-ai/minimax/hailuo-02/standard/text-to-video", "MiniMax Hailuo-02 Standard",
              "fal", "standard", T2V, 10, "Latest MiniMax", aspect_ratios=("16:9",),
              ignores=_FIXED_LOOK + _NO_EXTRAS, output_durations=(6, 10)),
    ModelSpec("fal-ai/veo3", "Google Veo 3", "fal", "powerful", T2V, 8, "Google Veo 3",
              aspect_ratios=("16:9", "9:16"), ignores=("fps", "prompt_optimizer", "loop"),
              output_durations=VEO3_SECONDS),
    ModelSpec("fal-ai/veo3/fast", "Google Veo 3 Fast", "fal", "standard", T2V, 8, "Fast Veo 3",
              aspect_ratios=("16:9", "9:16"), ignores=("fps", "prompt_optimizer", "loop"),
              output_durations=VEO3_SECONDS),
    ModelSpec("fal-ai/kling-video/v2.5-turbo/pro/text-to-video", "Kling v2.5 Turbo Pro", "fal",
              "standard", T2V, 10, "Kling v2.5", aspect_ratios=("16:9", "9:16", "1:1"),
              ignores=("resolution", "fps", "seed", "prompt_optimizer", "loop"),
              output_durations=KLING_SECONDS),
    ModelSpec("fal-ai/kling-video/v2/master/text-to-video", "Kling 2.0 Master", "fal",
              "powerful", T2V, 10, "Kling 2.0 Master", aspect_ratios=("16:9", "9:16", "1:1"),
              ignores=("resolution", "fps", "seed", "prompt_optimizer", "loop"),
              output_durations=KLING_SECONDS),
    ModelSpec("fal-ai/pixverse/v5.5/text-to-video", "Pixverse v5.5", "fal", "basic", T2V, 10,
              "Pixverse", ignores=("fps", "prompt_optimizer", "loop"), output_durations=(5, 8, 10),
              limits=(Limit("resolution", ("1080p",), (5, 8)),)),
    ModelSpec("fal-ai/ltx-2/text-to-video/fast", "LTX Video 2.0 Fast", "fal", "basic", T2V, 20,
              "Fast LTX Video 2.0", resolutions=RESOLUTIONS, aspect_ratios=("16:9",),
              ignores=("negative_prompt", "seed", "prompt_optimizer", "loop"),
              output_durations=LTX2_FAST_SECONDS, limits=LTX2_FAST_LIMITS),
    ModelSpec("fal-ai/luma-dream-machine/ray-2", "Luma Ray 2", "fal", "powerful", T2V, 9,
              "Luma Pro; loops", aspect_ratios=LUMA_ASPECTS,
              ignores=("fps", "negative_prompt", "seed", "prompt_optimizer"),
              output_durations=LUMA_SECONDS),
    ModelSpec("fal-ai/luma-dream-machine/ray-2-flash", "Luma Ray 2 Flash", "fal", "standard", T2V, 9,
              "Fast Luma; loops", aspect_ratios=LUMA_ASPECTS,
              ignores=("fps", "negative_prompt", "seed", "prompt_optimizer"),
              output_durations=LUMA_SECONDS),
    # Image-to-video (the seed's second table). Models without an aspect control follow the image.
    ModelSpec("fal-ai/minimax/video-01/image-to-video", "MiniMax Video-01 Image-to-Video", "fal",
              "standard", I2V, 6, "Animate images", ignores=_MINIMAX_IGNORES,
              output_durations=FIXED_6S),
    ModelSpec("fal-ai/veo2/image-to-video", "Google Veo 2 Image-to-Video", "fal", "powerful", I2V,
              8, "Google Veo 2", aspect_ratios=("16:9", "9:16"),
              ignores=_FIXED_LOOK + _NO_EXTRAS + ("prompt_optimizer",),
              output_durations=(5, 6, 7, 8)),
    ModelSpec("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", "Kling v2.5 Turbo Pro I2V",
              "fal", "standard", I2V, 10, "Kling v2.5",
              ignores=_FIXED_LOOK + ("seed", "prompt_optimizer", "loop"),
              output_durations=KLING_SECONDS),
    ModelSpec("fal-ai/wan-pro/image-to-video", "Wan 2.1 Pro Image-to-Video", "fal", "standard",
              I2V, 6, "Wan 2.1 Pro",
              ignores=_NO_LENGTH + _FIXED_LOOK + ("negative_prompt", "prompt_optimizer", "loop"),
              output_durations=FIXED_6S),
    ModelSpec("fal-ai/minimax/hailuo-2.3/pro/image-to-video", "MiniMax Hailuo 2.3 Pro I2V", "fal",
              "standard", I2V, 6, "Hailuo 2.3", ignores=_MINIMAX_IGNORES,
              output_durations=FIXED_6S),
    ModelSpec("fal-ai/bytedance/seedance/v1/pro/image-to-video", "ByteDance Seedance 1.0 Pro",
              "fal", "basic", I2V, 12, "ByteDance Seedance",
              ignores=("fps", "negative_prompt", "prompt_optimizer", "loop"),
              output_durations=tuple(range(2, 13))),
    ModelSpec("fal-ai/luma-dream-machine/ray-2/image-to-video", "Luma Ray 2 Image-to-Video", "fal",
              "powerful", I2V, 9, "Luma Pro; loops", aspect_ratios=LUMA_ASPECTS,
              ignores=("fps", "negative_prompt", "seed", "prompt_optimizer"),
              output_durations=LUMA_SECONDS),
    ModelSpec("fal-ai/luma-dream-machine/ray-2-flash/image-to-video", "Luma Ray 2 Flash I2V", "fal",
              "standard", I2V, 9, "Fast Luma; loops", aspect_ratios=LUMA_ASPECTS,
              ignores=("fps", "negative_prompt", "seed", "prompt_optimizer"),
              output_durations=LUMA_SECONDS),
)


FAL_CATALOG: dict[str, ModelSpec] = {model.id: model for model in FAL_MODELS}
