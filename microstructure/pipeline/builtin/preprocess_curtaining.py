"""The ``curtaining`` stage: remove FIB curtaining stripes and report what was removed.

Wraps :func:`microstructure.preprocess.remove_curtaining_report` (numpy in memory; Dask slabs
with the z halo of :func:`~microstructure.preprocess.curtaining_z_halo` for the robust method;
bit-identical) and writes a before/after/removed figure of the middle slice. Its
``numbers["quality"]`` checks the stripe energy left in the stripe wedge, the energy changed
outside it and whether the removed component is stripe-like.
"""

from __future__ import annotations

import inspect
from typing import Literal

import numpy as np
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
from microstructure.preprocess.curtaining import (
    DEFAULT_DIRECTION,
    DEFAULT_EDGE_GAMMA,
    DEFAULT_ITERATIONS,
    DEFAULT_LENGTH_PX,
    DEFAULT_METHOD,
    DEFAULT_SIGMA,
    DEFAULT_STRIPE_WIDTH_PX,
    DEFAULT_STRUCTURE_MASK,
    DEFAULT_THRESHOLD,
    DEFAULT_WAVELET,
    DEFAULT_Z_WINDOW,
    MAX_ANGLE_DEG,
    curtaining_z_halo,
    remove_curtaining_report,
)
from microstructure.volume import Volume

__all__ = ["CurtainingParams", "CurtainingStage"]

_DEFAULTS = inspect.signature(remove_curtaining_report).parameters


class CurtainingParams(StageParams):
    method: Literal["fade", "robust", "wavelet-fft", "auto"] = Field(
        DEFAULT_METHOD,
        description="robust (finite curtains), fade (per-column start and fade, structure "
        "masked; slower), wavelet-fft (Muench 2009) or auto",
    )
    stripe_width_px: float = Field(
        DEFAULT_STRIPE_WIDTH_PX, ge=1.0, description="widest stripe to remove (px)"
    )
    length_px: int = Field(
        DEFAULT_LENGTH_PX, ge=3, description="robust: rows a stripe is taken as constant"
    )
    z_window: int = Field(
        DEFAULT_Z_WINDOW, ge=1, description="robust: slices the estimate is combined over"
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD, ge=0.0, description="robust: noise-floor multiple (garrote)"
    )
    iterations: int = Field(
        DEFAULT_ITERATIONS,
        ge=1,
        description="robust: passes (baseline re-taken with the stripes removed)",
    )
    edge_gamma: float = Field(
        DEFAULT_EDGE_GAMMA,
        ge=0.0,
        le=1.0,
        description="robust: one-sided baseline at edges (0 = off)",
    )
    wavelet: str = Field(DEFAULT_WAVELET, description="wavelet-fft: PyWavelets wavelet")
    level: int | None = Field(
        _DEFAULTS["level"].default, ge=1, description="wavelet-fft: level (None = automatic)"
    )
    sigma: float = Field(DEFAULT_SIGMA, gt=0.0, description="wavelet-fft: Fourier damping width")
    direction: Literal["vertical", "horizontal"] = DEFAULT_DIRECTION
    angle_deg: float | None = Field(
        _DEFAULTS["angle_deg"].default,
        ge=-MAX_ANGLE_DEG,
        le=MAX_ANGLE_DEG,
        description="curtain tilt from vertical, deg (None = estimated; 0 = vertical only)",
    )
    log_transform: bool = Field(
        _DEFAULTS["log_transform"].default,
        description="destripe log(image) (multiplicative stripes); in memory only",
    )
    cap_rows: int | None = Field(
        _DEFAULTS["cap_rows"].default,
        ge=0,
        description="rows of a protective cap at the top left untouched (None = detected)",
    )
    structure_mask: bool = Field(
        DEFAULT_STRUCTURE_MASK,
        description="robust: strong structure residues left out of the column medians",
    )
    z_adaptive: bool = Field(
        _DEFAULTS["z_adaptive"].default,
        description="robust: z window per column among z_window, ~2x and ~3x (ICI rule)",
    )
    chunks: int | None = CHUNKS_FIELD


@register
class CurtainingStage(Stage):
    name = "curtaining"
    summary = (
        "remove FIB curtaining stripes (tilt estimated); report the stripe energy left and "
        "changed outside the stripe wedge"
    )
    Params = CurtainingParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (slabs with a z halo of iterations x z_window // 2 slices)
    supports_dask = True

    def chunked_refusals(self, params: CurtainingParams) -> list[str]:
        return refusals(remove_curtaining_report, {"log_transform": params.log_transform})

    def run(self, volume: Volume, params: CurtainingParams, ctx: StageContext) -> StageOutput:
        halo = curtaining_z_halo(
            params.z_window, params.iterations, params.method, params.z_adaptive
        )
        # measured: robust ~8 float32 copies of the slices of a task, wavelet-fft ~10;
        # fade (float64 and int64 window sums of two arrays, estimate, mask): ~24 (estimated)
        slab = chunked_slices(
            volume,
            params.chunks,
            ctx,
            stage="curtaining",
            copies={"robust": 8.0, "fade": 24.0}.get(params.method, 10.0),
            halo=halo,
            min_slab=halo,
        )
        data = stage_input(volume, slab)
        out, info = remove_curtaining_report(
            data,
            method=params.method,
            stripe_width_px=params.stripe_width_px,
            length_px=params.length_px,
            z_window=params.z_window,
            threshold=params.threshold,
            iterations=params.iterations,
            edge_gamma=params.edge_gamma,
            wavelet=params.wavelet,
            level=params.level,
            sigma=params.sigma,
            direction=params.direction,
            angle_deg=params.angle_deg,
            log_transform=params.log_transform,
            cap_rows=params.cap_rows,
            structure_mask=params.structure_mask,
            z_adaptive=params.z_adaptive,
            progress=ctx.progress.counter(total=int(data.shape[0]), message="slices"),
            chunks=slab,
        )
        if slab is not None:
            info["chunked"] = {
                "slices_per_chunk": int(out.chunks[0][0]),
                "z_halo": curtaining_z_halo(
                    params.z_window, params.iterations, info["method"], params.z_adaptive
                ),
            }
        return filter_output(
            volume,
            data,
            out,
            info,
            ctx,
            name="curtaining",
            label="destriped",
            title=f"curtaining ({info['method']}, tilt {info['angle_deg']:.2f} deg): slice {{k}}, "
            f"removed rms {np.sqrt(info['removed_energy']):.3g}, stripe energy left "
            f"{info['stripe_energy_left_fraction']:.2f}, removed stripe-like "
            f"{info['removed_stripe_fraction']:.2f}",
        )
