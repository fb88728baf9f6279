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


def _voxel_uniform(flat: np.ndarray, key: int) -> np.ndarray:
    """Uniform numbers in [0, 1), one per flat voxel index: a fixed function of
    (index, ``key``) (the SplitMix64 finaliser of Steele et al. 2014 [1]_).

    Unlike draws from a generator, the number of a voxel does not depend on which other
    voxels are drawn or in what order: a tie-break by these numbers stays the same when a
    parameter adds or removes candidates (common random numbers in a fit).

    References
    ----------
    .. [1] Steele, G. L.; Lea, D.; Flood, C. H. Fast splittable pseudorandom number
       generators. OOPSLA 2014, 453-472. https://doi.org/10.1145/2660193.2660195
    """
    z = np.asarray(flat).astype(np.uint64) + np.uint64((key * 0x9E3779B97F4A7C15) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _tie_key(rng: np.random.Generator) -> int:
    """Key of :func:`_voxel_uniform` drawn from ``rng`` (one draw)."""
    return int(rng.integers(0, 2**63 - 1))


def _take_ranked(
    candidates: np.ndarray, key: np.ndarray, n: int, rng: np.random.Generator | int
) -> np.ndarray:
    """Flat indices of the ``n`` candidates with the smallest ``key``; ties broken at random.

    ``candidates`` are flat indices, ``key`` their keys (same length). ``rng``: a generator
    (ties drawn from it) or an integer key of :func:`_voxel_uniform` (ties broken by the
    voxels' own numbers, independent of the other candidates).
    """
    if n >= candidates.size:
        return candidates
    if n <= 0:
        return candidates[:0]
    kth = np.partition(key, n - 1)[n - 1]
    below = candidates[key < kth]
    tied = candidates[key == kth]
    need = n - below.size
    if need >= tied.size:
        return np.concatenate([below, tied])
    if isinstance(rng, np.random.Generator):
        pick = rng.choice(tied.size, size=need, replace=False)
    else:
        pick = np.argsort(_voxel_uniform(tied, rng), kind="stable")[:need]
    return np.concatenate([below, tied[pick]])
