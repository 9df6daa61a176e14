"""The models the GPU backend knows how to run, where their weights go, and whether they are
there (checked from the files alone: nothing is imported or loaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vidgate.backends.gpu.families import LTX, WAN, Family
from vidgate.catalog import ModelSpec

WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class GpuModel:
    id: str
    folder: str  # its folder's name under the models folder
    family: Family
    mode: str
    title: str
    weights_from: str  # the Hugging Face repository of its diffusers-format weights
    best_for: str

    def spec(self) -> ModelSpec:
        return ModelSpec(
            id=self.id, title=self.title, provider="diffusers", tier="standard", modes=(self.mode,),
            max_duration=self.family.max_duration, best_for=self.best_for,
            # fps is accepted and without effect: clips play at the family's own frame rate
            resolutions=("720p",), ignores=("fps", "prompt_optimizer", "loop"),
        )


GPU_MODELS = (
    GpuModel("local/ltx-video", "ltx-video", LTX, "text_to_video", "LTX-Video (this machine's GPU)",
             "Lightricks/LTX-Video", "Fast open text-to-video on your own GPU"),
    GpuModel("local/ltx-video/image-to-video", "ltx-video", LTX, "image_to_video",
             "LTX-Video image to video (this machine's GPU)", "Lightricks/LTX-Video",
             "Animating a still on your own GPU (the same weights as local/ltx-video)"),
    GpuModel("local/wan-2.1-t2v-1.3b", "wan-2.1-t2v-1.3b", WAN, "text_to_video", "Wan 2.1 1.3B (this machine's GPU)",
             "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Open text-to-video that fits a consumer GPU"),
)


def missing_parts(folder: Path) -> list[str]:
    """What a diffusers-format folder lacks to be loaded ([] when nothing): its
    model_index.json, and for each component it names, a folder with a configuration and, for
    models, weights."""
    if not folder.is_dir():
        return [f"{folder} (no such folder)"]
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        return [f"{index_path} (the folder is not a diffusers-format model)"]
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{index_path} cannot be read: {exc}"]
    missing = []
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or not value or value[0] is None:
            continue
        part = folder / name
        try:
            files = [path for path in part.iterdir() if path.is_file()] if part.is_dir() else []
        except OSError as exc:
            missing.append(f"{part} cannot be read: {exc.strerror}")
            continue
        if not any(path.suffix == ".json" for path in files):
            missing.append(f"{part} (its configuration)")
        elif name in ("transformer", "vae", "text_encoder", "image_encoder") and not any(
            path.name.endswith(WEIGHT_SUFFIXES) for path in files
        ):
            missing.append(f"{part} (its weights, *.safetensors)")
    return missing
