"""The GPU backend's models at full size: seconds per denoising step, VAE decode seconds, peak
GPU memory and whole-clip time, with and without torch.compile.

Speed does not depend on the weights' values, so each model is built from its published
architecture with random weights, directly in bf16 on the GPU (nothing downloaded); the text
encoder is left out and random prompt embeddings of its shape stand in for its output (it
runs once per clip, outside the denoising loop measured here).

    .venv/bin/python bench/gpu.py             # on a GPU: LTX-Video 2B at 768x512, 121 frames;
                                              # Wan 2.1 1.3B at 832x480, 81 frames
    .venv/bin/python bench/gpu.py --tiny      # the same flow with tiny models on the CPU (checks the script)
    .venv/bin/python bench/gpu.py --json      # the figures as JSON on stdout

Per model and mode (eager, compiled): one warm-up clip (for compiled: the compile), then one
measured clip. Step seconds = (last step's end - first step's start) / steps, from the
pipeline's step callback; decode seconds = the clip's end - the last step's end (VAE decode
and post-processing); peak memory = torch.cuda.max_memory_allocated over the measured clip.
LTX-Video's clip time is compared with its published ~2 s for 768x512 on an H100 (target: at
or under it).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from api import print_results  # bench/api.py

LTX_PUBLISHED_SECONDS = 2.0


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[str, torch.dtype, bool], Any]
    width: int
    height: int
    frames: int
    steps: int
    embeddings: tuple[int, int]  # (tokens, width) of the text encoder's output


def ltx(device: str, dtype: torch.dtype, tiny: bool) -> Any:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    if tiny:
        transformer = LTXVideoTransformer3DModel(
            in_channels=8, out_channels=8, num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
            num_layers=1, caption_channels=32)
        scaling = (True, True, True, False)
        vae = AutoencoderKLLTXVideo(
            latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=scaling, decoder_spatio_temporal_scaling=scaling,
            decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4, upsample_factor=(1,) * 4,
            timestep_conditioning=False, patch_size=4, patch_size_t=1)
    else:  # the published 2B transformer and its VAE are the classes' defaults
        transformer = LTXVideoTransformer3DModel()
        vae = AutoencoderKLLTXVideo()
    pipe = LTXPipeline(transformer=transformer.to(device, dtype), vae=vae.to(device, dtype),
                       scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=None, tokenizer=None)
    return pipe


def wan(device: str, dtype: torch.dtype, tiny: bool) -> Any:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    if tiny:
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
    else:  # Wan 2.1 T2V 1.3B
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
            text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
        vae = AutoencoderKLWan()
    return WanPipeline(transformer=transformer.to(device, dtype), vae=vae.to(device, dtype),
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), text_encoder=None, tokenizer=None)


def cases(tiny: bool) -> list[Case]:
    if tiny:
        return [Case("LTX-Video (tiny)", ltx, 128, 96, 9, 3, (16, 32)), Case("Wan 2.1 (tiny)", wan, 64, 48, 9, 3, (16, 32))]
    return [Case("LTX-Video 2B", ltx, 768, 512, 121, 40, (128, 4096)),
            Case("Wan 2.1 1.3B", wan, 832, 480, 81, 30, (512, 4096))]


def clip(pipe: Any, case: Case, device: str, dtype: torch.dtype) -> dict[str, float]:
    tokens, width = case.embeddings
    embeds = torch.randn(1, tokens, width, device=device, dtype=dtype)
    marks: list[float] = []
    extra: dict[str, Any] = {}
    if "LTX" in case.name:  # LTX takes the attention masks of its embeddings too
        mask = torch.ones(1, tokens, device=device, dtype=torch.long)
        extra = {"prompt_attention_mask": mask, "negative_prompt_attention_mask": mask}

    def step(_pipe: Any, _i: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        sync(device)
        marks.append(time.perf_counter())
        return tensors

    sync(device)
    started = time.perf_counter()
    pipe(prompt_embeds=embeds, negative_prompt_embeds=torch.zeros_like(embeds), width=case.width, height=case.height,
         num_frames=case.frames, num_inference_steps=case.steps, output_type="np", callback_on_step_end=step,
         generator=torch.Generator(device="cpu").manual_seed(0), **extra)
    sync(device)
    ended = time.perf_counter()
    return {"clip_s": ended - started, "step_s": (marks[-1] - started) / case.steps, "decode_s": ended - marks[-1]}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(case: Case, device: str, dtype: torch.dtype, tiny: bool, compiled: bool) -> dict[str, Any]:
    pipe = case.build(device, dtype, tiny)
    pipe.set_progress_bar_config(disable=True)
    if compiled:
        pipe.transformer = torch.compile(pipe.transformer)
    warm_started = time.perf_counter()
    clip(pipe, case, device, dtype)  # warm-up (and, compiled, the compile)
    warm_s = time.perf_counter() - warm_started
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    figures = clip(pipe, case, device, dtype)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    del pipe
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"model": case.name, "compiled": compiled, "size": f"{case.width}x{case.height}", "frames": case.frames,
            "steps": case.steps, "warm_up_s": warm_s, "peak_gib": peak, **figures}


def report(results: list[dict[str, Any]], device_name: str) -> str:
    lines = [f"GPU backend bench on {device_name}",
             f"  {'model':18} {'mode':9} {'size':9} {'frames':>6} {'steps':>5} {'s/step':>8} {'decode s':>9} "
             f"{'clip s':>8} {'peak GiB':>9} {'warm-up s':>10}"]
    for r in results:
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "-"
        lines.append(f"  {r['model']:18} {'compiled' if r['compiled'] else 'eager':9} {r['size']:9} {r['frames']:>6} "
                     f"{r['steps']:>5} {r['step_s']:>8.3f} {r['decode_s']:>9.2f} {r['clip_s']:>8.2f} {peak:>9} "
                     f"{r['warm_up_s']:>10.1f}")
    ltx_times = [r["clip_s"] for r in results if r["model"].startswith("LTX-Video 2B")]
    if ltx_times:
        best = min(ltx_times)
        verdict = "PASS" if best <= LTX_PUBLISHED_SECONDS else "FAIL"
        lines.append(f"  LTX-Video 5 s clip at 768x512: {best:.2f} s (published ~{LTX_PUBLISHED_SECONDS:g} s on an H100) {verdict}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU: checks the script")
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    if not args.tiny and not torch.cuda.is_available():
        print("no GPU here: run with --tiny to check the script on the CPU", file=sys.stderr)
        return 2
    device = "cpu" if args.tiny else "cuda"
    dtype = torch.float32 if args.tiny else torch.bfloat16
    device_name = "CPU (tiny models)" if args.tiny else torch.cuda.get_device_name()
    results = [measure(case, device, dtype, args.tiny, compiled)
               for case in cases(args.tiny) for compiled in ([False] if args.no_compile else [False, True])]
    table = report(results, device_name)
    print_results(table, {"device": device_name, "results": results}, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
