"""Crop, tilt foreshortening, shading and percentile rescale kernels on numpy arrays (the work
of :mod:`microstructure.preprocess.geometry`, in memory and per slab of the chunked path).

References
----------
Beuse, T. et al. (2021). Batteries 7, 70 (porosity methods and the FIB/SEM model this package
follows). doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "DEFAULT_ANGLE_DEG",
    "DEFAULT_TILT_ORDER",
    "DEFAULT_LOW_PERCENTILE",
    "DEFAULT_HIGH_PERCENTILE",
    "FULL_SAMPLE",
    "crop_slices",
    "tilt_factor",
    "tilt_info",
    "tilt_rows",
    "remove_shading",
    "sample_step",
    "rescale",
    "check_normalize",
]

#: stage tilt between the electron and ion beams on the common dual-beam instruments, deg
DEFAULT_ANGLE_DEG = 52.0
#: interpolation order of the tilt correction along y (0 nearest, 1 linear, 3 cubic)
DEFAULT_TILT_ORDER = 1
#: percentiles of the whole stack mapped to 0 and 1 by the normalisation
DEFAULT_LOW_PERCENTILE = 0.5
DEFAULT_HIGH_PERCENTILE = 99.5
#: the normalisation looks at every value up to this size, else a strided sample
FULL_SAMPLE = 8_000_000
_SAMPLE_TARGET = 4_000_000


def crop_slices(
    shape: tuple[int, ...],
    *,
    z: tuple[int, int] | None = None,
    y: tuple[int, int] | None = None,
    x: tuple[int, int] | None = None,
) -> tuple[slice, slice, slice]:
    """The (z, y, x) slices of ``[start, stop)`` crop ranges (negative = from the end).

    Raises ``ValueError`` naming the axis when a range is not a pair, empty or outside.
    """
    slices = []
    for axis, (label, rng) in enumerate((("z", z), ("y", y), ("x", x))):
        n = int(shape[axis])
        if rng is None:
            slices.append(slice(0, n))
            continue
        if len(rng) != 2:
            raise ValueError(f"crop {label}: expected (start, stop), got {rng!r}")
        start, stop = (int(v) + n if int(v) < 0 else int(v) for v in rng)
        if not 0 <= start < stop <= n:
            raise ValueError(
                f"crop {label}: range {tuple(rng)} is empty or outside the axis of length {n}"
            )
        slices.append(slice(start, stop))
    return (slices[0], slices[1], slices[2])


def tilt_factor(angle_deg: float) -> float:
    """Foreshortening stretch along y, ``1 / sin(angle_deg)`` (1.269 at the usual 52 deg).

    The SEM column views the FIB cross-section under ``angle_deg`` (the stage tilt between
    the electron and ion beams), so a true height ``h`` appears as ``h * sin(angle)``.
    """
    angle = float(angle_deg)
    if not (math.isfinite(angle) and 0.0 < angle <= 90.0):
        raise ValueError(f"angle_deg: expected a tilt angle in (0, 90] degrees, got {angle_deg!r}")
    return 1.0 / math.sin(math.radians(angle))


def tilt_info(ny: int, angle_deg: float, order: int) -> dict[str, Any]:
    """The report of :func:`~microstructure.preprocess.correct_tilt_report` for ``ny`` rows."""
    if order not in (0, 1, 3):
        raise ValueError(f"order: interpolation order must be 0, 1 or 3, got {order!r}")
    factor = tilt_factor(angle_deg)
    ny_out = max(1, int(round(ny * factor)))
    return {
        "angle_deg": float(angle_deg),
        "nominal_factor": factor,
        "rows_in": ny,
        "rows_out": ny_out,
        "actual_factor": ny_out / ny,
    }


def tilt_rows(arr: np.ndarray, ny_out: int, order: int) -> np.ndarray:
    """float32 ``arr`` (z, y, x) resampled to ``ny_out`` rows (pixel-centre convention)."""
    nz, ny, nx = arr.shape
    if ny_out == ny:
        return arr.copy()
    # Sample positions in input-row coordinates so that the first and last pixel centres
    # keep their physical positions (pixel-centre convention, edge rows clamped).
    rows = (np.arange(ny_out, dtype=np.float64) + 0.5) * (ny / ny_out) - 0.5
    rows = np.clip(rows, 0.0, ny - 1.0)
    if order == 0:
        idx = np.clip(np.round(rows).astype(np.intp), 0, ny - 1)
        return arr[:, idx, :].copy()
    if order == 1:
        lo = np.floor(rows).astype(np.intp)
        hi = np.minimum(lo + 1, ny - 1)
        w = (rows - lo).astype(np.float32)[None, :, None]
        out = arr[:, lo, :] * (1.0 - w) + arr[:, hi, :] * w
        return out.astype(np.float32, copy=False)
    out = np.empty((nz, ny_out, nx), dtype=np.float32)
    for k in range(nz):
        coeffs = ndimage.spline_filter1d(arr[k], order=3, axis=0, mode="mirror")
        out[k] = ndimage.map_coordinates(
            coeffs,
            np.meshgrid(rows, np.arange(nx, dtype=np.float64), indexing="ij"),
            order=3,
            mode="mirror",
            prefilter=False,
        )
    return out


def remove_shading(out: np.ndarray, background_sigma_px: float) -> None:
    """Divide every slice of the float32 ``out`` by its Gaussian-blurred self (in place)."""
    for k in range(out.shape[0]):
        sl = out[k]
        lo = float(sl.min())
        # shading is multiplicative on the detector signal: divide positive intensities
        # as they are; shift only slices with values <= 0 (offset data) to positive
        shift = 0.0 if lo > 0 else 1e-3 * (float(np.ptp(sl)) + 1e-12) - lo
        pos = sl + np.float32(shift)
        bg = ndimage.gaussian_filter(pos, background_sigma_px, mode="reflect")
        out[k] = pos / bg * float(pos.mean()) - np.float32(shift)


def sample_step(size: int) -> int:
    """Stride of the values the percentiles are taken of (1: every value)."""
    return 1 if size <= FULL_SAMPLE else size // _SAMPLE_TARGET + 1


def rescale(out: np.ndarray, lo: float, hi: float, clip: bool) -> None:
    """Map ``lo`` and ``hi`` to 0 and 1 in the float32 ``out`` (in place), clipped to 0..1."""
    out -= np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)


def check_normalize(
    low_percentile: float, high_percentile: float, background_sigma_px: float | str | None
) -> None:
    """One-line ``ValueError`` for bad normalisation options."""
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ValueError(
            "low_percentile/high_percentile: need 0 <= low < high <= 100, got "
            f"{low_percentile}, {high_percentile}"
        )
    if isinstance(background_sigma_px, str):
        if background_sigma_px != "auto":
            raise ValueError(
                f"background_sigma_px: expected 'auto', a number > 0 or None, "
                f"got {background_sigma_px!r}"
            )
    elif background_sigma_px is not None and not background_sigma_px > 0:
        raise ValueError(f"background_sigma_px: must be > 0, got {background_sigma_px!r}")


def check_limits(lo: float, hi: float) -> None:
    """``ValueError`` when the percentiles coincide (nothing to normalise)."""
    if not hi > lo:
        raise ValueError(
            "stack: constant intensity between the chosen percentiles; cannot normalise "
            f"(value {lo:g})"
        )
