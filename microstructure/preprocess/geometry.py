"""Geometry and intensity of a raw FIB/SEM stack: crop, tilt foreshortening, normalisation.

Dtype policy (every preprocessing function): uint8, uint16, other integer and float input is
accepted; the work is done in float32 and the functions return float32 unless stated
otherwise (:func:`remove_curtaining` keeps the input dtype when asked). Integer input is not
rescaled by these functions except by :func:`normalize_intensity`, which maps the chosen
percentiles to 0 and 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from microstructure.volume import check_volume

__all__ = [
    "as_float32",
    "crop_stack",
    "crop_slices",
    "tilt_factor",
    "correct_tilt",
    "correct_tilt_report",
    "normalize_intensity",
]


def as_float32(stack: Any, *, name: str = "stack") -> np.ndarray:
    """Validate a 3D stack and return it as float32 (a copy when the dtype changes).

    Raises
    ------
    ValueError
        For non-3D, empty, non-numeric input or NaN/inf values.
    """
    arr = check_volume(stack, name=name)
    return arr.astype(np.float32, copy=False)


def crop_stack(
    stack: Any,
    *,
    z: tuple[int, int] | None = None,
    y: tuple[int, int] | None = None,
    x: tuple[int, int] | None = None,
) -> np.ndarray:
    """Crop a (z, y, x) stack to half-open index ranges ``[start, stop)`` per axis.

    Negative indices count from the end as in Python slicing; ``None`` keeps the whole axis.
    Returns a copy (never a view of the input).

    Raises
    ------
    ValueError
        If a range is empty or outside the stack.
    """
    arr = check_volume(stack, name="stack")
    return arr[crop_slices(arr.shape, z=z, y=y, x=x)].copy()


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


def correct_tilt_report(
    stack: Any,
    *,
    angle_deg: float = 52.0,
    order: int = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`correct_tilt`, also returning a JSON-ready dict of what was done.

    The dict holds ``angle_deg``, ``nominal_factor`` (``1/sin``), ``rows_in``, ``rows_out``
    and ``actual_factor`` (``rows_out / rows_in``; the y voxel size of the output is the
    input's apparent y voxel size times ``nominal_factor / actual_factor``).
    """
    arr = as_float32(stack)
    if order not in (0, 1, 3):
        raise ValueError(f"order: interpolation order must be 0, 1 or 3, got {order!r}")
    factor = tilt_factor(angle_deg)
    nz, ny, nx = arr.shape
    ny_out = max(1, int(round(ny * factor)))
    info = {
        "angle_deg": float(angle_deg),
        "nominal_factor": factor,
        "rows_in": ny,
        "rows_out": ny_out,
        "actual_factor": ny_out / ny,
    }
    if ny_out == ny:
        return arr.copy(), info
    # Sample positions in input-row coordinates so that the first and last pixel centres
    # keep their physical positions (pixel-centre convention, edge rows clamped).
    rows = (np.arange(ny_out, dtype=np.float64) + 0.5) * (ny / ny_out) - 0.5
    rows = np.clip(rows, 0.0, ny - 1.0)
    if order == 0:
        idx = np.clip(np.round(rows).astype(np.intp), 0, ny - 1)
        return arr[:, idx, :].copy(), info
    if order == 1:
        lo = np.floor(rows).astype(np.intp)
        hi = np.minimum(lo + 1, ny - 1)
        w = (rows - lo).astype(np.float32)[None, :, None]
        out = arr[:, lo, :] * (1.0 - w) + arr[:, hi, :] * w
        return out.astype(np.float32, copy=False), info
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
    return out, info


def correct_tilt(stack: Any, *, angle_deg: float = 52.0, order: int = 1) -> np.ndarray:
    """Undo the foreshortening of FIB/SEM cross-sections by stretching y by ``1/sin(angle)``.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack; any numeric dtype (NaN not allowed).
    angle_deg
        Angle in degrees between the imaged cross-section and the electron beam (the stage
        tilt; 52 deg on the common Zeiss/FEI dual-beam instruments).
    order
        Interpolation order along y: 0 nearest, 1 linear (default), 3 cubic spline.

    Returns
    -------
    ndarray
        float32 stack of shape ``(nz, round(ny / sin(angle)), nx)``. With the input's
        apparent y pixel size ``p``, the output rows are ``p * (1/sin) * ny / ny_out`` nm
        apart (``p`` up to rounding of the row count); see :func:`correct_tilt_report`.
    """
    return correct_tilt_report(stack, angle_deg=angle_deg, order=order)[0]


def normalize_intensity(
    stack: Any,
    *,
    low_percentile: float = 0.5,
    high_percentile: float = 99.5,
    background_sigma_px: float | None = None,
    clip: bool = True,
) -> np.ndarray:
    """Percentile rescale to 0..1 (float32), optionally after removing slow shading.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack, any numeric dtype.
    low_percentile, high_percentile
        Percentiles (0..100) of the whole stack mapped to 0 and 1.
    background_sigma_px
        If given, each slice is divided by its Gaussian-blurred self (sigma in pixels,
        should be several particle diameters) and multiplied by the slice mean: removes
        detector shading / charging gradients while keeping the contrast of features much
        smaller than the sigma.
    clip
        Clip the result to [0, 1].

    Returns
    -------
    ndarray
        float32 stack in 0..1.
    """
    arr = as_float32(stack)
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ValueError(
            "low_percentile/high_percentile: need 0 <= low < high <= 100, got "
            f"{low_percentile}, {high_percentile}"
        )
    out = arr.astype(np.float32, copy=True)
    if background_sigma_px is not None:
        if not background_sigma_px > 0:
            raise ValueError(f"background_sigma_px: must be > 0, got {background_sigma_px!r}")
        for k in range(out.shape[0]):
            sl = out[k]
            lo = float(sl.min())
            # shading is multiplicative on the detector signal: divide positive intensities
            # as they are; shift only slices with values <= 0 (offset data) to positive
            shift = 0.0 if lo > 0 else 1e-3 * (float(np.ptp(sl)) + 1e-12) - lo
            pos = sl + np.float32(shift)
            bg = ndimage.gaussian_filter(pos, background_sigma_px, mode="reflect")
            out[k] = pos / bg * float(pos.mean()) - np.float32(shift)
    sample = out if out.size <= 8_000_000 else out.reshape(-1)[:: out.size // 4_000_000 + 1]
    lo, hi = np.percentile(sample, [low_percentile, high_percentile])
    if not hi > lo:
        raise ValueError(
            "stack: constant intensity between the chosen percentiles; cannot normalise "
            f"(value {lo:g})"
        )
    out -= np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out
