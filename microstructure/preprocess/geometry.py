"""Geometry and intensity of a raw FIB/SEM stack: crop, tilt foreshortening, normalisation.

Dtype policy (every preprocessing function): uint8, uint16, other integer and float input is
accepted; the work is done in float32 and the functions return float32 unless stated
otherwise (:func:`remove_curtaining` keeps the input dtype when asked). Integer input is not
rescaled by these functions except by :func:`normalize_intensity`, which maps the chosen
percentiles to 0 and 1.

On a Dask or Zarr input (or with ``chunks``) every function here runs slab by slab of whole
slices (:mod:`._geometry_chunked`; the normalisation's percentiles of the whole stack are
computed first) and returns a lazy result, bit-identical to the in-memory one.
:func:`correct_geometry` is the chain the ``geometry`` stage runs.

References
----------
Beuse, T. et al. (2021). Batteries 7, 70 (porosity methods and the FIB/SEM model this package
follows). doi:10.3390/batteries7040070
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from microstructure.parallel.support import chunked_support
from microstructure.preprocess._chunks import finish, runs_chunked, slabs
from microstructure.preprocess._geometry_chunked import normalize_lazy, tilt_lazy
from microstructure.preprocess._geometry_kernels import (
    DEFAULT_ANGLE_DEG,
    DEFAULT_HIGH_PERCENTILE,
    DEFAULT_LOW_PERCENTILE,
    DEFAULT_TILT_ORDER,
    check_limits,
    check_normalize,
    crop_slices,
    remove_shading,
    rescale,
    sample_step,
    tilt_factor,
    tilt_info,
    tilt_rows,
)
from microstructure.preprocess._geometry_shading import (
    SHADING_THRESHOLD,
    apply_fits,
    detect_shading,
    fit_shading,
    sample_indices,
    significant,
)
from microstructure.volume import check_volume

__all__ = [
    "DEFAULT_ANGLE_DEG",
    "DEFAULT_TILT_ORDER",
    "DEFAULT_LOW_PERCENTILE",
    "DEFAULT_HIGH_PERCENTILE",
    "SHADING_THRESHOLD",
    "as_float32",
    "crop_stack",
    "crop_slices",
    "tilt_factor",
    "correct_tilt",
    "correct_tilt_report",
    "normalize_intensity",
    "correct_geometry",
]

#: nothing of the geometry chain is refused chunked (every step runs slab by slab)
_CHUNKED = chunked_support()


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


@_CHUNKED
def correct_tilt_report(
    stack: Any,
    *,
    angle_deg: float = DEFAULT_ANGLE_DEG,
    order: int = DEFAULT_TILT_ORDER,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Like :func:`correct_tilt`, also returning a JSON-ready dict of what was done.

    The dict holds ``angle_deg``, ``nominal_factor`` (``1/sin``), ``rows_in``, ``rows_out``
    and ``actual_factor`` (``rows_out / rows_in``; the y voxel size of the output is the
    input's apparent y voxel size times ``nominal_factor / actual_factor``).
    """
    if runs_chunked(stack, chunks):
        arr = slabs(stack, chunks)
        info = tilt_info(int(arr.shape[1]), angle_deg, order)
        return finish(tilt_lazy(arr, ny_out=info["rows_out"], order=order), stack), info
    arr = as_float32(stack)
    info = tilt_info(arr.shape[1], angle_deg, order)
    return tilt_rows(arr, info["rows_out"], order), info


@_CHUNKED
def correct_tilt(
    stack: Any,
    *,
    angle_deg: float = DEFAULT_ANGLE_DEG,
    order: int = DEFAULT_TILT_ORDER,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Undo the foreshortening of FIB/SEM cross-sections by stretching y by ``1/sin(angle)``.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack; any numeric dtype (NaN not allowed): a numpy array (numpy
        result) or a Dask or Zarr array (lazy result, bit-identical).
    angle_deg
        Angle in degrees between the imaged cross-section and the electron beam (the stage
        tilt; 52 deg on the common Zeiss/FEI dual-beam instruments).
    order
        Interpolation order along y: 0 nearest, 1 linear (default), 3 cubic spline.
    chunks
        Slices per slab of the chunked path (default: the input's z chunks); given with a
        numpy input, the work runs chunked and the result is computed.
    resume_dir
        Accepted for a uniform signature; the lazy result holds no state worth keeping.

    Returns
    -------
    ndarray or dask.array.Array
        float32 stack of shape ``(nz, round(ny / sin(angle)), nx)``. With the input's
        apparent y pixel size ``p``, the output rows are ``p * (1/sin) * ny / ny_out`` nm
        apart (``p`` up to rounding of the row count); see :func:`correct_tilt_report`.
    """
    return correct_tilt_report(
        stack, angle_deg=angle_deg, order=order, chunks=chunks, resume_dir=resume_dir
    )[0]


def _normalize(
    arr: np.ndarray,
    *,
    low_percentile: float,
    high_percentile: float,
    background_sigma_px: float | None,
    clip: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    """In-memory normalisation of a float32 stack and its numbers."""
    check_normalize(low_percentile, high_percentile, background_sigma_px)
    out = arr.astype(np.float32, copy=True)
    if background_sigma_px is not None:
        remove_shading(out, background_sigma_px)
    step = sample_step(out.size)
    sample = out if step == 1 else out.reshape(-1)[::step]
    lo, hi = np.percentile(sample, [low_percentile, high_percentile])
    check_limits(lo, hi)
    rescale(out, lo, hi, clip)
    return out, {"low_value": float(lo), "high_value": float(hi), "n_sampled": int(sample.size)}


@_CHUNKED
def normalize_intensity(
    stack: Any,
    *,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
    background_sigma_px: float | None = None,
    clip: bool = True,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> Any:
    """Percentile rescale to 0..1 (float32), optionally after removing slow shading.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack, any numeric dtype: a numpy array (numpy result) or a Dask
        or Zarr array (lazy result, bit-identical; the percentiles are computed first).
    low_percentile, high_percentile
        Percentiles (0..100) of the whole stack mapped to 0 and 1 (of every value up to 8 M
        voxels, else of a strided sample of about 4 M of them).
    background_sigma_px
        If given, each slice is divided by its Gaussian-blurred self (sigma in pixels,
        should be several particle diameters) and multiplied by the slice mean: removes
        detector shading / charging gradients while keeping the contrast of features much
        smaller than the sigma.
    clip
        Clip the result to [0, 1].
    chunks, resume_dir
        As :func:`correct_tilt`.

    Returns
    -------
    ndarray or dask.array.Array
        float32 stack in 0..1.
    """
    return correct_geometry(
        stack,
        angle_deg=None,
        low_percentile=low_percentile,
        high_percentile=high_percentile,
        background_sigma_px=background_sigma_px,
        clip=clip,
        chunks=chunks,
        resume_dir=resume_dir,
    )[0]


def _shading(
    sample: np.ndarray, z_idx: np.ndarray, shape: tuple[int, ...], norm: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The shading report and the fits to apply (``background_sigma_px``: "auto" corrects
    when detected; a number uses the per-slice Gaussian instead; None only reports)."""
    sigma = norm["background_sigma_px"]
    fits, report = detect_shading(sample, z_idx, tuple(shape), None if sigma == "auto" else False)
    if sigma == "auto":
        norm["background_sigma_px"] = None
    elif sigma is not None:
        fixed = sample.astype(np.float32, copy=True)
        remove_shading(fixed, float(sigma))
        left = fit_shading(fixed, z_idx, tuple(shape))
        report.update(
            corrected=True,
            mode=f"gaussian, sigma {float(sigma):g} px",
            relative_after=round(left["relative"], 5),
            significant_after=round(significant(left), 5),
        )
    return fits, report


def _shade_block(block: np.ndarray, *, fits: list, shape: tuple, block_info: Any = None) -> Any:
    z0 = int(block_info[0]["array-location"][0][0])
    return apply_fits(block, np.arange(z0, z0 + block.shape[0]), fits, shape)


def _geometry_lazy(
    stack: Any, chunks: Any, crop: dict[str, Any], angle_deg: float | None, order: int, **norm: Any
) -> tuple[Any, dict[str, Any]]:
    """The chain of :func:`correct_geometry` slab by slab."""
    arr = slabs(stack, None if chunks is None else int(chunks))
    sel = crop_slices(arr.shape, **crop)
    arr = arr[tuple(sel)].rechunk((int(arr.chunks[0][0]), -1, -1))
    info: dict[str, Any] = {}
    if norm["normalize"]:
        z_idx = sample_indices(int(arr.shape[0]))
        sample = np.asarray(arr[z_idx].compute(), dtype=np.float32)
        fits, info["shading"] = _shading(sample, z_idx, arr.shape, norm)
        if fits:
            arr = arr.map_blocks(_shade_block, fits=fits, shape=tuple(arr.shape), dtype=np.float32)
    ny_out = None
    if angle_deg is not None:
        info["tilt"] = tilt_info(int(arr.shape[1]), angle_deg, order)
        ny_out = info["tilt"]["rows_out"]
    normalize = norm.pop("normalize")
    bg = norm.pop("background_sigma_px")
    bg = bg if normalize else None
    out = tilt_lazy(arr, ny_out=ny_out, order=order, background_sigma_px=bg)
    if normalize:
        out, numbers = normalize_lazy(out, **norm)
        info.update(numbers)
    return out, info


@_CHUNKED
def correct_geometry(
    stack: Any,
    *,
    crop_z: tuple[int, int] | None = None,
    crop_y: tuple[int, int] | None = None,
    crop_x: tuple[int, int] | None = None,
    angle_deg: float | None = DEFAULT_ANGLE_DEG,
    order: int = DEFAULT_TILT_ORDER,
    normalize: bool = True,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
    background_sigma_px: float | str | None = "auto",
    clip: bool = True,
    chunks: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Crop, tilt correction and percentile normalisation of a stack (the ``geometry`` stage).

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack, any real numeric dtype: a numpy array (numpy result) or a
        Dask or Zarr array (lazy result, bit-identical to the in-memory one).
    crop_z, crop_y, crop_x
        Half-open ``(start, stop)`` ranges to keep (as :func:`crop_stack`).
    angle_deg
        Stage tilt for the foreshortening correction (:func:`correct_tilt`); None skips it
        (the stack is only converted to float32).
    order
        Interpolation order of the tilt correction (0, 1 or 3).
    normalize, low_percentile, high_percentile, clip
        As :func:`normalize_intensity` (percentiles of the whole stack).
    background_sigma_px
        Shading (:mod:`._geometry_shading`): ``"auto"`` (default) fits a smooth background
        to a strided sample and divides it out when its peak-to-peak exceeds
        ``SHADING_THRESHOLD`` of the phase contrast, else leaves the stack alone; a number
        divides every slice by its Gaussian-blurred self (as :func:`normalize_intensity`);
        None only measures. Measured (and reported as ``shading``) when normalising.
    chunks
        Slices per slab of the chunked path (memory of a task: about 4 float32 copies of this
        many slices; default: the input's z chunks).
    resume_dir
        Accepted for a uniform signature; the lazy result holds no state worth keeping.

    Returns
    -------
    (ndarray or dask.array.Array, dict)
        The float32 result and what was done: ``shading`` (found, corrected, left),
        ``tilt`` (:func:`correct_tilt_report`'s dict,
        when corrected), ``shape_out``, ``rows_out`` and, when normalising, the
        ``low_value``/``high_value`` mapped to 0 and 1 and the ``n_sampled`` values.

    Raises
    ------
    ValueError
        Bad crop, angle, order or percentiles; constant intensity.
    """
    if order not in (0, 1, 3):
        raise ValueError(f"order: interpolation order must be 0, 1 or 3, got {order!r}")
    if normalize:
        check_normalize(low_percentile, high_percentile, background_sigma_px)
    crop = {"z": crop_z, "y": crop_y, "x": crop_x}
    norm = dict(
        low_percentile=low_percentile,
        high_percentile=high_percentile,
        background_sigma_px=background_sigma_px,
        clip=clip,
    )
    if runs_chunked(stack, chunks):
        out, info = _geometry_lazy(
            stack, chunks, crop, angle_deg, order, normalize=normalize, **norm
        )
        out = finish(out, stack)
    else:
        # crop_stack copies; without a crop the tilt or the normalisation make the copy
        copied = normalize or angle_deg is not None
        whole = all(v is None for v in crop.values())
        out = check_volume(stack, name="stack") if whole and copied else crop_stack(stack, **crop)
        info = {}
        if normalize:
            z_idx = sample_indices(out.shape[0])
            sample = np.asarray(out[z_idx], dtype=np.float32)
            fits, info["shading"] = _shading(sample, z_idx, out.shape, norm)
            if fits:
                out = apply_fits(out, np.arange(out.shape[0]), fits, out.shape)
        if angle_deg is not None:
            out, info["tilt"] = correct_tilt_report(out, angle_deg=angle_deg, order=order)
        else:
            out = out.astype(np.float32, copy=False)
        if normalize:
            out, numbers = _normalize(out, **norm)
            info.update(numbers)
        out = np.ascontiguousarray(out, dtype=np.float32)
    info["shape_out"] = [int(s) for s in out.shape]
    info["rows_out"] = int(out.shape[1])
    return out, info
