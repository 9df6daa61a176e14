"""Loading diffusers pipelines from folders on disk, offline, and running one to frames.

Imported only by a worker that runs GPU jobs: it imports torch and diffusers (the `gpu`
extra). Hugging Face's hub is switched off before they are imported, so a loader never
reaches for the internet; a folder that lacks a file is an error naming it.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import diffusers  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vidgate.backends.gpu.config import GpuSettings  # noqa: E402
from vidgate.backends.gpu.families import Family  # noqa: E402


class Stopped(Exception):
    """Raised between denoising steps when the job's cancel was asked for."""


class OutOfMemory(Exception):
    """The device ran out of memory; what the clip held is freed."""


@dataclass(frozen=True)
class Generation:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    frames: int
    steps: int
    guidance_scale: float
    seed: int
    image: Image.Image | None = None


def device_and_dtype(settings: GpuSettings) -> tuple[str, torch.dtype]:
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if settings.dtype != "auto":
        return device, getattr(torch, settings.dtype)
    return device, torch.bfloat16 if device.startswith("cuda") else torch.float32


class Loaded:
    """One folder's weights, loaded once: the pipeline of each mode shares its components."""

    def __init__(self, folder: Path, settings: GpuSettings) -> None:
        """OutOfMemory when the weights do not fit the device (what was moved is freed)."""
        self.device, dtype = device_and_dtype(settings)
        self.base = diffusers.DiffusionPipeline.from_pretrained(folder, dtype=dtype, local_files_only=True)
        out_of_memory = False
        try:
            if settings.cpu_offload and self.device.startswith("cuda"):
                self.base.enable_model_cpu_offload(device=self.device)
            else:
                self.base.to(self.device)
        except torch.OutOfMemoryError:
            out_of_memory = True
        if out_of_memory:
            del self.base
            free_memory()
            raise OutOfMemory()
        vae = getattr(self.base, "vae", None)
        if settings.vae_tiling and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if settings.vae_slicing and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
        self.base.set_progress_bar_config(disable=True)
        self._by_class: dict[str, Any] = {type(self.base).__name__: self.base}

    def pipeline(self, class_name: str) -> Any:
        """The pipeline of `class_name` on these weights (made from the loaded one, sharing its
        components)."""
        if class_name not in self._by_class:
            # from_pipe casts to float32 unless told: the shared weights would be converted
            made = getattr(diffusers, class_name).from_pipe(self.base, dtype=self.base.dtype)
            made.set_progress_bar_config(disable=True)
            self._by_class[class_name] = made
        return self._by_class[class_name]


def generate(
    loaded: Loaded, family: Family, job: Generation, *, progress: Callable[[float], None], stop: threading.Event
) -> np.ndarray:
    """The clip's frames, (frames, height, width, 3) uint8. Stopped when `stop` is set between
    two steps (nothing decoded); OutOfMemory when the device runs out, the memory freed."""
    class_name = family.image_pipeline if job.image is not None else family.text_pipeline
    assert class_name is not None
    pipe = loaded.pipeline(class_name)

    def after_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if stop.is_set():
            raise Stopped()
        progress((step + 1) / job.steps)
        return tensors

    extra: dict[str, Any] = {"image": job.image} if job.image is not None else {}
    if family.passes_frame_rate:
        extra["frame_rate"] = family.fps
    out_of_memory = False
    try:
        output = pipe(
            prompt=job.prompt, negative_prompt=job.negative_prompt, width=job.width, height=job.height,
            num_frames=job.frames, num_inference_steps=job.steps, guidance_scale=job.guidance_scale,
            generator=torch.Generator(device="cpu").manual_seed(job.seed), output_type="np",
            callback_on_step_end=after_step, **extra,
        )
    except torch.OutOfMemoryError:
        out_of_memory = True  # freed below, once the traceback's hold on the tensors is gone
    if out_of_memory:
        free_memory()
        raise OutOfMemory()
    frames = np.asarray(output.frames[0])
    return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
