"""The ``geometry`` stage: crop, shading, tilt foreshortening correction, normalisation.

Wraps :func:`microstructure.preprocess.correct_geometry` (numpy in memory, Dask slab by slab
with the shading fit and percentiles of the whole stack computed first; bit-identical) and
writes a before/after figure of the middle slice.

Tilt: the foreshortening of a FIB cross-section is set by the angle under which the electron
beam views the milled face. The face contains the ion-beam direction whatever the stage tilt,
so that angle is the angle between the electron and ion columns (52 deg Thermo/FEI, 54 deg
Zeiss, 55 deg Tescan), which :mod:`microstructure.io.instrument` records as
``metadata["instrument"]["imaging_angle_deg"]`` for a recognised dual-beam. The logged stage
tilt is *not* that angle (the Helios validation slices log 16 deg: a pre-tilted holder); it
equals it only in the textbook set-up (stage at 52 deg, no pre-tilt). ``angle_deg`` in the
recipe overrides the metadata. With neither, ``auto`` leaves the stack alone and says so in
the quality flags (never a silent stretch) and ``always`` refuses to start.
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
    slice_pixel_nm,
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
    DEFAULT_HIGH_PERCENTILE,
    DEFAULT_LOW_PERCENTILE,
    DEFAULT_TILT_ORDER,
    correct_geometry,
)
from microstructure.quality import check, quality_block
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
        description="stretch y by 1/sin(angle): auto = when the imaging angle is known "
        "(angle_deg or instrument metadata) and the metadata does not say corrected",
    )
    angle_deg: float | None = Field(
        None,
        gt=0.0,
        le=90.0,
        description="angle between the electron beam and the milled face, deg (the "
        "column angle: 52 Thermo/FEI, 54 Zeiss); None = from the instrument metadata",
    )
    interpolation_order: Literal[0, 1, 3] = Field(
        DEFAULT_TILT_ORDER, description="tilt interpolation order"
    )
    normalize: bool = Field(
        _DEFAULTS["normalize"].default, description="percentile rescale to 0..1"
    )
    low_percentile: float = Field(DEFAULT_LOW_PERCENTILE, ge=0.0, le=100.0)
    high_percentile: float = Field(DEFAULT_HIGH_PERCENTILE, ge=0.0, le=100.0)
    background_sigma_px: float | Literal["auto"] | None = Field(
        _DEFAULTS["background_sigma_px"].default,
        description="shading: 'auto' = divide out a fitted smooth background when detected; "
        "a number = divide by a Gaussian blur of this sigma (px); false/None = only measure",
    )
    chunks: int | None = CHUNKS_FIELD

    @field_validator("background_sigma_px", mode="before")
    @classmethod
    def _sigma(cls, v: Any) -> Any:
        if v is False:
            return None
        if isinstance(v, int | float) and not isinstance(v, bool) and not v > 0:
            raise ValueError(f"must be > 0, 'auto' or false, got {v!r}")
        return v

    @field_validator("crop_z", "crop_y", "crop_x")
    @classmethod
    def _two(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and len(v) != 2:
            raise ValueError(f"expected [start, stop], got {v!r}")
        return v


UNKNOWN_GEOMETRY = (
    "tilt correction skipped: the imaging geometry is unknown (no instrument metadata, "
    "no angle_deg)"
)


def tilt_plan(params: GeometryParams, metadata: dict[str, Any]) -> tuple[float | None, str]:
    """The angle the stage corrects with (None: no correction) and where it comes from or
    why it is skipped.

    Raises
    ------
    ValueError
        ``tilt_correction = "always"`` with no ``angle_deg`` and no imaging angle in the
        instrument metadata.
    """
    if params.tilt_correction == "never":
        return None, "tilt_correction = never"
    if params.tilt_correction == "auto" and bool(metadata.get("tilt_corrected", False)):
        return None, "metadata says tilt_corrected"
    if params.angle_deg is not None:
        return float(params.angle_deg), "angle_deg"
    inst = metadata.get("instrument") or {}
    if inst.get("imaging_angle_deg") is not None:
        return float(inst["imaging_angle_deg"]), f"instrument metadata ({inst.get('source')})"
    if params.tilt_correction == "always":
        raise ValueError(
            "geometry: tilt_correction = 'always' but the imaging angle is unknown (no "
            "instrument metadata); set angle_deg (52 for Thermo/FEI, 54 for Zeiss dual-beams)"
        )
    return None, "unknown geometry"


def _quality(shading: dict[str, Any] | None, tilt_reason: str) -> dict[str, Any]:
    """The stage's quality block: shading left after the stage, notes on tilt and shading."""
    checks: dict[str, Any] = {}
    notes: list[str] = []
    if tilt_reason == "unknown geometry":
        notes.append(UNKNOWN_GEOMETRY)
    if shading is not None:
        left = shading.get("significant_after", shading["significant"])
        checks["shading_left"] = check(
            left,
            shading["threshold"],
            meaning="smooth background left (peak-to-peak minus 2 standard errors) relative "
            "to the phase contrast",
        )
        if shading["detected"] and shading["corrected"]:
            notes.append(
                f"shading detected ({shading['relative']:.2f} of the phase contrast) and "
                f"corrected ({shading.get('mode')})"
            )
    return quality_block(checks, notes)


def _range(v: list[int] | None) -> tuple[int, int] | None:
    return None if v is None else (int(v[0]), int(v[1]))


@register
class GeometryStage(Stage):
    name = "geometry"
    summary = (
        "crop, shading (when detected), tilt foreshortening correction (when the imaging "
        "angle is known), intensity normalisation (float32)"
    )
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
        meta = dict(volume.metadata)
        angle, reason = tilt_plan(params, meta)  # refuses an unknown angle before any work
        slab = chunked_slices(volume, params.chunks, ctx, stage="geometry", copies=7.0)
        data = stage_input(volume, slab)
        apply_tilt = angle is not None
        out, info = correct_geometry(
            data,
            crop_z=_range(params.crop_z),
            crop_y=_range(params.crop_y),
            crop_x=_range(params.crop_x),
            angle_deg=angle,
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
            tinfo = {**info["tilt"], "applied": True, "angle_from": reason}
            if vs is not None:
                vs = (vs[0], vs[1] * tinfo["nominal_factor"] / tinfo["actual_factor"], vs[2])
            meta["tilt_corrected"] = True
            meta["tilt_angle_deg"] = angle
        else:
            tinfo = {"applied": False, "reason": reason}
        numbers["tilt"] = tinfo
        if params.normalize:
            numbers["normalize"] = {
                "low_percentile": params.low_percentile,
                "high_percentile": params.high_percentile,
                "background_sigma_px": params.background_sigma_px,
            }
        if "shading" in info:
            numbers["shading"] = info["shading"]
        numbers["quality"] = _quality(info.get("shading"), reason)
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
            pixel_size_nm=_panel_pixels(volume.voxel_size_nm, vs),
        )
        return StageOutput(volume=Volume(out, vs, meta), numbers=numbers, figures=[fig])


def _panel_pixels(voxel_in: Any, voxel_out: Any) -> list[tuple[float, float]] | None:
    """(dy, dx) in nm of the input and output panels (the tilt stretch changes dy), or None
    when either voxel size is unknown (the panels then stay in pixels)."""
    a, b = slice_pixel_nm(voxel_in), slice_pixel_nm(voxel_out)
    return None if a is None or b is None else [a, b]
