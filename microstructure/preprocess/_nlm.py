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

from microstructure.preprocess._chunks import sample_slices
from microstructure.preprocess._denoise_z import (
    AUTO_Z_CORRELATION_PX,
    DEFAULT_Z_DEPTH,
    DEFAULT_Z_H_FACTOR,
    MAX_Z_LAG_RATIO,
    z_guided_average,
)
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
    "lag_ratio",
    "resolve_mode",
    "check_options",
    "nlm",
]

#: modes of the filter ("auto": ``slices_z`` on correlated noise, else ``slices``)
MODES = ("auto", "slices", "slices_z", "3d")
#: the mode is chosen from the noise estimate
DEFAULT_MODE = "auto"
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


def lag_ratio(stack: Any, sigma: float) -> float:
    """The z-difference noise estimate at a lag of 2 slices over that at 1 (``sigma``): about
    1 when the slice differences hold noise only (structure persists over a few slices), well
    above 1 when the structure changes from slice to slice (the lag-1 estimate then includes
    structure, and averaging neighbouring slices cannot help). Realistic phantom 1.04-1.05,
    default phantom 1.02, the nanopore EM volume 1.54-1.67."""
    idx, pairs = pair_index(int(stack.shape[0]), lag=2)
    if not len(pairs) or not sigma > 0:
        return 1.0
    return float(noise_from_pairs(sample_slices(stack, idx), pairs)["sigma"] / sigma)


def resolve_mode(mode: str, stack: Any, noise: dict[str, Any]) -> tuple[str, str, float | None]:
    """(the concrete mode, why, the lag ratio when measured): ``auto`` is ``slices_z`` when
    the noise is correlated (correlation length >= :data:`AUTO_Z_CORRELATION_PX`), the stack
    has >= 3 slices and the structure persists over neighbouring slices
    (:func:`lag_ratio` <= :data:`MAX_Z_LAG_RATIO`), else ``slices``; other modes are kept."""
    if mode != "auto":
        return mode, "given", None
    corr = float(noise["correlation_length_px"])
    if int(stack.shape[0]) < 3:
        return "slices", "auto: fewer than 3 slices: NLM per slice", None
    if corr < AUTO_Z_CORRELATION_PX:
        return "slices", f"auto: noise not correlated ({corr:.2f} px): NLM per slice", None
    ratio = lag_ratio(stack, float(noise["sigma"]))
    if ratio > MAX_Z_LAG_RATIO:
        return (
            "slices",
            f"auto: structure changes between neighbouring slices (slice-difference std at "
            f"lag 2 / lag 1 = {ratio:.2f} > {MAX_Z_LAG_RATIO}): z averaging cannot help, "
            "NLM per slice",
            ratio,
        )
    return (
        "slices_z",
        f"auto: noise correlation length {corr:.2f} px >= {AUTO_Z_CORRELATION_PX} px "
        f"(band-limited) and structure persisting in z (lag ratio {ratio:.2f}): NLM per "
        "slice + z-guided averaging",
        ratio,
    )


def check_options(
    *,
    mode: str,
    h_factor: float,
    patch_size: int,
    patch_distance: int,
    chunk_slices: int,
    z_depth: int = DEFAULT_Z_DEPTH,
    z_h_factor: float = DEFAULT_Z_H_FACTOR,
) -> None:
    """One-line ``ValueError`` naming the first bad option of :func:`nlm`."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if int(z_depth) < 1 or not z_h_factor > 0:
        raise ValueError(
            f"z_depth/z_h_factor: must be >= 1 and > 0, got {z_depth!r}, {z_h_factor!r}"
        )
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
    z_depth: int = DEFAULT_Z_DEPTH,
    z_h_factor: float = DEFAULT_Z_H_FACTOR,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise a whole stack in memory; return float32 and a dict (sigma, h, mode). A
    ``sigma`` or ``patch_size`` of None and ``mode="auto"`` are set from
    :func:`estimate_noise`."""
    arr = check_volume(stack, name="stack")
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    why, ratio = "given", None
    if sigma is None or patch_size is None or mode == "auto":
        noise = estimate_noise(arr)
        mode, why, ratio = resolve_mode(mode, arr, noise)
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
        z_depth=z_depth,
        z_h_factor=z_h_factor,
    )
    data = arr.astype(np.float32, copy=False)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a noise level >= 0, got {sigma!r}")
    sigma = float(sigma)
    info: dict[str, Any] = {
        "mode": mode,
        "mode_reason": why,
        "noise_lag_ratio": ratio,
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
    if mode in ("slices", "slices_z"):

        def one(k: int) -> None:
            out[k] = _sk_nlm(data[k], **kw)
            if progress is not None:
                progress(1)

        with ThreadPoolExecutor(nworkers) as ex:
            list(ex.map(one, range(nz)))
        if mode == "slices_z":
            out = z_guided_average(out, sigma, z_depth=int(z_depth), z_h_factor=z_h_factor)
            info.update(z_depth=int(z_depth), z_h_factor=float(z_h_factor))
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
