"""Stage ``segment``: grayscale stack -> labels (0 pore, 1 AM), closed pores, particle sizes.

As in seed 000 the carbon-binder domain still counts as pore here; a later ``cbd`` stage
inserts it. Numbers: AM and pore fractions, how the threshold was chosen, closed-pore
fraction / count / sizes and, with ``separate_particles``, a particle-size table. Figure:
``segment_overlay.png`` (the segmentation over one slice of the input).

Peak memory: about 12 bytes per voxel for thresholds (input as float32, masks, int32 labels
of the pore space); the trainable method adds the features of ``chunk`` slices
(4 bytes x features x slice size x 16).

Chunked (``supports_dask = True``): with the ``chunks`` option (slices per slab), or an input
larger than the runner's size threshold, the global threshold methods (auto, otsu, multiotsu,
manual, li), the hysteresis band, speck removal, hole filling and the closed pores run slab by
slab (:func:`microstructure.parallel.segment.segmentation_chunked`: the same strided grey-value
sample as in memory, connected components merged across slabs) and the stage returns a lazy
labels volume that the runner writes to Zarr. Result, numbers and tables are identical to the
in-memory ones; options that need the whole stack (local, trainable, refine, particle
separation) are a one-line ``ValueError`` naming the option. Memory of a task: about 9 bytes
per voxel of one slab. The threshold and the per-slab labelling summaries are kept in the
runner's chunk folder, so an interrupted run resumes from the finished slabs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from microstructure.pipeline.builtin.preprocess import (
    CHUNKS_FIELD,
    _in_memory_only,
    chunked_slices,
)
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    in_memory,
    register,
)
from microstructure.volume import Volume

OVERLAY_FILE = "segment_overlay.png"


class SegmentParams(StageParams):
    method: Literal["auto", "otsu", "multiotsu", "manual", "local", "li", "trainable"] = Field(
        "auto",
        description="auto (multi-Otsu upper threshold when a CBD grey level is visible, else "
        "Otsu), otsu, multiotsu, manual, local, li or trainable (random forest)",
    )
    threshold: float | None = Field(None, description="grey value for method = manual")
    classes: int = Field(3, ge=2, le=5, description="multi-Otsu classes (AM = brightest)")
    block_size_px: int = Field(51, ge=3, description="odd neighbourhood of method = local")
    offset: float = Field(0.0, description="grey-value offset of method = local")
    hysteresis_width: float | None = Field(
        None, ge=0, description="half-width (grey values) of a hysteresis band, optional"
    )
    scribbles: str | None = Field(
        None,
        description="trainable: scribble volume (0 unlabelled, 1 pore/rest, 2 AM, 3 CBD) "
        "painted on this stage's input; path relative to the working directory",
    )
    model: str | None = Field(None, description="trainable: a saved model (.joblib) to apply")
    n_estimators: int = Field(60, ge=1, le=1000, description="trainable: number of trees")
    save_model: bool = Field(False, description="write the model trained from scribbles")
    refine: Literal["none", "local-means"] = Field(
        "none", description="local-means: boundary at the local midpoint (two-phase images)"
    )
    refine_sigma_px: float = Field(4.0, gt=0, description="window of the local means (voxels)")
    min_speck_voxels: int = Field(27, ge=0, description="remove AM specks below this size")
    max_hole_voxels: int = Field(8, ge=0, description="fill enclosed pores up to this size")
    separate_particles: bool = Field(False, description="distance watershed + size table")
    min_depth_nm: float | None = Field(
        None, gt=0, description="watershed h-maxima depth (default 2 voxel edges)"
    )
    closed_pores_per_particle: bool = Field(
        False, description="count only holes of single particles (needs separate_particles)"
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


def write_overlay(
    path: Path,
    image: np.ndarray,
    am: np.ndarray,
    closed: np.ndarray,
    *,
    z: int,
    voxel_size_nm: tuple[float, float, float] | None,
    title: str,
) -> None:
    """PNG: the grayscale slice, and the same slice with AM (outline + tint) and closed pores."""
    write_overlay_slice(
        path, image[z], am[z], closed[z], z=z, voxel_size_nm=voxel_size_nm, title=title
    )


def write_overlay_slice(
    path: Path,
    image_slice: np.ndarray,
    am_slice: np.ndarray,
    closed_slice: np.ndarray,
    *,
    z: int,
    voxel_size_nm: tuple[float, float, float] | None,
    title: str,
) -> None:
    """:func:`write_overlay` from slice ``z`` of the image, the AM and the closed pores (2D)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
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
    FigureCanvasAgg(fig)
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
    fig.savefig(path)


def _erode2d(m: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_erosion(m, border_value=1)


@register
class SegmentStage(Stage):
    name = "segment"
    summary = "AM vs rest (threshold or trainable), closed pores, particle sizes -> labels"
    Params = SegmentParams
    consumes = "grayscale"
    produces = "labels"
    #: runs chunked (global thresholds, hysteresis, cleanup, closed pores) with its ``chunks``
    #: option or above the runner's size threshold
    supports_dask = True

    def run(self, volume: Volume, params: SegmentParams, ctx: StageContext) -> StageOutput:
        from microstructure.io import read_volume
        from microstructure.segment import (
            closed_pore_stats,
            closed_pores,
            particle_table,
            segment_am_report,
            separate_particles,
            train_segmenter,
        )

        # a slab as float32, its int32 labels, masks and face layers: measured 55-75 MiB
        # above a worker's idle level for 8 MiB of float32 slab, ~8 copies
        slab = chunked_slices(volume, params.chunks, ctx, stage="segment", copies=8.0)
        if slab is not None:
            return self._run_chunked(volume, params, ctx, slab)
        data = in_memory(volume.data)
        vs = volume.voxel_size_nm
        model = None
        numbers: dict = {}
        if params.method == "trainable":
            if params.scribbles is not None:
                p = Path(params.scribbles)
                if not p.exists():
                    raise FileNotFoundError(f"scribbles: file {p} not found")
                scrib = np.asarray(read_volume(p).data)
                if scrib.shape != tuple(data.shape):
                    raise ValueError(
                        f"scribbles: {p} has shape {scrib.shape}, the segment stage's input "
                        f"{tuple(data.shape)}; paint on the preprocessed stack (the previous "
                        "stage's volume.tif)"
                    )
                model = train_segmenter(data, scrib, n_estimators=params.n_estimators)
                numbers["training"] = model.info
                if params.save_model:
                    model.save(ctx.work_dir / "segment_model.joblib")
            else:
                model = params.model
        am, info = segment_am_report(
            data,
            method=params.method,
            threshold=params.threshold,
            classes=params.classes,
            block_size_px=params.block_size_px,
            offset=params.offset,
            hysteresis_width=params.hysteresis_width,
            model=model,
            refine=params.refine,
            refine_sigma_px=params.refine_sigma_px,
            min_speck_voxels=params.min_speck_voxels,
            max_hole_voxels=params.max_hole_voxels,
        )
        numbers["segmentation"] = info
        n = am.size
        numbers["am_fraction"] = float(np.count_nonzero(am)) / n
        numbers["pore_fraction"] = 1.0 - numbers["am_fraction"]
        tables: dict[str, dict[str, np.ndarray]] = {}
        particles = None
        if params.separate_particles:
            vsz = volume.require_voxel_size("particle separation")
            particles = separate_particles(am, voxel_size_nm=vsz, min_depth_nm=params.min_depth_nm)
            table = particle_table(particles, voxel_size_nm=vsz)
            tables["particles"] = table
            inner = table["touches_boundary"] == 0
            numbers["particles"] = {
                "count": int(table["particle"].size),
                "count_not_cut_by_boundary": int(np.count_nonzero(inner)),
                "equivalent_diameter_not_cut": _quantiles(table["equivalent_diameter_um"][inner]),
            }
        closed = closed_pores(am, particles=particles if params.closed_pores_per_particle else None)
        stats = closed_pore_stats(closed, voxel_size_nm=vs)
        tables["closed_pores"] = _closed_numbers(numbers, stats, params)
        labels = am.astype(np.uint8)  # 0 pore (closed pores stay pores), 1 AM
        z = _overlay_z(params, data.shape[0])
        used = info.get("method_used", params.method)
        write_overlay(
            ctx.work_dir / OVERLAY_FILE,
            np.asarray(data),
            am,
            closed,
            z=z,
            voxel_size_nm=vs,
            title=f"AM ({used}): {numbers['am_fraction']:.1%}; closed pores red",
        )
        meta = dict(volume.metadata)
        meta["phases"] = {"pore": 0, "am": 1}
        out = Volume(labels, voxel_size_nm=vs, metadata=meta)
        return StageOutput(volume=out, numbers=numbers, tables=tables, figures=[OVERLAY_FILE])

    @staticmethod
    def _run_chunked(
        volume: Volume, params: SegmentParams, ctx: StageContext, slab: int
    ) -> StageOutput:
        """Global threshold, hysteresis, cleanup and closed pores slab by slab
        (:func:`microstructure.parallel.segment.segmentation_chunked`); identical numbers,
        tables and labels (lazy) as in memory. The overlay computes the one slab it shows."""
        import dask

        from microstructure.parallel.segment import segmentation_chunked

        if params.method in ("local", "trainable"):
            raise _in_memory_only(
                "segment",
                "method",
                f"{params.method!r} needs the whole stack in memory; use auto, otsu, "
                "multiotsu, manual or li",
            )
        if params.refine != "none":
            raise _in_memory_only(
                "segment", "refine", "'local-means' iterates over the whole stack; use 'none'"
            )
        if params.separate_particles:  # closed_pores_per_particle needs it (validated)
            raise _in_memory_only(
                "segment",
                "separate_particles",
                "the watershed needs the whole AM mask; run it in memory on a sub-volume "
                "(closed pores enclosed by AM are available chunked)",
            )
        data = volume.data
        vs = volume.voxel_size_nm
        z = _overlay_z(params, int(data.shape[0]))
        seg = segmentation_chunked(
            data,
            method=params.method,
            threshold=params.threshold,
            classes=params.classes,
            hysteresis_width=params.hysteresis_width,
            min_speck_voxels=params.min_speck_voxels,
            max_hole_voxels=params.max_hole_voxels,
            slices_per_chunk=slab,
            # per-slab labelling summaries: an interrupted run resumes from the finished slabs
            resume_dir=None if ctx.chunk_dir is None else ctx.chunk_dir / "segment",
        )
        numbers: dict = {"segmentation": seg.info}
        numbers["am_fraction"] = float(seg.am_voxels) / seg.n_voxels
        numbers["pore_fraction"] = 1.0 - numbers["am_fraction"]
        tables = {"closed_pores": _closed_numbers(numbers, seg.closed_pore_stats(vs), params)}
        numbers["chunked"] = {"slices_per_chunk": int(slab)}
        image_z, am_z, closed_z = dask.compute(data[z], seg.am[z], seg.closed[z])
        used = seg.info.get("method_used", params.method)
        write_overlay_slice(
            ctx.work_dir / OVERLAY_FILE,
            np.asarray(image_z),
            np.asarray(am_z),
            np.asarray(closed_z),
            z=z,
            voxel_size_nm=vs,
            title=f"AM ({used}): {numbers['am_fraction']:.1%}; closed pores red",
        )
        meta = dict(volume.metadata)
        meta["phases"] = {"pore": 0, "am": 1}
        out = Volume(seg.am.astype(np.uint8), voxel_size_nm=vs, metadata=meta)
        return StageOutput(volume=out, numbers=numbers, tables=tables, figures=[OVERLAY_FILE])


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
