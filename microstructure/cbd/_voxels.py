"""Voxel helpers shared by the CBD insertion methods: distances, ranking, number checks."""

from __future__ import annotations

import math
from typing import Any

import edt
import numpy as np

#: Threads of the Euclidean distance transforms.
_EDT_THREADS = 2


def _finite_float(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def _mean_voxel(vs: tuple[float, float, float]) -> float:
    """Geometric-mean voxel edge (nm), the half-voxel wall offset for anisotropic voxels."""
    return float(np.prod(vs) ** (1.0 / 3.0))


def _edt(mask: np.ndarray, vs: tuple[float, float, float]) -> np.ndarray:
    """Distance (nm) of every nonzero voxel to the nearest zero voxel (outside = nonzero)."""
    return edt.edt(
        np.ascontiguousarray(mask, dtype=np.uint8),
        anisotropy=vs,
        black_border=False,
        parallel=_EDT_THREADS,
    )


def _take_ranked(candidates: np.ndarray, key: np.ndarray, n: int, rng: np.random.Generator):
    """Flat indices of the ``n`` candidates with the smallest ``key``; ties broken at random.

    ``candidates`` are flat indices, ``key`` their keys (same length).
    """
    if n >= candidates.size:
        return candidates
    if n <= 0:
        return candidates[:0]
    kth = np.partition(key, n - 1)[n - 1]
    below = candidates[key < kth]
    tied = candidates[key == kth]
    need = n - below.size
    pick = rng.choice(tied.size, size=need, replace=False) if need < tied.size else slice(None)
    return np.concatenate([below, tied[pick]])
