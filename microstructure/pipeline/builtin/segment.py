"""Stage ``segment``: grayscale stack -> labels (0 pore, 1 AM), closed pores, particle sizes.

As in Beuse et al. (2021) the carbon-binder domain still counts as pore here; a later ``cbd``
stage inserts it. Numbers: AM and pore fractions, how the threshold was chosen, whether
shine-through (pore backs) was detected and removed (``segmentation.shine_through``), closed-pore
fraction / count / sizes and, with ``separate_particles``, a particle-size table; ``quality``:
threshold separability, voxels near the threshold, shine-through left (z-profile excess) and
shine-through seen in front of the solid but not removed (front/back pore asymmetry)
(:func:`microstructure.segment.shine.segment_quality`). When shine-through is seen there but
the z-profile rule does not remove it, the lit backs of the closed pores are given back to the
closed pores (``segmentation.shine_through.closed_pore_backs``, in memory only;
:mod:`microstructure.segment.closed_backs`) and the dim fronts of the solid runs along +z are
trimmed (``segmentation.shine_through.front_trim``; :mod:`microstructure.segment.front_trim`).
Figure:
``segment_overlay.png`` (the segmentation over one slice of the input).

The stage is one call of :func:`microstructure.segment.segmentation`; its options and defaults
are that function's. Peak memory: about 12 bytes per voxel for thresholds (input as float32,
masks, int32 labels of the pore space); the trainable method adds the features of ``chunk``
slices (4 bytes x features x slice size x 16).

Chunked (``supports_dask = True``): with the ``chunks`` option (slices per slab), or an input
larger than the runner's size threshold, the same call runs slab by slab (the same strided
grey-value sample as in memory, connected components merged across slabs) and returns a lazy
labels volume that the runner writes to Zarr. Result, numbers and tables are identical to the
in-memory ones; the options that need the whole stack are those declared by ``segmentation``
(:meth:`SegmentStage.chunked_refusals`); the pore-back step reads ``pore_back_slices + 1``
slices on each side of a slab. Memory of a task: about 9 bytes per voxel of one slab.
The threshold and the per-slab labelling summaries are kept in the runner's chunk folder, so an
interrupted run resumes from the finished slabs.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from microstructure.parallel.support import chunked_memory, chunked_refusals
from microstructure.pipeline.builtin.preprocess import CHUNKS_FIELD, chunked_slices
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    in_memory,
    register,
)
from microstructure.segment import Segmentation, segmentation
from microstructure.volume import Volume, require_3d

OVERLAY_FILE = "segment_overlay.png"

_DEFAULTS = inspect.signature(segmentation).parameters


def _default(name: str) -> Any:
    """The default of ``segmentation``'s keyword ``name`` (defaults live there only)."""
    return _DEFAULTS[name].default


class SegmentParams(StageParams):
    method: Literal["auto", "otsu", "multiotsu", "manual", "local", "li", "trainable"] = Field(
        _default("method"),
        description="auto (multi-Otsu upper threshold when a CBD grey level is visible, else "
        "Otsu), otsu, multiotsu, manual, local, li or trainable (random forest)",
    )
    threshold: float | None = Field(
        _default("threshold"), description="grey value for method = manual"
    )
    classes: int = Field(
        _default("classes"), ge=2, le=5, description="multi-Otsu classes (AM = brightest)"
    )
    block_size_px: int = Field(
        _default("block_size_px"), ge=3, description="odd neighbourhood of method = local"
    )
    offset: float = Field(_default("offset"), description="grey-value offset of method = local")
    hysteresis_width: float | None = Field(
        _default("hysteresis_width"),
        ge=0,
        description="half-width (grey values) of a hysteresis band, optional",
    )
    scribbles: str | None = Field(
        None,
        description="trainable: scribble volume (0 unlabelled, 1 pore/rest, 2 AM, 3 CBD) "
        "painted on this stage's input; path relative to the working directory",
    )
    model: str | None = Field(None, description="trainable: a saved model (.npz) to apply")
    n_estimators: int = Field(
        _default("n_estimators"), ge=1, le=1000, description="trainable: number of trees"
    )
    save_model: bool = Field(False, description="write the model trained from scribbles")
    refine: Literal["auto", "none", "local-means"] = Field(
        _default("refine"),
        description="local-means: boundary at the local midpoint (two-phase images); auto "
        "(default): local-means, 10 passes, when method auto finds two phases",
    )
    refine_sigma_px: float = Field(
        _default("refine_sigma_px"), gt=0, description="window of the local means (voxels)"
    )
    pore_backs: Literal["auto", "off", "on"] = Field(
        _default("pore_backs"),
        description="shine-through: relabel pore backs (solid seen through a pore, cut only "
        "in later slices) as pore; auto = when detected (global thresholds); auto and on "
        "also complete closed pores lit by their back wall and trim the dim particle fronts "
        "when shine-through is seen in front of the solid but not removed",
    )
    pore_back_slices: int = Field(
        _default("pore_back_slices"),
        ge=1,
        le=64,
        description="slices ahead (+z) in which a pore back reaches the solid's grey value",
    )
    pore_back_rise: float = Field(
        _default("pore_back_rise"),
        gt=0,
        description="grey-value rise (x contrast) that marks a pore back",
    )
    min_speck_voxels: int = Field(
        _default("min_speck_voxels"), ge=0, description="remove AM specks below this size"
    )
    max_hole_voxels: int = Field(
        _default("max_hole_voxels"), ge=0, description="fill enclosed pores up to this size"
    )
    separate_particles: bool = Field(
        _default("separate_particles"), description="distance watershed + size table"
    )
    min_depth_nm: float | None = Field(
        _default("min_depth_nm"),
        gt=0,
        description="watershed h-maxima depth (default 2 voxel edges)",
    )
    closed_pores_per_particle: bool = Field(
        _default("closed_pores_per_particle"),
        description="count only holes of single particles (needs separate_particles)",
    )
    overlay_slice: int | None = Field(None, ge=0, description="slice of the figure (middle)")
    chunks: int | None = CHUNKS_FIELD

    @model_validator(mode="after")
    def _consistent(self) -> SegmentParams:
        if self.method == "manual" and self.threshold is None:
            raise ValueError("method 'manual' needs threshold = <grey value>")
        if self.method == "trainable":
            if (self.scribbles is None) == (self.model is None):
                raise ValueError("method 'trainable' needs exactly one of scribbles or model")
        elif self.scribbles is not None or self.model is not None:
            raise ValueError(
                f"scribbles/model: only used with method 'trainable', not {self.method!r}"
            )
        if self.save_model and self.scribbles is None:
            raise ValueError("save_model: only with scribbles (a model trained in this stage)")
        if self.closed_pores_per_particle and not self.separate_particles:
            raise ValueError("closed_pores_per_particle: needs separate_particles = true")
        if self.block_size_px % 2 == 0:
            raise ValueError(f"block_size_px: must be odd, got {self.block_size_px}")
        return self


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"d10_um": None, "d50_um": None, "d90_um": None}
    q = np.percentile(values, [10, 50, 90])
    return {"d10_um": float(q[0]), "d50_um": float(q[1]), "d90_um": float(q[2])}


def overlay_figure(
    image_slice: np.ndarray,
    am_slice: np.ndarray,
    closed_slice: np.ndarray,
    *,
    z: int,
    voxel_size_nm: tuple[float, float, float] | None,
    title: str,
) -> Any:
    """Figure: slice ``z`` of the grayscale input, and the same slice with the AM (outline +
    tint) and the closed pores (red); axes in um with a voxel size, else in pixels."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    img = np.asarray(image_slice).astype(np.float32)
    am_z = np.asarray(am_slice, dtype=bool)
    closed_z = np.asarray(closed_slice, dtype=bool)
    lo, hi = np.percentile(img, [0.5, 99.5])
    extent = None
    unit = "px"
    if voxel_size_nm is not None:
        ny, nx = img.shape
        extent = (0, nx * voxel_size_nm[2] / 1000.0, ny * voxel_size_nm[1] / 1000.0, 0)
        unit = "um"
    fig = Figure(figsize=(10, 5), dpi=120)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax in axes:
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        ax.set_xlabel(f"x ({unit})")
    axes[0].set_ylabel(f"y ({unit})")
    axes[0].set_title(f"input, slice z = {z}")
    tint = np.ma.masked_where(~am_z, np.ones(img.shape))
    axes[1].imshow(
        tint, cmap=ListedColormap(["#1f77b4"]), alpha=0.35, extent=extent, interpolation="nearest"
    )
    edge = am_z ^ _erode2d(am_z)
    axes[1].imshow(
        np.ma.masked_where(~edge, np.ones(img.shape)),
        cmap=ListedColormap(["#ffdd00"]),
        extent=extent,
        interpolation="nearest",
    )
    if closed_z.any():
        axes[1].imshow(
            np.ma.masked_where(~closed_z, np.ones(img.shape)),
            cmap=ListedColormap(["#ff2020"]),
            extent=extent,
            interpolation="nearest",
        )
    axes[1].set_title(title)
    fig.tight_layout()
    return fig


def _erode2d(m: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_erosion(m, border_value=1)


def _chunk_options(params: SegmentParams) -> dict[str, Any]:
    """The stage's keys that ``segmentation`` declares about running chunked (same names)."""
    keys = ("method", "refine", "separate_particles", "closed_pores_per_particle")
    return {k: getattr(params, k) for k in keys}


def _scribbles(params: SegmentParams, shape: tuple[int, ...]) -> np.ndarray | None:
    """The scribble volume of a trainable stage (read from its file), checked against the
    stage's input shape."""
    if params.scribbles is None:
        return None
    from microstructure.io import read_volume

    p = Path(params.scribbles)
    if not p.exists():
        raise FileNotFoundError(f"scribbles: file {p} not found")
    scrib = np.asarray(read_volume(p).data)
    if scrib.shape != tuple(shape):
        raise ValueError(
            f"scribbles: {p} has shape {scrib.shape}, the segment stage's input "
            f"{tuple(shape)}; paint on the preprocessed stack (the previous stage's volume.tif)"
        )
    return scrib


@register
class SegmentStage(Stage):
    name = "segment"
    summary = "AM vs rest (threshold or trainable), closed pores, particle sizes -> labels"
    Params = SegmentParams
    consumes = "grayscale"
    produces = "labels"
    #: 2: dim closed-pore level 0.16 -> 0.30 (2026-12-08)
    version = "2"
    #: runs chunked (global thresholds, hysteresis, cleanup, closed pores) with its ``chunks``
    #: option or above the runner's size threshold
    supports_dask = True

    def chunked_refusals(self, params: SegmentParams) -> list[str]:
        """What ``segmentation`` declares it cannot run chunked, by recipe key."""
        return chunked_refusals(segmentation, _chunk_options(params))

    def chunked_memory(self, params: SegmentParams, n_voxels: int) -> list[tuple[str, int, str]]:
        """The whole-mask particle step ``segmentation`` declares, by recipe key."""
        return chunked_memory(segmentation, _chunk_options(params), n_voxels)

    def run(self, volume: Volume, params: SegmentParams, ctx: StageContext) -> StageOutput:
        # closed pores (and particles) are 3D: a single slice would give 2D "closed" pores
        require_3d(volume.data.shape, name="stage 'segment'", what="closed pores in 3D")
        # a slab as float32, its int32 labels, masks and face layers: measured 55-75 MiB
        # above a worker's idle level for 8 MiB of float32 slab, ~8 copies
        slab = chunked_slices(volume, params.chunks, ctx, stage="segment", copies=8.0)
        if slab is not None and (refused := self.chunked_refusals(params)):
            raise ValueError(
                "stage 'segment' runs chunked (its `chunks` option, or a volume above the "
                f"runner's size threshold): {'; '.join(refused)}"
            )
        data = volume.data if slab is not None else in_memory(volume.data)
        vs = volume.voxel_size_nm
        z = _overlay_z(params, int(data.shape[0]))
        seg = segmentation(
            data,
            voxel_size_nm=(
                volume.require_voxel_size("particle separation")
                if params.separate_particles
                else vs
            ),
            method=params.method,
            threshold=params.threshold,
            classes=params.classes,
            block_size_px=params.block_size_px,
            offset=params.offset,
            hysteresis_width=params.hysteresis_width,
            model=params.model,
            scribbles=_scribbles(params, tuple(data.shape)),
            n_estimators=params.n_estimators,
            refine=params.refine,
            refine_sigma_px=params.refine_sigma_px,
            pore_backs=params.pore_backs,
            pore_back_slices=params.pore_back_slices,
            pore_back_rise=params.pore_back_rise,
            min_speck_voxels=params.min_speck_voxels,
            max_hole_voxels=params.max_hole_voxels,
            separate_particles=params.separate_particles,
            min_depth_nm=params.min_depth_nm,
            closed_pores_per_particle=params.closed_pores_per_particle,
            chunks=slab,
            # per-slab labelling summaries: an interrupted run resumes from the finished slabs
            resume_dir=None if slab is None or ctx.chunk_dir is None else ctx.chunk_dir / "segment",
        )
        if seg.trained_model is not None and params.save_model:
            seg.trained_model.save(ctx.work_dir / "segment_model.npz")
        numbers, tables = _numbers(seg, params, vs)
        if slab is not None:
            numbers["chunked"] = {"slices_per_chunk": int(slab)}
        _write_overlay(ctx.work_dir / OVERLAY_FILE, data, seg, z=z, voxel_size_nm=vs, params=params)
        meta = dict(volume.metadata)
        meta["phases"] = {"pore": 0, "am": 1}  # closed pores stay pores
        out = Volume(seg.am.astype(np.uint8), voxel_size_nm=vs, metadata=meta)
        return StageOutput(volume=out, numbers=numbers, tables=tables, figures=[OVERLAY_FILE])


def _numbers(
    seg: Segmentation, params: SegmentParams, vs: Any
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The report numbers and tables of a segmentation (the same for both paths)."""
    numbers: dict[str, Any] = {}
    if seg.trained_model is not None:
        numbers["training"] = seg.trained_model.info
    numbers["segmentation"] = {k: v for k, v in seg.info.items() if k != "quality"}
    if "quality" in seg.info:
        numbers["quality"] = seg.info["quality"]
    numbers["am_fraction"] = seg.am_fraction
    numbers["pore_fraction"] = 1.0 - numbers["am_fraction"]
    tables: dict[str, dict[str, np.ndarray]] = {}
    if seg.particle_table is not None:
        table = seg.particle_table
        tables["particles"] = table
        inner = table["touches_boundary"] == 0
        numbers["particles"] = {
            "count": int(table["particle"].size),
            "count_not_cut_by_boundary": int(np.count_nonzero(inner)),
            "equivalent_diameter_not_cut": _quantiles(table["equivalent_diameter_um"][inner]),
        }
    tables["closed_pores"] = _closed_numbers(numbers, seg.closed_pore_stats(vs), params)
    return numbers, tables


def _write_overlay(
    path: Path, data: Any, seg: Segmentation, *, z: int, voxel_size_nm: Any, params: Any
) -> None:
    """The overlay figure of slice ``z`` (a lazy input computes only that slice)."""
    import dask

    from microstructure.plot import save_figure

    image_z, am_z, closed_z = dask.compute(data[z], seg.am[z], seg.closed[z])
    used = seg.info.get("method_used", params.method)
    fig = overlay_figure(
        np.asarray(image_z),
        np.asarray(am_z),
        np.asarray(closed_z),
        z=z,
        voxel_size_nm=voxel_size_nm,
        title=f"AM ({used}): {seg.am_fraction:.1%}; closed pores red",
    )
    save_figure(fig, path, dpi=120)


def _overlay_z(params: SegmentParams, nz: int) -> int:
    """The overlay's slice (the middle by default); ValueError when outside the stack."""
    z = params.overlay_slice if params.overlay_slice is not None else nz // 2
    if z >= nz:
        raise ValueError(f"overlay_slice: {z} is outside the stack (0..{nz - 1})")
    return z


def _closed_numbers(numbers: dict, stats: dict, params: SegmentParams) -> dict[str, np.ndarray]:
    """Add the closed-pore numbers to ``numbers``; the ``closed_pores`` table."""
    # per-pore lists go to the closed_pores table, not into report.json (a seed-size
    # volume has tens of thousands of closed pores)
    numbers.update({k: v for k, v in stats.items() if not isinstance(v, list | tuple | np.ndarray)})
    numbers["closed_pores_definition"] = (
        "holes of single particles" if params.closed_pores_per_particle else "enclosed by AM"
    )
    numbers["open_pore_fraction"] = numbers["pore_fraction"] - stats["closed_pore_fraction"]
    sizes = {"voxels": np.asarray(stats["closed_pore_voxels"], dtype=np.int64)}
    if "closed_pore_equivalent_diameters_nm" in stats:
        sizes["equivalent_diameter_nm"] = np.asarray(
            stats["closed_pore_equivalent_diameters_nm"], dtype=np.float64
        )
    return sizes
