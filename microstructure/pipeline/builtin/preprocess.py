"""Preprocessing stages ``geometry``, ``curtaining``, ``denoise`` and ``align``.

Each stage wraps one function of :mod:`microstructure.preprocess`, writes a before/after
figure of a slice into its work folder and reports what it did (removed stripe energy and
how stripe-like it was, noise level before and after, per-slice shifts and the trend slope).
All four produce float32 grayscale volumes.

Peak memory: about four float32 copies of the stack (input, output and two working arrays;
the curtaining ``auto`` method and the alignment hold one more).

All four also run chunked (``supports_dask = True``): when their ``chunks`` option is set, or
the input is larger than the runner's size threshold (``ctx.zarr_threshold_bytes``), they work
on slabs of whole slices with the functions of :mod:`microstructure.parallel`
(``geometry_chunked``; ``map_slices`` with the curtaining z halo; slice-wise NLM with the noise
level fixed first; ``align_chunked``: registration tasks per slab, then the slab-wise shift
application) and return a lazy Dask volume that the runner writes to Zarr chunk by chunk; the
result is bit-identical to the in-memory one. The numbers and
figures come from the sample slices the in-memory functions look at and from per-chunk sums.
Options that need the whole stack at once are a one-line ``ValueError`` naming the option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    above_size_threshold,
    in_memory,
    is_lazy,
    register,
)
from microstructure.volume import Volume

__all__ = ["GeometryStage", "CurtainingStage", "DenoiseStage", "AlignStage"]


# --------------------------------------------------------------------------- figures


def _robust_limits(*images: np.ndarray) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in images])
    lo, hi = np.percentile(vals, [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _save_panels(
    path: Path,
    panels: list[tuple[str, np.ndarray, bool]],
    title: str,
    aspect: float = 1.0,
) -> None:
    """Write a row of grayscale panels; (title, image, own_limits) per panel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shared = _robust_limits(*[img for _, img, own in panels if not own] or [panels[0][1]])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    for ax, (name, img, own) in zip(axes[0], panels, strict=True):
        if own:
            m = float(np.percentile(np.abs(img), 99.5)) or 1.0
            im = ax.imshow(img, cmap="RdBu_r", vmin=-m, vmax=m, aspect=aspect)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        else:
            ax.imshow(img, cmap="gray", vmin=shared[0], vmax=shared[1], aspect=aspect)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _mid(nz: int) -> int:
    return nz // 2


# --------------------------------------------------------------------------- chunked path

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


def _wants_tilt(params: Any, metadata: dict[str, Any]) -> bool:
    """Whether the geometry stage applies the tilt correction: always, or on ``auto`` when
    the input is not marked as tilt-corrected already."""
    already = bool(metadata.get("tilt_corrected", False))
    return params.tilt_correction == "always" or (
        params.tilt_correction == "auto" and not already
    )


def _tilt_skipped(params: Any) -> dict[str, Any]:
    """The geometry stage's tilt report when it does not correct (see :func:`_wants_tilt`)."""
    reason = (
        "metadata says tilt_corrected"
        if params.tilt_correction == "auto"
        else "tilt_correction = never"
    )
    return {"applied": False, "reason": reason}


def _curtaining_options(params: Any) -> dict[str, Any]:
    """The curtaining stage's options as keywords of ``remove_curtaining`` (no method, no
    log transform: the in-memory and the chunked path set those themselves)."""
    return dict(
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
    )


def _in_memory_only(stage: str, option: str, hint: str) -> ValueError:
    return ValueError(
        f"{option}: in-memory only; stage {stage!r} runs chunked (its `chunks` option, or a "
        f"volume above the runner's size threshold): {hint}"
    )


def _slices(data: Any, idx: Any) -> np.ndarray:
    """float32 copies of the slices ``idx`` of a numpy or Dask stack (only those are read)."""
    sub = data[np.asarray(idx, dtype=int)]
    return np.asarray(sub.compute() if is_lazy(sub) else sub).astype(np.float32, copy=False)


def _centered_sums(blocks: Any) -> Any:
    """Per-slab (count, sum, sum of squares) in float64 of a Dask array, as a Dask array."""
    import dask.array as da

    def part(b: np.ndarray) -> np.ndarray:
        v = b.astype(np.float64, copy=False)
        return np.array([[[v.size, v.sum(), np.square(v).sum()]]], dtype=np.float64)

    return da.map_blocks(
        part, blocks, dtype=np.float64, chunks=((1,) * blocks.numblocks[0], (1,), (3,))
    )


def _var_from_sums(parts: np.ndarray) -> float:
    """Population variance from per-slab (count, sum, sum of squares)."""
    p = np.asarray(parts, dtype=np.float64).reshape(-1, 3)
    n, s1, s2 = float(p[:, 0].sum()), float(p[:, 1].sum()), float(p[:, 2].sum())
    m = s1 / n
    return max(0.0, s2 / n - m * m)


CHUNKS_FIELD = Field(
    None,
    ge=1,
    description="run chunked (Dask, lazy; the runner stores the result as Zarr) with work "
    "slabs of this many whole slices; automatic when the volume exceeds the runner's size "
    "threshold. Bit-identical to the in-memory result",
)


def _range3(v: list[int] | None, name: str) -> tuple[int, int] | None:
    if v is None:
        return None
    if len(v) != 2:
        raise ValueError(f"{name}: expected [start, stop], got {v!r}")
    return (int(v[0]), int(v[1]))


# --------------------------------------------------------------------------- geometry


def _geometry_figure(
    ctx: StageContext, before: np.ndarray, after: np.ndarray, k: int, shape_in, shape_out
) -> str:
    """The geometry stage's before/after panel of slice ``k`` (input rescaled for display)."""
    fig = "geometry.png"
    b = (before - before.min()) / (float(np.ptp(before)) or 1.0)
    _save_panels(
        ctx.work_dir / fig,
        [("input (rescaled for display)", b, False), ("output", after, False)],
        f"geometry: slice {k}, {tuple(shape_in)} -> {tuple(shape_out)}",
    )
    return fig


class GeometryParams(StageParams):
    crop_z: list[int] | None = Field(None, description="[start, stop) slice range to keep")
    crop_y: list[int] | None = Field(None, description="[start, stop) row range to keep")
    crop_x: list[int] | None = Field(None, description="[start, stop) column range to keep")
    tilt_correction: Literal["auto", "always", "never"] = Field(
        "auto",
        description="stretch y by 1/sin(angle): auto = unless the metadata says corrected",
    )
    angle_deg: float = Field(52.0, gt=0.0, le=90.0, description="stage tilt in degrees")
    interpolation_order: Literal[0, 1, 3] = Field(1, description="tilt interpolation order")
    normalize: bool = Field(True, description="percentile rescale to 0..1")
    low_percentile: float = Field(0.5, ge=0.0, le=100.0)
    high_percentile: float = Field(99.5, ge=0.0, le=100.0)
    background_sigma_px: float | None = Field(
        None, gt=0.0, description="divide out slow shading (Gaussian sigma, pixels)"
    )
    chunks: int | None = CHUNKS_FIELD

    @field_validator("crop_z", "crop_y", "crop_x")
    @classmethod
    def _two(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and len(v) != 2:
            raise ValueError(f"expected [start, stop], got {v!r}")
        return v


@register
class GeometryStage(Stage):
    name = "geometry"
    summary = "crop, 52 deg tilt foreshortening correction, intensity normalisation (float32)"
    Params = GeometryParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (``geometry_chunked``) with its ``chunks`` option or above the threshold
    supports_dask = True

    def run(self, volume: Volume, params: GeometryParams, ctx: StageContext) -> StageOutput:
        from microstructure.preprocess.geometry import (
            correct_tilt_report,
            crop_stack,
            normalize_intensity,
        )

        # tilt output slices are up to 1 / sin(angle) taller: ~7 input-sized copies
        slab = chunked_slices(volume, params.chunks, ctx, stage="geometry", copies=7.0)
        if slab is not None:
            return self._run_chunked(volume, params, ctx, slab)
        data = np.asarray(in_memory(volume.data))
        dtype_in = str(data.dtype)
        before = data[_mid(data.shape[0])].astype(np.float32)
        arr = crop_stack(
            data,
            z=_range3(params.crop_z, "crop_z"),
            y=_range3(params.crop_y, "crop_y"),
            x=_range3(params.crop_x, "crop_x"),
        )
        numbers: dict[str, Any] = {
            "dtype_in": dtype_in,
            "shape_in": list(data.shape),
            "crop": {"z": params.crop_z, "y": params.crop_y, "x": params.crop_x},
        }
        vs = volume.voxel_size_nm
        meta = dict(volume.metadata)
        apply_tilt = _wants_tilt(params, meta)
        if apply_tilt:
            arr, tinfo = correct_tilt_report(
                arr, angle_deg=params.angle_deg, order=params.interpolation_order
            )
            tinfo["applied"] = True
            if vs is not None:
                vs = (vs[0], vs[1] * tinfo["nominal_factor"] / tinfo["actual_factor"], vs[2])
            meta["tilt_corrected"] = True
            meta["tilt_angle_deg"] = params.angle_deg
        else:
            arr = arr.astype(np.float32, copy=False)
            tinfo = _tilt_skipped(params)
        numbers["tilt"] = tinfo
        if params.normalize:
            if params.low_percentile >= params.high_percentile:
                raise ValueError(
                    "low_percentile/high_percentile: need low < high, got "
                    f"{params.low_percentile}, {params.high_percentile}"
                )
            arr = normalize_intensity(
                arr,
                low_percentile=params.low_percentile,
                high_percentile=params.high_percentile,
                background_sigma_px=params.background_sigma_px,
            )
            numbers["normalize"] = {
                "low_percentile": params.low_percentile,
                "high_percentile": params.high_percentile,
                "background_sigma_px": params.background_sigma_px,
            }
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        numbers["shape_out"] = list(arr.shape)
        numbers["voxel_size_nm_out"] = list(vs) if vs is not None else None
        fig = _geometry_figure(
            ctx, before, arr[_mid(arr.shape[0])], _mid(data.shape[0]), data.shape, arr.shape
        )
        return StageOutput(volume=Volume(arr, vs, meta), numbers=numbers, figures=[fig])

    @staticmethod
    def _run_chunked(
        volume: Volume, params: GeometryParams, ctx: StageContext, slab: int
    ) -> StageOutput:
        """The same steps slab by slab; the global percentiles are computed first."""
        from microstructure.parallel import geometry_chunked
        from microstructure.preprocess.geometry import correct_tilt_report, crop_slices

        data = volume.data
        shape_in = [int(s) for s in data.shape]
        if params.normalize and params.low_percentile >= params.high_percentile:
            raise ValueError(
                "low_percentile/high_percentile: need low < high, got "
                f"{params.low_percentile}, {params.high_percentile}"
            )
        cz, cy, cx = (
            _range3(params.crop_z, "crop_z"),
            _range3(params.crop_y, "crop_y"),
            _range3(params.crop_x, "crop_x"),
        )
        crop = crop_slices(tuple(shape_in), z=cz, y=cy, x=cx)
        numbers: dict[str, Any] = {
            "dtype_in": str(data.dtype),
            "shape_in": shape_in,
            "crop": {"z": params.crop_z, "y": params.crop_y, "x": params.crop_x},
        }
        vs = volume.voxel_size_nm
        meta = dict(volume.metadata)
        apply_tilt = _wants_tilt(params, meta)
        if apply_tilt:
            # the report depends on the number of rows only: one column of one slice
            ny = len(range(*crop[1].indices(shape_in[1])))
            _, tinfo = correct_tilt_report(
                np.zeros((1, ny, 1), np.float32),
                angle_deg=params.angle_deg,
                order=params.interpolation_order,
            )
            tinfo["applied"] = True
            if vs is not None:
                vs = (vs[0], vs[1] * tinfo["nominal_factor"] / tinfo["actual_factor"], vs[2])
            meta["tilt_corrected"] = True
            meta["tilt_angle_deg"] = params.angle_deg
        else:
            tinfo = _tilt_skipped(params)
        numbers["tilt"] = tinfo
        out, _ = geometry_chunked(
            data,
            crop_z=cz,
            crop_y=cy,
            crop_x=cx,
            angle_deg=params.angle_deg if apply_tilt else None,
            order=params.interpolation_order,
            normalize=params.normalize,
            low_percentile=params.low_percentile,
            high_percentile=params.high_percentile,
            background_sigma_px=params.background_sigma_px,
            slices_per_chunk=slab,
        )
        if params.normalize:
            numbers["normalize"] = {
                "low_percentile": params.low_percentile,
                "high_percentile": params.high_percentile,
                "background_sigma_px": params.background_sigma_px,
            }
        numbers["shape_out"] = [int(s) for s in out.shape]
        numbers["voxel_size_nm_out"] = list(vs) if vs is not None else None
        numbers["chunked"] = {"slices_per_chunk": int(slab)}
        k_in, k_out = _mid(shape_in[0]), _mid(int(out.shape[0]))
        before = _slices(data, [k_in])[0]
        after = np.asarray(out[k_out].compute())
        fig = _geometry_figure(ctx, before, after, k_in, tuple(shape_in), tuple(out.shape))
        return StageOutput(volume=Volume(out, vs, meta), numbers=numbers, figures=[fig])


# --------------------------------------------------------------------------- curtaining


class CurtainingParams(StageParams):
    method: Literal["robust", "wavelet-fft", "auto"] = Field(
        "robust", description="robust (finite curtains), wavelet-fft (Muench 2009) or auto"
    )
    stripe_width_px: float = Field(4.0, ge=1.0, description="widest stripe to remove (px)")
    length_px: int = Field(80, ge=3, description="robust: rows a stripe is taken as constant")
    z_window: int = Field(21, ge=1, description="robust: slices the estimate is combined over")
    threshold: float = Field(3.0, ge=0.0, description="robust: noise-floor multiple (garrote)")
    iterations: int = Field(
        4, ge=1, description="robust: passes (baseline re-taken with the stripes removed)"
    )
    edge_gamma: float = Field(
        0.5, ge=0.0, le=1.0, description="robust: one-sided baseline at edges (0 = off)"
    )
    wavelet: str = Field("db5", description="wavelet-fft: PyWavelets wavelet")
    level: int | None = Field(None, ge=1, description="wavelet-fft: level (None = automatic)")
    sigma: float = Field(2.0, gt=0.0, description="wavelet-fft: Fourier damping width")
    direction: Literal["vertical", "horizontal"] = "vertical"
    log_transform: bool = False
    chunks: int | None = CHUNKS_FIELD


@register
class CurtainingStage(Stage):
    name = "curtaining"
    summary = "remove FIB curtaining stripes; report the removed energy and its stripe-likeness"
    Params = CurtainingParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (slabs with a z halo of iterations x z_window // 2 slices)
    supports_dask = True

    def run(self, volume: Volume, params: CurtainingParams, ctx: StageContext) -> StageOutput:
        from microstructure.parallel import curtaining_z_halo
        from microstructure.preprocess.curtaining import remove_curtaining_report

        # measured: robust ~8 float32 copies of the slices of a task, wavelet-fft ~10
        halo = 0 if params.method == "wavelet-fft" else curtaining_z_halo(
            params.z_window, params.iterations
        )
        slab = chunked_slices(
            volume,
            params.chunks,
            ctx,
            stage="curtaining",
            copies=8.0 if params.method == "robust" else 10.0,
            halo=halo,
            min_slab=halo,
        )
        if slab is not None:
            return self._run_chunked(volume, params, ctx, slab)
        data = np.asarray(in_memory(volume.data))
        out, info = remove_curtaining_report(
            data,
            method=params.method,
            log_transform=params.log_transform,
            **_curtaining_options(params),
        )
        k = _mid(data.shape[0])
        before = data[k].astype(np.float32)
        removed = before - out[k]
        energy_in = float(np.mean((data.astype(np.float32) - data.mean()) ** 2))
        info["removed_fraction_of_variance"] = (
            info["removed_energy"] / energy_in if energy_in > 0 else 0.0
        )
        info["removed_is_stripe_like"] = bool(
            info["stripe_likeness"] >= 2.0 * info["isotropic_baseline"]
        )
        fig = "curtaining.png"
        _save_panels(
            ctx.work_dir / fig,
            [("input", before, False), ("destriped", out[k], False), ("removed", removed, True)],
            f"curtaining ({info['method']}): slice {k}, removed rms "
            f"{np.sqrt(info['removed_energy']):.3g}, stripe-likeness "
            f"{info['stripe_likeness']:.2f} (isotropic {info['isotropic_baseline']:.2f})",
        )
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            figures=[fig],
        )

    @staticmethod
    def _run_chunked(
        volume: Volume, params: CurtainingParams, ctx: StageContext, slab: int
    ) -> StageOutput:
        """Slabs of whole slices with the z halo that makes the robust method exact
        (:func:`~microstructure.parallel.curtaining_z_halo`; none for the per-slice
        wavelet-fft method). The report's stripe metrics come from the same sample slices
        as in memory (``auto`` compares both methods on them and keeps the lower damage
        score, as in memory), the removed fraction of variance from per-slab sums."""
        import dask
        import dask.array as da

        from microstructure.parallel import curtaining_z_halo, map_slices
        from microstructure.preprocess.curtaining import (
            _sample_slices,
            remove_curtaining,
            remove_curtaining_report,
            stripe_metrics,
        )

        if params.log_transform:
            raise _in_memory_only(
                "curtaining",
                "log_transform",
                "its offset needs the whole stack's range; set log_transform = false",
            )
        data = volume.data
        nz = int(data.shape[0])
        kw: dict[str, Any] = {**_curtaining_options(params), "log_transform": False}
        sample = _sample_slices(nz)
        in_s = _slices(data, sample)
        # validates the options and gives the report's parameters (they depend on the slice
        # size only) and the wavelet-fft metrics (per slice, as in memory); the robust
        # method's metrics are replaced by those of the real output (the probe lacks the z
        # neighbours)
        _, info = remove_curtaining_report(in_s, method=params.method, **kw)
        candidates = ["robust", "wavelet-fft"] if params.method == "auto" else [params.method]

        def chunked(method: str) -> tuple[Any, int]:
            halo = curtaining_z_halo(params.z_window, params.iterations)
            halo = halo if method == "robust" else 0
            arr = map_slices(
                remove_curtaining,
                data,
                slices_per_chunk=max(int(slab), halo),
                z_halo=halo,
                dtype=np.float32,
                workers=1,
                method=method,
                **kw,
            )
            # map_overlap widens slabs thinner than the halo; keep regular chunks for Zarr
            return arr.rechunk((int(arr.chunks[0][0]), -1, -1)), halo

        graphs = {name: chunked(name) for name in candidates}
        first = graphs[candidates[0]][0]
        src = data if is_lazy(data) else da.from_array(data, chunks=first.chunks)
        sums = _centered_sums(src.rechunk(first.chunks))
        metrics = dict(info["metrics"])
        if "robust" in graphs:
            parts, out_s = dask.compute(sums, graphs["robust"][0][sample])
            a, b = in_s - np.asarray(out_s), np.asarray(out_s)
            if params.direction == "horizontal":
                a, b = np.swapaxes(a, 1, 2), np.swapaxes(b, 1, 2)
            m = stripe_metrics(a, b)
            m["damage_score"] = m["stripe_energy_left"] + m["nonstripe_energy"]
            metrics["robust"] = m
        else:
            (parts,) = dask.compute(sums)
        chosen = min(candidates, key=lambda n: metrics[n]["damage_score"])
        out, halo = graphs[chosen]
        info["method"] = chosen
        info["metrics"] = metrics
        info.update(metrics[chosen])
        k = _mid(nz)
        out_k = np.asarray(out[k].compute())
        info["sample_slices"] = sample.tolist()
        before = _slices(data, [k])[0]
        removed = before - out_k
        energy_in = _var_from_sums(parts)
        info["removed_fraction_of_variance"] = (
            info["removed_energy"] / energy_in if energy_in > 0 else 0.0
        )
        info["removed_is_stripe_like"] = bool(
            info["stripe_likeness"] >= 2.0 * info["isotropic_baseline"]
        )
        info["chunked"] = {"slices_per_chunk": int(out.chunks[0][0]), "z_halo": halo}
        fig = "curtaining.png"
        _save_panels(
            ctx.work_dir / fig,
            [("input", before, False), ("destriped", out_k, False), ("removed", removed, True)],
            f"curtaining ({info['method']}): slice {k}, removed rms "
            f"{np.sqrt(info['removed_energy']):.3g}, stripe-likeness "
            f"{info['stripe_likeness']:.2f} (isotropic {info['isotropic_baseline']:.2f})",
        )
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            figures=[fig],
        )


# --------------------------------------------------------------------------- denoise


class DenoiseParams(StageParams):
    mode: Literal["slices", "3d"] = Field("slices", description="2D per slice or 3D chunks")
    sigma: float | None = Field(None, ge=0.0, description="noise sigma (None = estimate)")
    h_factor: float = Field(0.8, gt=0.0, description="filter strength h = h_factor * sigma")
    patch_size: int = Field(5, ge=1)
    patch_distance: int = Field(5, ge=1)
    chunk_slices: int = Field(32, ge=1, description="3d mode: slices per chunk")
    chunks: int | None = CHUNKS_FIELD


@register
class DenoiseStage(Stage):
    name = "denoise"
    summary = "non-local means (scikit-image kernels, threads over slices)"
    Params = DenoiseParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (slice mode; the noise level is fixed on sample slices first)
    supports_dask = True

    def run(self, volume: Volume, params: DenoiseParams, ctx: StageContext) -> StageOutput:
        from microstructure.preprocess.denoise import (
            denoise_nl_means_report,
            estimate_noise_sigma,
        )

        slab = chunked_slices(volume, params.chunks, ctx, stage="denoise", copies=4.0)
        if slab is not None:
            return self._run_chunked(volume, params, ctx, slab)
        data = np.asarray(in_memory(volume.data))
        out, info = denoise_nl_means_report(
            data,
            mode=params.mode,
            sigma=params.sigma,
            h_factor=params.h_factor,
            patch_size=params.patch_size,
            patch_distance=params.patch_distance,
            chunk_slices=params.chunk_slices,
        )
        # diagnostics without a reference image: the removed component should look like the
        # noise (std ~ sigma), and the noise estimated on the output should drop
        removed = data.astype(np.float32) - out
        info["removed_std"] = float(np.std(removed))
        info["removed_std_over_sigma"] = (
            info["removed_std"] / info["sigma"] if info["sigma"] > 0 else None
        )
        info["sigma_after"] = estimate_noise_sigma(out)
        info["noise_reduction_factor"] = (
            info["sigma"] / info["sigma_after"] if info["sigma_after"] > 0 else None
        )
        k = _mid(data.shape[0])
        fig = "denoise.png"
        _save_panels(
            ctx.work_dir / fig,
            [("input", data[k], False), ("denoised", out[k], False), ("removed", removed[k], True)],
            f"denoise ({params.mode}): slice {k}, sigma {info['sigma']:.3g} -> "
            f"{info['sigma_after']:.3g}",
        )
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            figures=[fig],
        )

    @staticmethod
    def _run_chunked(
        volume: Volume, params: DenoiseParams, ctx: StageContext, slab: int
    ) -> StageOutput:
        """Slice-wise NLM slab by slab with the noise level of the whole stack fixed first
        (estimated on the same sample slices as in memory). ``sigma_after`` is estimated on
        the denoised sample slices, the removed component's std from per-slab sums; the
        filter runs once for these and once more when the runner writes the result."""
        import dask
        import dask.array as da

        from microstructure.parallel import map_slices
        from microstructure.preprocess.denoise import (
            denoise_nl_means,
            denoise_nl_means_report,
            estimate_noise_sigma,
        )

        if params.mode == "3d":
            raise _in_memory_only(
                "denoise",
                "mode",
                "'3d' filters overlapping chunks of chunk_slices slices "
                "in memory; use mode = 'slices'",
            )
        data = volume.data
        nz = int(data.shape[0])
        # the sample slices estimate_noise_sigma looks at (evenly spaced, up to 16)
        idx = np.unique(np.linspace(0, nz - 1, min(nz, 16)).astype(int))
        k = _mid(nz)
        in_s = _slices(data, idx)
        kw: dict[str, Any] = dict(
            mode="slices",
            h_factor=params.h_factor,
            patch_size=params.patch_size,
            patch_distance=params.patch_distance,
        )
        # validates the options; the noise level of the sample slices is the whole stack's
        sigma = params.sigma
        if sigma is None:
            sigma = estimate_noise_sigma(in_s, max_slices=len(idx))
        out_s, info = denoise_nl_means_report(in_s, sigma=float(sigma), workers=1, **kw)
        info["sigma_estimated"] = params.sigma is None
        sigma = info["sigma"]
        if sigma == 0.0:
            out = map_slices(_as_float32, data, slices_per_chunk=slab, dtype=np.float32)
        else:
            out = map_slices(
                denoise_nl_means,
                data,
                slices_per_chunk=slab,
                dtype=np.float32,
                sigma=sigma,
                workers=1,
                **kw,
            )
        src = data if is_lazy(data) else da.from_array(data, chunks=out.chunks)
        removed = src.rechunk(out.chunks).astype(np.float32) - out
        parts, out_k = dask.compute(_centered_sums(removed), out[k])
        out_k = np.asarray(out_k)
        info["removed_std"] = float(np.sqrt(_var_from_sums(parts)))
        info["removed_std_over_sigma"] = (
            info["removed_std"] / info["sigma"] if info["sigma"] > 0 else None
        )
        info["sigma_after"] = estimate_noise_sigma(out_s, max_slices=len(idx))
        info["noise_reduction_factor"] = (
            info["sigma"] / info["sigma_after"] if info["sigma_after"] > 0 else None
        )
        info["chunked"] = {"slices_per_chunk": int(slab)}
        before = _slices(data, [k])[0]
        fig = "denoise.png"
        _save_panels(
            ctx.work_dir / fig,
            [
                ("input", before, False),
                ("denoised", out_k, False),
                ("removed", before - out_k, True),
            ],
            f"denoise ({params.mode}): slice {k}, sigma {info['sigma']:.3g} -> "
            f"{info['sigma_after']:.3g}",
        )
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            figures=[fig],
        )


def _as_float32(block: np.ndarray) -> np.ndarray:
    return np.asarray(block).astype(np.float32, copy=True)


# --------------------------------------------------------------------------- align


#: rows on each side of a reslice's source row shifted with it (the cubic spline prefilter's
#: influence decays by 0.268 per row: 0.268**24 ~ 2e-14)
RESLICE_BAND_ROWS = 24


def _slices_row(data: Any, row: int) -> np.ndarray:
    """float32 z-x reslice ``data[:, row, :]`` of a numpy or Dask stack."""
    sub = data[:, int(row), :]
    return np.asarray(sub.compute() if is_lazy(sub) else sub).astype(np.float32, copy=False)


def _row_block(
    block: np.ndarray,
    *,
    shifts_px: np.ndarray,
    row: int,
    order: int,
    cols: tuple[int, int],
    block_info: dict | None = None,
) -> np.ndarray:
    from microstructure.preprocess.align import shift_slice

    z0 = int(block_info[0]["array-location"][0][0]) if block_info else 0
    ny = block.shape[1]
    out = np.empty((block.shape[0], 1, cols[1] - cols[0]), dtype=np.float32)
    for k in range(block.shape[0]):
        # out[row] = in[row - dy]: shift a band of rows around row - dy by the fractional
        # part of dy and take the row the integer part points at
        dy, dx = (float(v) for v in shifts_px[z0 + k])
        whole = int(round(dy))
        src = row - whole
        lo = max(0, src - RESLICE_BAND_ROWS)
        hi = min(ny, src + RESLICE_BAND_ROWS + 1)
        band = shift_slice(block[k, lo:hi], np.array([dy - whole, dx]), order)
        out[k, 0] = band[min(max(src - lo, 0), hi - lo - 1), cols[0] : cols[1]]
    return out


def aligned_row(
    stack: Any,
    shifts_px: np.ndarray,
    row: int,
    *,
    order: int,
    crop: dict[str, Any],
    slices_per_chunk: int,
) -> np.ndarray:
    """Row ``row`` (of the cropped output) of every slice shifted by ``shifts_px``: the
    aligned z-x reslice, computed slab by slab from a band of rows around each slice's source
    row instead of shifting whole slices (equal to the full shift to ~1e-12 relative)."""
    import dask.array as da

    arr = stack if is_lazy(stack) else da.from_array(stack)
    arr = arr.rechunk((int(slices_per_chunk), -1, -1))
    r = int(row) + int(crop["y"][0])
    cols = (int(crop["x"][0]), int(crop["x"][1]))
    res = arr.map_blocks(
        _row_block,
        shifts_px=np.asarray(shifts_px, dtype=np.float64),
        row=r,
        order=int(order),
        cols=cols,
        dtype=np.float32,
        chunks=(arr.chunks[0], (1,), (cols[1] - cols[0],)),
    )
    return np.asarray(res.compute())[:, 0, :]


def _registration_slices(shape: tuple[int, ...], slab: int, neighbors: int) -> int | None:
    """Slices per registration task of the chunked align stage: ``4 * neighbors`` (the
    default of :func:`~microstructure.parallel.align_chunked`), fewer (not below ``slab``)
    when a worker memory limit is known and a task (plus ``neighbors`` slices read before it,
    ~3 float32 copies) would not fit."""
    from microstructure.parallel.scheduler import task_budget_bytes

    budget = task_budget_bytes()
    if budget is None:
        return None
    per_slice = 3 * 4 * int(shape[1]) * int(shape[2])
    return max(int(slab), min(4 * int(neighbors), int(budget // per_slice) - int(neighbors)))


class AlignParams(StageParams):
    keep_trend: bool = Field(True, description="remove only jitter around a smooth trend")
    trend_degree: int = Field(1, ge=0, le=5)
    neighbors: int = Field(5, ge=1, description="predecessors each slice is registered to")
    upsample_factor: int = Field(20, ge=1)
    bandpass_px: list[float] = Field([1.0, 10.0], description="[fine, coarse] DoG sigmas, px")
    refine: int = Field(3, ge=0, description="extra passes on pre-aligned slices")
    order: Literal[1, 3] = 3
    crop: bool = True
    roi: list[float] | None = Field(None, description="[y0, y1, x0, x1] in slice 0's frame")
    chunks: int | None = CHUNKS_FIELD

    @field_validator("bandpass_px")
    @classmethod
    def _band(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or not (0 <= v[0] < v[1]):
            raise ValueError(f"expected [fine, coarse] with 0 <= fine < coarse, got {v!r}")
        return v


@register
class AlignStage(Stage):
    name = "align"
    summary = "multi-reference least-squares slice alignment; keeps the trend by default"
    Params = AlignParams
    consumes = "grayscale"
    produces = "grayscale"
    #: runs chunked (registration tasks per slab, then the slab-wise shift application)
    supports_dask = True

    def run(self, volume: Volume, params: AlignParams, ctx: StageContext) -> StageOutput:
        from microstructure.parallel import align_chunked
        from microstructure.preprocess.align import align_slices_report

        options: dict[str, Any] = dict(
            keep_trend=params.keep_trend,
            trend_degree=params.trend_degree,
            neighbors=params.neighbors,
            upsample_factor=params.upsample_factor,
            bandpass_px=(params.bandpass_px[0], params.bandpass_px[1]),
            roi=None if params.roi is None else tuple(params.roi),
            refine=params.refine,
            order=params.order,
            crop=params.crop,
            voxel_size_nm=volume.voxel_size_nm,
        )
        slab = chunked_slices(volume, params.chunks, ctx, stage="align", copies=4.0)
        if slab is None:
            data = np.asarray(in_memory(volume.data))
            aligned, shifts, info = align_slices_report(data, **options)
            row_in = data[:, data.shape[1] // 2, :]
            row_out = aligned[:, aligned.shape[1] // 2, :]
        else:
            # registration tasks per slab, then a lazy slab-wise shift application that the
            # runner writes to Zarr; the figure's aligned reslice is computed on its own
            data = volume.data
            resume = None if ctx.chunk_dir is None else Path(ctx.chunk_dir) / "align"
            aligned, shifts, info = align_chunked(
                data,
                slices_per_chunk=slab,
                registration_slices=_registration_slices(data.shape, slab, params.neighbors),
                resume_dir=resume,
                **options,
            )
            row_in = _slices_row(data, data.shape[1] // 2)
            row_out = aligned_row(
                data,
                -np.asarray(info["applied_shifts_px"]),
                aligned.shape[1] // 2,
                order=params.order,
                crop=info["crop"],
                slices_per_chunk=slab,
            )
        applied = np.asarray(info.pop("applied_shifts_px"))
        trend = np.asarray(info.pop("trend_px"))
        nz = int(data.shape[0])
        table = {
            "z": np.arange(nz),
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
        figs = self._figures(ctx.work_dir, row_in, row_out, shifts, trend, info)
        return StageOutput(
            volume=Volume(aligned, volume.voxel_size_nm, dict(volume.metadata)),
            numbers=info,
            tables={"shifts": table},
            figures=figs,
        )

    @staticmethod
    def _figures(
        work: Path,
        row_in: np.ndarray,
        row_out: np.ndarray,
        shifts: np.ndarray,
        trend: np.ndarray,
        info: dict[str, Any],
    ) -> list[str]:
        """``row_in``/``row_out``: z-x reslices through the middle row of the input and of
        the aligned stack."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        # a z-x reslice through the middle row shows the jitter best (before/after)
        fig = "align.png"
        _save_panels(
            work / fig,
            [("z-x reslice, input", row_in, False), ("aligned", row_out, False)],
            "align: z (down) vs x reslice through the middle row",
            aspect=1.0,
        )
        fig2 = "align_shifts.png"
        f, ax = plt.subplots(figsize=(6.5, 3.6))
        z = np.arange(shifts.shape[0])
        ax.plot(z, shifts[:, 0], label="dy measured")
        ax.plot(z, shifts[:, 1], label="dx measured")
        ax.plot(z, trend[:, 0], "--", label="dy trend (kept)")
        ax.plot(z, trend[:, 1], "--", label="dx trend (kept)")
        ax.set_xlabel("slice")
        ax.set_ylabel("shift (px)")
        ax.legend(fontsize=8)
        slope = info.get("trend_slope_px_per_slice", [0.0, 0.0])
        ax.set_title(
            f"slices relative to slice 0; trend {slope[0]:.3f}, {slope[1]:.3f} px/slice",
            fontsize=9,
        )
        f.tight_layout()
        f.savefig(work / fig2, dpi=90)
        plt.close(f)
        return [fig, fig2]
