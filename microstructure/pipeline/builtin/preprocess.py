"""Shared helpers of the preprocessing stages ``geometry``, ``curtaining``, ``denoise`` and
``align`` (:mod:`.preprocess_geometry`, :mod:`.preprocess_curtaining`,
:mod:`.preprocess_denoise`, :mod:`.preprocess_align`) and of the ``segment`` stage: when a stage
runs chunked and with which slabs (:func:`chunked_slices`), the ``chunks`` field, and the
before/after figure of a slice.

Each preprocessing stage wraps one function of :mod:`microstructure.preprocess`: ``run`` maps
its parameters to the function's keywords, calls it once and returns the volume, the report
numbers and a figure. The stage runs chunked when its ``chunks`` option is set, or when the
input is larger than the runner's size threshold (``ctx.zarr_threshold_bytes``): it then hands
the function a Dask array (slabs of whole slices) and returns the lazy result, which the runner
writes to Zarr chunk by chunk; the result is bit-identical to the in-memory one, and the
numbers and figures are computed the same way on both paths. What cannot run chunked is
declared on the function (:func:`microstructure.parallel.support.chunked_support`) and each
stage's ``chunked_refusals`` answers from that declaration.

Peak memory in memory: about four float32 copies of the stack (input, output and two working
arrays; the curtaining ``auto`` method and the alignment hold one more).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from microstructure.pipeline.stages import (
    StageContext,
    StageOutput,
    above_size_threshold,
    in_memory,
    is_lazy,
)
from microstructure.volume import Volume

__all__ = [
    "AUTO_SLAB_BYTES",
    "CHUNKS_FIELD",
    "chunked_slices",
    "stage_input",
    "mid_slice",
    "save_panels",
    "filter_output",
    "refusals",
]


#: bytes of float32 per work slab on the automatic chunked path
AUTO_SLAB_BYTES = 64 * 2**20


def chunked_slices(
    volume: Volume,
    chunks: int | None,
    ctx: StageContext,
    *,
    stage: str = "stage",
    copies: float = 4.0,
    halo: int = 0,
    min_slab: int = 1,
) -> int | None:
    """Slices per work slab when the stage runs chunked, else None.

    Chunked when the stage's ``chunks`` option is set, or when the volume is larger than the
    runner's size threshold (``ctx.zarr_threshold_bytes`` when the runner provides it, else
    :data:`microstructure.pipeline.runner.ZARR_THRESHOLD_BYTES`); then slabs of about
    :data:`AUTO_SLAB_BYTES` of float32.

    Inside :func:`~microstructure.parallel.dask_scheduler` with a known worker memory limit
    the slab is also limited so that one task fits the worker
    (:func:`~microstructure.parallel.scheduler.task_budget_bytes`): a task of ``slab`` output
    slices reads ``max(slab, min_slab) + 2 * halo`` slices and holds about ``copies`` float32
    copies of them (measured per stage). A ``chunks`` option that does not fit, or a halo
    that alone does not fit, is a one-line ``ValueError``.
    """
    from microstructure.parallel.scheduler import task_budget_bytes, worker_memory_bytes

    if chunks is None and not above_size_threshold(volume, ctx):
        return None
    nz, ny, nx = (int(s) for s in volume.shape)
    slice_bytes = 4 * ny * nx
    slab = int(chunks) if chunks is not None else max(1, min(nz, AUTO_SLAB_BYTES // slice_bytes))
    budget = task_budget_bytes()
    if budget is None:
        return slab
    per_slice = copies * slice_bytes
    fits = int(budget // per_slice) - 2 * int(halo)
    mib = 2**20
    limit = f"{worker_memory_bytes() / mib:.0f} MiB"
    if fits < max(1, int(min_slab)):
        need = (max(1, int(min_slab)) + 2 * int(halo)) * per_slice
        raise ValueError(
            f"{stage}: one task needs about {need / mib:.0f} MiB ({max(1, int(min_slab))} "
            f"slice(s) + 2 x {int(halo)} halo slices of {ny}x{nx}, ~{copies:g} float32 "
            f"copies), more than a worker with a {limit} limit can give a task "
            f"({budget / mib:.0f} MiB); give the workers more memory or crop the stack"
        )
    if chunks is not None and slab > fits:
        raise ValueError(
            f"chunks: slabs of {slab} slices (+ 2 x {int(halo)} halo) of {ny}x{nx} need about "
            f"{(slab + 2 * int(halo)) * per_slice / mib:.0f} MiB per task, more than a worker "
            f"with a {limit} limit can give a task; use chunks <= {fits} in stage {stage!r}"
        )
    return min(slab, fits)


CHUNKS_FIELD = Field(
    None,
    ge=1,
    description="run chunked (Dask, lazy; the runner stores the result as Zarr) with work "
    "slabs of this many whole slices; automatic when the volume exceeds the runner's size "
    "threshold. Bit-identical to the in-memory result",
)


def stage_input(volume: Volume, slab: int | None) -> Any:
    """The array a stage hands its function: numpy in memory, a Dask array when chunked."""
    if slab is None:
        return np.asarray(in_memory(volume.data))
    from microstructure.parallel.chunked import as_dask

    return as_dask(volume.data)


def refusals(func: Any, options: dict[str, Any]) -> list[str]:
    """``"key: reason"`` for the recipe keys (equal to the function's keywords) that ``func``
    declares it cannot run chunked."""
    from microstructure.parallel.support import chunked_refusals

    return chunked_refusals(func, options)


def mid_slice(data: Any, k: int | None = None) -> tuple[int, np.ndarray]:
    """Index and float32 copy of slice ``k`` (default the middle one) of a numpy or Dask
    stack (only that slice is read or computed)."""
    k = int(data.shape[0]) // 2 if k is None else int(k)
    sub = data[k]
    return k, np.asarray(sub.compute() if is_lazy(sub) else sub).astype(np.float32, copy=False)


def save_panels(
    path: Path,
    panels: list[tuple[str, np.ndarray, bool]],
    title: str,
    *,
    pixel_size_nm: tuple[float, float] | list[tuple[float, float]] | None = None,
    aspect: float = 1.0,
    vertical_axis: str = "y",
) -> str:
    """Write a row of image panels ((title, image, own_limits) each, see
    :func:`microstructure.plot.image_panels_figure`); return the file name.
    ``vertical_axis`` names the image rows' axis (``"z"`` for a z-x reslice)."""
    from microstructure.plot import image_panels_figure, save_figure

    fig = image_panels_figure(panels, title, pixel_size_nm=pixel_size_nm, aspect=aspect)
    if vertical_axis != "y":
        for ax in fig.axes:
            label = ax.get_ylabel()
            if label.startswith("y ("):
                ax.set_ylabel(vertical_axis + label[1:])
    save_figure(fig, path)
    return Path(path).name


def slice_pixel_nm(voxel_size_nm: Any) -> tuple[float, float] | None:
    """(dy, dx) in nm of a slice, or None when the voxel size is unknown."""
    if voxel_size_nm is None:
        return None
    return (float(voxel_size_nm[1]), float(voxel_size_nm[2]))


def filter_output(
    volume: Volume,
    data: Any,
    out: Any,
    info: dict[str, Any],
    ctx: StageContext,
    *,
    name: str,
    label: str,
    title: str,
) -> StageOutput:
    """The output of a slice filter stage (curtaining, denoise): the filtered volume with the
    input's voxel size and metadata, its numbers, and the ``NAME.png`` panel of the middle
    slice (input, ``label``, removed); ``title`` is formatted with the slice index ``k``."""
    k, before = mid_slice(data)
    _, after = mid_slice(out, k)
    fig = save_panels(
        ctx.work_dir / f"{name}.png",
        [("input", before, False), (label, after, False), ("removed", before - after, True)],
        title.format(k=k),
        pixel_size_nm=slice_pixel_nm(volume.voxel_size_nm),
    )
    return StageOutput(
        volume=Volume(out, volume.voxel_size_nm, dict(volume.metadata)),
        numbers=info,
        figures=[fig],
    )
