"""The GPU backend as a plugin: its models are listed when their weights are on disk and
torch and diffusers are installed (`pip install vidgate[gpu]`); its jobs run on the `gpu` lane."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from vidgate.backends.base import Backend
from vidgate.backends.gpu.config import GpuSettings
from vidgate.backends.gpu.models import GPU_MODELS, GpuModel, missing_parts
from vidgate.backends.registry import BackendPlugin, BackendServices
from vidgate.config import Settings

GPU_PACKAGES = ("torch", "diffusers", "transformers")


@dataclass(frozen=True)
class Weights:
    model: GpuModel
    folder: Path
    missing: list[str]  # what the folder lacks; [] when it can be loaded


def weights(settings: Settings, gpu: GpuSettings) -> list[Weights]:
    """Each known model, where its weights go, and what is missing there."""
    base = gpu.models_dir or settings.data_dir / "models"
    found = []
    for model in GPU_MODELS:
        folder = gpu.model_folders.get(model.folder) or base / model.folder
        found.append(Weights(model, folder, missing_parts(folder)))
    return found


def missing_packages() -> list[str]:
    return [name for name in GPU_PACKAGES if importlib.util.find_spec(name) is None]


def plugin(settings: Settings, gpu: GpuSettings | None = None) -> BackendPlugin:
    """The GPU plugin, with `gpu`'s settings (default: from the environment and vidgate.toml)."""
    gpu = gpu or GpuSettings()
    ready = [] if missing_packages() else [w for w in weights(settings, gpu) if not w.missing]

    def create(services: BackendServices) -> Backend:
        from vidgate.backends.gpu.backend import DiffusersBackend

        return DiffusersBackend(
            gpu=gpu, folders={w.model.id: w.folder for w in ready}, storage=services.storage,
            max_source_bytes=services.settings.max_source_bytes, source_limits=services.source_limits,
        )

    return BackendPlugin(
        name="diffusers", lane="gpu", models=tuple(w.model.spec() for w in ready), create=create,
        configured=bool(ready), concurrency=1,  # one job on the device at a time
    )
