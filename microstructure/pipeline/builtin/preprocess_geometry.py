"""The ``geometry`` stage: crop, tilt foreshortening correction, intensity normalisation.

Wraps :func:`microstructure.preprocess.correct_geometry` (numpy in memory, Dask slab by slab
with the percentiles of the whole stack computed first; bit-identical) and writes a before/after
figure of the middle slice.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, field_validator

from microstructure.pipeline.builtin.preprocess import (
    CHUNKS_FIELD,
    chunked_slices,
    mid_slice,
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
from microstructure.preprocess.geometry import (
    DEFAULT_ANGLE_DEG,
    DEFAULT_HIGH_PERCENTILE,
    DEFAULT_LOW_PERCENTILE,
    DEFAULT_TILT_ORDER,
    correct_geometry,
)
from microstructure.volume import Volume

__all__ = ["GeometryParams", "GeometryStage"]

_DEFAULTS = inspect.signature(correct_geometry).parameters


class GeometryParams(StageParams):
    crop_z: list[int] | None = Field(
        _DEFAULTS["crop_z"].default, description="[start, stop) slice range to keep"
    )
    crop_y: list[int] | None = Field(
        _DEFAULTS["crop_y"].default, description="[start, stop) row range to keep"
    )
    crop_x: list[int] | None = Field(
        _DEFAULTS["crop_x"].default, description="[start, stop) column range to keep"
    )
    tilt_correction: Literal["auto", "always", "never"] = Field(
        "auto",
        description="stretch y by 1/sin(angle): auto = unless the metadata says corrected",
    )
    angle_deg: float = Field(
        DEFAULT_ANGLE_DEG, gt=0.0, le=90.0, description="stage tilt in degrees"
    )
    interpolation_order: Literal[0, 1, 3] = Field(
        DEFAULT_TILT_ORDER, description="tilt interpolation order"
    )
    normalize: bool = Field(
        _DEFAULTS["normalize"].default, description="percentile rescale to 0..1"
    )
    low_percentile: float = Field(DEFAULT_LOW_PERCENTILE, ge=0.0, le=100.0)
    high_percentile: float = Field(DEFAULT_HIGH_PERCENTILE, ge=0.0, le=100.0)
    background_sigma_px: float | None = Field(
        _DEFAULTS["background_sigma_px"].default,
        gt=0.0,
        description="divide out slow shading (Gaussian sigma, pixels)",
    )
    chunks: int | None = CHUNKS_FIELD

    @field_validator("crop_z", "crop_y", "crop_x")
    @classmethod
    def _two(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and len(v) != 2:
            raise ValueError(f"expected [start, stop], got {v!r}")
        return v


def _wants_tilt(params: GeometryParams, metadata: dict[str, Any]) -> bool:
    """Whether the stage applies the tilt correction: always, or on ``auto`` when the input
    is not marked as tilt-corrected already."""
    already = bool(metadata.get("tilt_corrected", False))
    return params.tilt_correction == "always" or (params.tilt_correction == "auto" and not already)


def _tilt_skipped(params: GeometryParams) -> dict[str, Any]:
    """The stage's tilt report when it does not correct (see :func:`_wants_tilt`)."""
    reason = (
        "metadata says tilt_corrected"
        if params.tilt_correction == "auto"
        else "tilt_correction = never"
    )
    return {"applied": False, "reason": reason}


def _range(v: list[int] | None) -> tuple[int, int] | None:
    return None if v is None else (int(v[0]), int(v[1]))


@register
class GeometryStage(Stage):
    name = "geometry"
    summary = "crop, 52 deg tilt foreshortening correction, intensity normalisation (float32)"
    Params = GeometryParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked with its ``chunks`` option or above the runner's size threshold
    supports_dask = True

    def chunked_refusals(self, params: GeometryParams) -> list[str]:
        return refusals(
            correct_geometry,
            {"normalize": params.normalize, "background_sigma_px": params.background_sigma_px},
        )

    def run(self, volume: Volume, params: GeometryParams, ctx: StageContext) -> StageOutput:
        # tilt output slices are up to 1 / sin(angle) taller: ~7 input-sized copies
        slab = chunked_slices(volume, params.chunks, ctx, stage="geometry", copies=7.0)
        data = stage_input(volume, slab)
        meta = dict(volume.metadata)
        apply_tilt = _wants_tilt(params, meta)
        out, info = correct_geometry(
            data,
            crop_z=_range(params.crop_z),
            crop_y=_range(params.crop_y),
            crop_x=_range(params.crop_x),
            angle_deg=params.angle_deg if apply_tilt else None,
            order=params.interpolation_order,
            normalize=params.normalize,
            low_percentile=params.low_percentile,
            high_percentile=params.high_percentile,
            background_sigma_px=params.background_sigma_px,
            chunks=slab,
        )
        vs = volume.voxel_size_nm
        numbers: dict[str, Any] = {
            "dtype_in": str(data.dtype),
            "shape_in": [int(s) for s in data.shape],
            "crop": {"z": params.crop_z, "y": params.crop_y, "x": params.crop_x},
        }
        if apply_tilt:
            tinfo = {**info["tilt"], "applied": True}
            if vs is not None:
                vs = (vs[0], vs[1] * tinfo["nominal_factor"] / tinfo["actual_factor"], vs[2])
            meta["tilt_corrected"] = True
            meta["tilt_angle_deg"] = params.angle_deg
        else:
            tinfo = _tilt_skipped(params)
        numbers["tilt"] = tinfo
        if params.normalize:
            numbers["normalize"] = {
                "low_percentile": params.low_percentile,
                "high_percentile": params.high_percentile,
                "background_sigma_px": params.background_sigma_px,
            }
        numbers["shape_out"] = info["shape_out"]
        numbers["voxel_size_nm_out"] = list(vs) if vs is not None else None
        if slab is not None:
            numbers["chunked"] = {"slices_per_chunk": int(slab)}
        k, before = mid_slice(data)
        _, after = mid_slice(out)
        before = (before - before.min()) / (float(before.max() - before.min()) or 1.0)
        fig = save_panels(
            ctx.work_dir / "geometry.png",
            [("input (rescaled for display)", before, False), ("output", after, False)],
            f"geometry: slice {k}, {tuple(data.shape)} -> {tuple(out.shape)}",
        )
        return StageOutput(volume=Volume(out, vs, meta), numbers=numbers, figures=[fig])
