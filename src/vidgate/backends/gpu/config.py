"""The GPU backend's settings: `VIDGATE_GPU_*` in the environment, or a `[gpu]` table in
`vidgate.toml`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from vidgate.config import TomlSettings


class GpuSettings(TomlSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGATE_GPU_", extra="ignore")
    toml_table = "gpu"

    models_dir: Path | None = Field(
        default=None,
        description="The folder holding a diffusers-format folder per model (ltx-video, "
        "wan-2.1-t2v-1.3b...). Default: `models` in the data folder.",
    )
    model_folders: dict[str, Path] = Field(
        default={}, description='A model\'s folder elsewhere, by its name in the models folder, e.g. '
        '{"ltx-video": "/srv/ltx"} (JSON in the environment).',
    )
    device: str = Field(default="auto", description="torch device: auto (cuda when there is one, else cpu), cuda, cuda:1, cpu.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="Weights' precision: auto is bfloat16 on a GPU, float32 on the CPU."
    )
    steps: int | None = Field(default=None, ge=1, le=200, description="Denoising steps (default: the family's).")
    cpu_offload: bool = Field(
        default=False, description="Keep each component in CPU memory until it runs (less GPU memory, slower)."
    )
    vae_tiling: bool = Field(default=True, description="Decode the video in tiles (the decode's peak memory is its largest).")
    vae_slicing: bool = Field(default=True, description="Decode a batch one video at a time.")
