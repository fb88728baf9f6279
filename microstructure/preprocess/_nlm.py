"""Non-local means in memory: the noise estimate (:mod:`._noise`) and the filter over slices
or 3D chunks (the core of :func:`microstructure.preprocess.denoise_nl_means`; the chunked path
runs it slab by slab).

References
----------
Buades, A., Coll, B. and Morel, J.-M. (2005). A non-local algorithm for image denoising.
CVPR 2005, 60-65. doi:10.1109/CVPR.2005.38
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from skimage.restoration import denoise_nl_means as _sk_nlm

from microstructure.preprocess._noise import DEFAULT_NOISE_PAIRS, noise_from_pairs, pair_index
from microstructure.volume import check_volume

__all__ = [
    "DEFAULT_MODE",
    "DEFAULT_H_FACTOR",
    "DEFAULT_PATCH_SIZE",
    "DEFAULT_PATCH_DISTANCE",
    "DEFAULT_CHUNK_SLICES",
    "DEFAULT_NOISE_PAIRS",
    "noise_index",
    "estimate_noise",
    "estimate_noise_sigma",
    "patch_for",
    "check_options",
    "nlm",
]

#: 2D NLM per slice
DEFAULT_MODE = "slices"
#: filter strength h = h_factor * sigma
DEFAULT_H_FACTOR = 0.8
#: patch edge, px
DEFAULT_PATCH_SIZE = 5
#: search radius, px
DEFAULT_PATCH_DISTANCE = 5
#: slices per chunk of the 3d mode
DEFAULT_CHUNK_SLICES = 32
#: largest patch edge chosen from the noise correlation length, px
MAX_AUTO_PATCH = 9


def noise_index(nz: int, max_pairs: int = DEFAULT_NOISE_PAIRS) -> np.ndarray:
    """The slices the noise level is estimated on: up to ``max_pairs`` evenly spaced
    neighbour pairs (:func:`._noise.pair_index`)."""
    return pair_index(nz, max_pairs)[0]


def estimate_noise(stack: Any, *, max_pairs: int = DEFAULT_NOISE_PAIRS) -> dict[str, Any]:
    """The noise estimate of a stack (:func:`._noise.noise_from_pairs`), from its
    neighbour-slice differences in flat regions; valid for band-limited, correlated noise."""
    arr = check_volume(stack, name="stack")
    idx, pairs = pair_index(arr.shape[0], max_pairs)
    return noise_from_pairs(arr[idx].astype(np.float32, copy=False), pairs)


def estimate_noise_sigma(stack: Any, *, max_pairs: int = DEFAULT_NOISE_PAIRS) -> float:
    """Noise standard deviation of a stack (same units as its values): the ``sigma`` of
    :func:`estimate_noise`. Returns 0.0 for a noise-free (e.g. constant) stack."""
    return float(estimate_noise(stack, max_pairs=max_pairs)["sigma"])


def patch_for(patch_size: int | None, correlation_length_px: float) -> int:
    """The NLM patch edge: ``patch_size`` when given, else the odd size covering the noise
    correlation length on both sides of the centre (at least :data:`DEFAULT_PATCH_SIZE`)."""
    if patch_size is not None:
        return int(patch_size)
    need = 2 * int(np.ceil(max(0.0, float(correlation_length_px)))) + 1
    return int(min(max(DEFAULT_PATCH_SIZE, need), MAX_AUTO_PATCH))


def check_options(
    *, mode: str, h_factor: float, patch_size: int, patch_distance: int, chunk_slices: int
) -> None:
    """One-line ``ValueError`` naming the first bad option of :func:`nlm`."""
    if mode not in ("slices", "3d"):
        raise ValueError(f"mode: expected 'slices' or '3d', got {mode!r}")
    if int(patch_size) < 1 or int(patch_distance) < 1:
        raise ValueError(
            f"patch_size/patch_distance: must be >= 1, got {patch_size!r}, {patch_distance!r}"
        )
    if not h_factor > 0:
        raise ValueError(f"h_factor: must be > 0, got {h_factor!r}")
    if int(chunk_slices) < 1:
        raise ValueError(f"chunk_slices: must be >= 1, got {chunk_slices!r}")


def nlm(
    stack: Any,
    *,
    mode: str,
    sigma: float | None,
    h_factor: float,
    patch_size: int | None,
    patch_distance: int,
    chunk_slices: int,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise a whole stack in memory; return float32 and a dict (sigma, h, mode). A
    ``sigma`` or ``patch_size`` of None is set from :func:`estimate_noise`."""
    arr = check_volume(stack, name="stack")
    if sigma is None or patch_size is None:
        noise = estimate_noise(arr)
        patch_size = patch_for(patch_size, noise["correlation_length_px"])
        if sigma is None:
            sigma = noise["sigma"]
            estimated = True
        else:
            estimated = False
    else:
        estimated = False
    check_options(
        mode=mode,
        h_factor=h_factor,
        patch_size=patch_size,
        patch_distance=patch_distance,
        chunk_slices=chunk_slices,
    )
    data = arr.astype(np.float32, copy=False)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a noise level >= 0, got {sigma!r}")
    sigma = float(sigma)
    info: dict[str, Any] = {
        "mode": mode,
        "sigma": sigma,
        "sigma_estimated": estimated,
        "h": h_factor * sigma,
        "patch_size": int(patch_size),
        "patch_distance": int(patch_distance),
    }
    if sigma == 0.0:
        info["skipped"] = "noise level 0: nothing to denoise"
        return data.copy(), info
    kw = dict(
        patch_size=int(patch_size),
        patch_distance=int(patch_distance),
        h=float(h_factor * sigma),
        sigma=sigma,
        fast_mode=True,
        preserve_range=True,
    )
    nz = data.shape[0]
    out = np.empty(data.shape, dtype=np.float32)
    nworkers = max(1, workers or os.cpu_count() or 1)
    if mode == "slices":

        def one(k: int) -> None:
            out[k] = _sk_nlm(data[k], **kw)
            if progress is not None:
                progress(1)

        with ThreadPoolExecutor(nworkers) as ex:
            list(ex.map(one, range(nz)))
    else:
        halo = int(patch_distance) + int(patch_size) // 2
        starts = list(range(0, nz, int(chunk_slices)))

        def chunk(start: int) -> None:
            stop = min(nz, start + int(chunk_slices))
            lo, hi = max(0, start - halo), min(nz, stop + halo)
            res = _sk_nlm(data[lo:hi], **kw)
            out[start:stop] = res[start - lo : stop - lo]
            if progress is not None:
                progress(stop - start)

        with ThreadPoolExecutor(nworkers) as ex:
            list(ex.map(chunk, starts))
        info["chunk_slices"] = int(chunk_slices)
        info["halo_slices"] = halo
    return out, info


def nlm_block(block: np.ndarray, **options: Any) -> np.ndarray:
    """:func:`nlm` of one slab of slices with a fixed sigma (one thread per slab)."""
    return nlm(block, workers=1, **options)[0]
