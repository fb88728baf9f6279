"""The ``align`` stage: multi-reference least-squares slice alignment, removing all drift
unless a (geometric) trend is asked for; drift removed/kept and the re-measured residual in
``numbers["quality"]``.

Wraps :func:`microstructure.preprocess.align_slices_report` (numpy in memory; on Dask,
registration tasks per group of slices and a slab-wise shift application; bit-identical; the
registration is kept in the stage's chunk folder so an interrupted run does not register
again), writes the shifts table, a z-x reslice before/after and the shifts against the slice.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from microstructure.pipeline.builtin.preprocess import (
    CHUNKS_FIELD,
    chunked_slices,
    refusals,
    save_panels,
    stage_input,
)
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    register,
)
from microstructure.preprocess.align import (
    DEFAULT_BANDPASS_PX,
    DEFAULT_NEIGHBORS,
    DEFAULT_ORDER,
    DEFAULT_REFINE,
    DEFAULT_REFINE_TOL_PX,
    DEFAULT_TILE_PX,
    DEFAULT_TREND_DEGREE,
    DEFAULT_UPSAMPLE_FACTOR,
    align_slices_report,
    aligned_reslice,
)
from microstructure.volume import Volume

__all__ = ["AlignParams", "AlignStage"]

_DEFAULTS = inspect.signature(align_slices_report).parameters


class AlignParams(StageParams):
    keep_trend: bool = Field(
        _DEFAULTS["keep_trend"].default,
        description="keep a smooth trend (only the geometric face recession belongs)",
    )
    expected_trend_nm_per_slice: list[float] | None = Field(
        _DEFAULTS["expected_trend_nm_per_slice"].default,
        description="[dy, dx] nm/slice the kept trend may be (geometry)",
    )
    slice_thickness_nm: float | None = Field(
        _DEFAULTS["slice_thickness_nm"].default, gt=0.0, description="face recession: slice"
    )
    tilt_deg: float | None = Field(
        _DEFAULTS["tilt_deg"].default, gt=0.0, lt=90.0, description="face recession: SEM-FIB"
    )
    tilt_corrected: bool = Field(
        _DEFAULTS["tilt_corrected"].default, description="y already stretched by 1/sin(tilt)"
    )
    trend_degree: int = Field(DEFAULT_TREND_DEGREE, ge=0, le=5)
    neighbors: int = Field(
        DEFAULT_NEIGHBORS, ge=1, description="predecessors each slice is registered to"
    )
    upsample_factor: int = Field(DEFAULT_UPSAMPLE_FACTOR, ge=1)
    bandpass_px: list[float] = Field(
        list(DEFAULT_BANDPASS_PX), description="[fine, coarse] DoG sigmas, px"
    )
    refine: int = Field(DEFAULT_REFINE, ge=0, description="extra passes on pre-aligned slices")
    refine_tol_px: float = Field(
        DEFAULT_REFINE_TOL_PX, ge=0.0, description="refinement stops below this change, px"
    )
    tile_px: int = Field(
        DEFAULT_TILE_PX,
        ge=0,
        le=512,
        description="tiles of the whole-field registration, px (median of tile shifts; 0 = off)",
    )
    order: Literal[1, 3] = DEFAULT_ORDER
    crop: bool = Field(
        _DEFAULTS["crop"].default, description="crop to the region valid in every slice"
    )
    roi: list[float] | Literal["auto"] | None = Field(
        _DEFAULTS["roi"].default,
        description="[y0, y1, x0, x1] in slice 0's frame (e.g. a fiducial cap), or 'auto': "
        "find a band that does not change with depth",
    )
    drop_reference: bool = Field(
        _DEFAULTS["drop_reference"].default,
        description="with roi 'auto': cut a reference band found at an edge (a cap) off the output",
    )
    chunks: int | None = CHUNKS_FIELD

    @field_validator("bandpass_px")
    @classmethod
    def _band(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or not (0 <= v[0] < v[1]):
            raise ValueError(f"expected [fine, coarse] with 0 <= fine < coarse, got {v!r}")
        return v


def _shifts_figure(path: Path, shifts: np.ndarray, trend: np.ndarray, info: dict[str, Any]) -> str:
    """Measured shifts and the kept trend against the slice index."""
    from microstructure.plot import new_figure, save_figure

    fig = new_figure((6.5, 3.6))
    ax = fig.add_subplot()
    z = np.arange(shifts.shape[0])
    ax.plot(z, shifts[:, 0], label="dy measured")
    ax.plot(z, shifts[:, 1], label="dx measured")
    ax.plot(z, trend[:, 0], "--", label="dy trend (kept)")
    ax.plot(z, trend[:, 1], "--", label="dx trend (kept)")
    ax.set_xlabel("slice (index)")
    ax.set_ylabel("shift (px)")
    ax.legend(fontsize=8)
    slope = info.get("trend_slope_px_per_slice", [0.0, 0.0])
    ax.set_title(
        f"slices relative to slice 0; trend {slope[0]:.3f}, {slope[1]:.3f} px/slice",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path)
    return path.name


@register
class AlignStage(Stage):
    name = "align"
    summary = "multi-reference least-squares slice alignment; removes all drift by default"
    Params = AlignParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (registration tasks per slab, then the slab-wise shift application)
    supports_dask = True

    def chunked_refusals(self, params: AlignParams) -> list[str]:
        return refusals(align_slices_report, {"roi": params.roi, "order": params.order})

    def run(self, volume: Volume, params: AlignParams, ctx: StageContext) -> StageOutput:
        slab = chunked_slices(volume, params.chunks, ctx, stage="align", copies=4.0)
        data = stage_input(volume, slab)
        aligned, shifts, info = align_slices_report(
            data,
            keep_trend=params.keep_trend,
            trend_degree=params.trend_degree,
            neighbors=params.neighbors,
            upsample_factor=params.upsample_factor,
            bandpass_px=(params.bandpass_px[0], params.bandpass_px[1]),
            roi=params.roi if params.roi is None or params.roi == "auto" else tuple(params.roi),
            refine=params.refine,
            refine_tol_px=params.refine_tol_px,
            tile_px=params.tile_px,
            order=params.order,
            crop=params.crop,
            drop_reference=params.drop_reference,
            voxel_size_nm=volume.voxel_size_nm,
            expected_trend_nm_per_slice=None
            if params.expected_trend_nm_per_slice is None
            else tuple(params.expected_trend_nm_per_slice),
            slice_thickness_nm=params.slice_thickness_nm,
            tilt_deg=params.tilt_deg,
            tilt_corrected=params.tilt_corrected,
            progress=ctx.progress.counter(total=int(data.shape[0]), message="slice pairs"),
            chunks=slab,
            resume_dir=None if ctx.chunk_dir is None else Path(ctx.chunk_dir) / "align",
        )
        # a z-x reslice through the middle row shows the jitter best (before/after)
        row_in, row_out = aligned_reslice(data, aligned, info, order=params.order)
        applied = np.asarray(info.pop("applied_shifts_px"))
        trend = np.asarray(info.pop("trend_px"))
        table = {
            "z": np.arange(int(data.shape[0])),
            "dy_px": shifts[:, 0],
            "dx_px": shifts[:, 1],
            "trend_dy_px": trend[:, 0],
            "trend_dx_px": trend[:, 1],
            "applied_dy_px": applied[:, 0],
            "applied_dx_px": applied[:, 1],
        }
        info["rms_applied_shift_px"] = float(np.sqrt(np.mean(np.sum(applied**2, axis=1))))
        if slab is not None:
            info["chunked"] = {"slices_per_chunk": int(slab)}
        vs = volume.voxel_size_nm
        figs = [
            save_panels(
                ctx.work_dir / "align.png",
                [("z-x reslice, input", row_in, False), ("aligned", row_out, False)],
                "align: z (down) vs x reslice through the middle row",
                pixel_size_nm=None if vs is None else (float(vs[0]), float(vs[2])),
                vertical_axis="z",
            ),
            _shifts_figure(ctx.work_dir / "align_shifts.png", shifts, trend, info),
        ]
        return StageOutput(
            volume=Volume(aligned, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            tables={"shifts": table},
            figures=figs,
        )
