"""The ``denoise`` stage: non-local means set from a noise estimate valid for correlated
noise (on correlated noise followed by a z-guided average of neighbouring slices, mode
``auto``), with the noise removed, over-smoothing, z-streaks and structure lost in z judged in
``numbers["quality"]``.

Wraps :func:`microstructure.preprocess.denoise_nl_means_report` (numpy in memory; Dask slabs of
whole slices with the noise level fixed first; bit-identical) and writes an
input/denoised/removed figure of the middle slice.
"""

from __future__ import annotations

import inspect
from typing import Literal

from pydantic import Field

from microstructure.pipeline.builtin.preprocess import (
    CHUNKS_FIELD,
    chunked_slices,
    filter_output,
    refusals,
    stage_input,
)
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    register,
)
from microstructure.preprocess.denoise import (
    DEFAULT_CHUNK_SLICES,
    DEFAULT_H_FACTOR,
    DEFAULT_MODE,
    DEFAULT_PATCH_DISTANCE,
    DEFAULT_PATCH_SIZE,
    DEFAULT_Z_DEPTH,
    DEFAULT_Z_H_FACTOR,
    denoise_nl_means_report,
)
from microstructure.volume import Volume

__all__ = ["DenoiseParams", "DenoiseStage"]

_DEFAULTS = inspect.signature(denoise_nl_means_report).parameters


class DenoiseParams(StageParams):
    mode: Literal["auto", "slices", "slices_z", "3d"] = Field(
        DEFAULT_MODE,
        description="auto (slices_z on correlated noise, else slices), 2D per slice, "
        "2D per slice + z-guided averaging, or 3D chunks",
    )
    sigma: float | None = Field(
        _DEFAULTS["sigma"].default, ge=0.0, description="noise sigma (None = estimate)"
    )
    h_factor: float = Field(
        DEFAULT_H_FACTOR, gt=0.0, description="filter strength h = h_factor * sigma"
    )
    patch_size: int | None = Field(
        _DEFAULTS["patch_size"].default,
        ge=1,
        description=f"patch edge, px (None = from the noise correlation length, "
        f">= {DEFAULT_PATCH_SIZE})",
    )
    patch_distance: int = Field(DEFAULT_PATCH_DISTANCE, ge=1)
    chunk_slices: int = Field(DEFAULT_CHUNK_SLICES, ge=1, description="3d mode: slices per chunk")
    z_depth: int = Field(
        DEFAULT_Z_DEPTH, ge=1, description="slices_z: neighbouring slices averaged on each side"
    )
    z_h_factor: float = Field(
        DEFAULT_Z_H_FACTOR, gt=0.0, description="slices_z: similarity scale, noise sigmas"
    )
    chunks: int | None = CHUNKS_FIELD


@register
class DenoiseStage(Stage):
    name = "denoise"
    summary = "non-local means per slice (+ z-guided averaging on correlated noise)"
    Params = DenoiseParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (slice mode; the noise level is fixed on sample slices first)
    supports_dask = True

    def chunked_refusals(self, params: DenoiseParams) -> list[str]:
        return refusals(denoise_nl_means_report, {"mode": params.mode})

    def run(self, volume: Volume, params: DenoiseParams, ctx: StageContext) -> StageOutput:
        slab = chunked_slices(volume, params.chunks, ctx, stage="denoise", copies=4.0)
        data = stage_input(volume, slab)
        out, info = denoise_nl_means_report(
            data,
            mode=params.mode,
            sigma=params.sigma,
            h_factor=params.h_factor,
            patch_size=params.patch_size,
            patch_distance=params.patch_distance,
            chunk_slices=params.chunk_slices,
            z_depth=params.z_depth,
            z_h_factor=params.z_h_factor,
            chunks=slab,
        )
        if slab is not None:
            info["chunked"] = {"slices_per_chunk": int(slab)}
        return filter_output(
            volume,
            data,
            out,
            info,
            ctx,
            name="denoise",
            label="denoised",
            title=f"denoise ({info['mode']}): slice {{k}}, noise "
            f"{info['sigma_estimated_from_data']:.3g} -> {info['sigma_after']:.3g} "
            f"(x{info['noise_reduction_factor'] or 1:.2g} less), patch {info['patch_size']} px",
        )
