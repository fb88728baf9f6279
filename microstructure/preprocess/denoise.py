"""Non-local means denoising of FIB/SEM stacks (scikit-image kernels, parallel over slices).

Two modes:

``slices`` (default)
    2D NLM on every slice, slices processed by a thread pool (the scikit-image Cython kernel
    releases the GIL, so threads scale). About 1 us per voxel and core with the FIB/SEM
    defaults below; slice-wise filtering also avoids smearing across the (often thicker)
    slice spacing and across residual misalignment.
``3d``
    3D NLM on chunks of slices with an overlap of ``patch_distance + patch_size // 2``
    slices on each side, so every output voxel sees its full search window. Two orders of
    magnitude slower than ``slices`` at scikit-image's defaults: use on small stacks.

The noise standard deviation is estimated with :func:`skimage.restoration.estimate_sigma`
(wavelet MAD) on up to 16 evenly spaced slices (median) unless given; the filter strength is
``h = h_factor * sigma``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from skimage.restoration import denoise_nl_means as _sk_nlm
from skimage.restoration import estimate_sigma

from microstructure.volume import check_volume

__all__ = ["estimate_noise_sigma", "denoise_nl_means", "denoise_nl_means_report"]


def estimate_noise_sigma(stack: Any, *, max_slices: int = 16) -> float:
    """Gaussian noise standard deviation of a stack (same units as its values).

    Median over up to ``max_slices`` evenly spaced slices of scikit-image's wavelet-based
    estimate. Returns 0.0 for a noise-free (e.g. constant) stack.
    """
    arr = check_volume(stack, name="stack")
    idx = np.unique(np.linspace(0, arr.shape[0] - 1, min(arr.shape[0], max_slices)).astype(int))
    vals = [float(estimate_sigma(arr[k].astype(np.float64))) for k in idx]
    sigma = float(np.median(vals))
    scale = float(np.abs(arr[idx]).max())
    # floating-point round-off of a constant or noise-free image is not noise
    return 0.0 if sigma <= 1e-7 * scale else sigma


def denoise_nl_means_report(
    stack: Any,
    *,
    mode: Literal["slices", "3d"] = "slices",
    sigma: float | None = None,
    h_factor: float = 0.8,
    patch_size: int = 5,
    patch_distance: int = 5,
    chunk_slices: int = 32,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`denoise_nl_means`, also returning a JSON-ready dict (sigma, h, mode)."""
    arr = check_volume(stack, name="stack")
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
    data = arr.astype(np.float32, copy=False)
    estimated = sigma is None
    if sigma is None:
        sigma = estimate_noise_sigma(data)
    elif not (np.isfinite(sigma) and sigma >= 0):
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
    h = float(h_factor * sigma)
    kw = dict(
        patch_size=int(patch_size),
        patch_distance=int(patch_distance),
        h=h,
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


def denoise_nl_means(
    stack: Any,
    *,
    mode: Literal["slices", "3d"] = "slices",
    sigma: float | None = None,
    h_factor: float = 0.8,
    patch_size: int = 5,
    patch_distance: int = 5,
    chunk_slices: int = 32,
    workers: int | None = None,
) -> np.ndarray:
    """Non-local means denoising of a (z, y, x) stack.

    Parameters
    ----------
    stack
        Grayscale stack, any numeric dtype (NaN not allowed); worked on as float32.
    mode
        ``"slices"``: 2D NLM per slice in parallel threads (fast, default). ``"3d"``: 3D
        NLM on overlapping chunks of ``chunk_slices`` slices (slow).
    sigma
        Noise standard deviation in the units of the stack values; estimated when None.
    h_factor
        Filter strength ``h = h_factor * sigma`` (scikit-image recommends ~0.8 with a known
        sigma in its fast mode).
    patch_size, patch_distance
        Patch edge and search radius in pixels. Defaults 5 and 5: on the phantom the PSNR
        gain is 7.82 dB with search radius 5 or 6 (radius 4: 7.78 dB) and radius 5 costs
        28 % less CPU than 6; scikit-image's 3D defaults (7 and 11) are far slower.
    chunk_slices
        Slices per chunk in ``3d`` mode.
    workers
        Threads (default: all cores).

    Returns
    -------
    ndarray
        float32 stack with the input's value range (no rescaling).
    """
    return denoise_nl_means_report(
        stack,
        mode=mode,
        sigma=sigma,
        h_factor=h_factor,
        patch_size=patch_size,
        patch_distance=patch_distance,
        chunk_slices=chunk_slices,
        workers=workers,
    )[0]
