"""Box filters over pictures and per-pixel maps (numpy cumulative sums)."""

from __future__ import annotations

import numpy as np


def box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Means over size x size windows: out[i, j] averages values[i:i+size, j:j+size] (further
    axes, such as colour channels, are kept). Sums accumulate in float64: a float32 running
    sum over a large picture loses whole levels."""
    sums = np.cumsum(np.cumsum(values, axis=0, dtype=np.float64), axis=1)
    sums = np.pad(sums, ((1, 0), (1, 0)) + ((0, 0),) * (values.ndim - 2))
    k = size
    return ((sums[k:, k:] - sums[:-k, k:] - sums[k:, :-k] + sums[:-k, :-k]) / (k * k)).astype(np.float32)


def box_blur(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)-square window centred on each pixel, edges clamped."""
    pad = ((radius, radius), (radius, radius)) + ((0, 0),) * (values.ndim - 2)
    return box_mean(np.pad(values.astype(np.float32), pad, mode="edge"), 2 * radius + 1)
