"""Chunked curtaining removal: slabs of whole slices with the z halo that makes it exact.

Used by :func:`microstructure.preprocess.remove_curtaining_report` on a Dask or Zarr input (or
with ``chunks``). The robust method combines the band profiles of ``z_window`` neighbouring
slices in each of its ``iterations`` passes, so a slab also reads
:func:`curtaining_z_halo` slices on each side (cropped from its result), and the last slab is
never thinner than ``z_window // 2 + 1`` slices (the z window is shifted inside the stack at
its end); the wavelet-fft method works per slice (no halo). The curtain tilt is estimated
once on the sample slices and fixed for every slab. The result is bit-identical to the
in-memory one. The report's stripe metrics come from the same sample slices as in memory
(``auto`` compares both methods on them and keeps the lower damage score, as in memory), the
removed fraction of variance from per-slab sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.chunked import map_slices
from microstructure.preprocess._chunks import centered_sums, sample_slices, slabs, var_from_sums
from microstructure.preprocess._curtain_fade import fade_noise_pairs, fade_shape_window
from microstructure.preprocess._curtain_zadapt import z_windows
from microstructure.preprocess._destripe import (
    angle_index,
    destripe,
    destripe_block,
    fade_noise,
    global_angle,
    method_metrics,
    metric_windows,
    sample_index,
)
from microstructure.preprocess._robust import DEFAULT_ITERATIONS

__all__ = ["curtaining_z_halo", "destripe_lazy"]


def _z_half(z_window: int, method: str, z_adaptive: bool = False) -> int:
    """Half-width of the widest z window one pass of ``method`` reads (with
    ``z_adaptive`` the robust method's longest window, :func:`._curtain_zadapt.z_windows`)."""
    if method == "fade":
        return fade_shape_window(z_window) // 2
    if method not in ("robust", "auto"):
        return 0
    return (z_windows(z_window, 1 << 30)[-1] if z_adaptive else int(z_window)) // 2


def curtaining_z_halo(
    z_window: int,
    iterations: int = DEFAULT_ITERATIONS,
    method: str = "robust",
    z_adaptive: bool = False,
) -> int:
    """Slices of overlap that make chunked curtaining removal exact.

    Each of the robust method's ``iterations`` passes takes a running median of the band
    profiles over ``z_window`` slices, so a slice's result depends on up to
    ``iterations * (z_window // 2)`` slices on each side; the fade method's passes read
    the long shape window (:func:`._curtain_fade.fade_shape_window`, ``3 * z_window``
    slices), after one robust pass: ``iterations * (3 * z_window // 2) + z_window // 2``;
    wavelet-fft works per slice (0). With ``z_adaptive`` the robust method reads its longest
    window (:func:`._curtain_zadapt.z_windows`): ``iterations * (3 * (z_window // 2))``.
    """
    if int(z_window) < 1 or int(iterations) < 1:
        raise ValueError(f"z_window, iterations: expected >= 1, got {z_window}, {iterations}")
    halo = int(iterations) * _z_half(z_window, method, z_adaptive)
    # the fade method starts from one pass of the robust estimate (z_window // 2 more)
    return halo + int(z_window) // 2 if method == "fade" else halo


def _slab_size(nz: int, per: int, half: int) -> int:
    """Slices per slab, at least ``per``, such that the last slab is not thinner than
    ``half + 1`` slices (or there is one slab).

    At the last slice of the stack the z median's window is shifted inside the stack, so a
    slice there reads ``2 * half`` slices back instead of ``half``: the last block (its slab
    plus the halo before it) must hold ``halo + half + 1`` slices to stay exact.
    """
    while per < nz and 0 < nz % per <= half:
        per += 1
    return per


def _graph(arr: Any, method: str, options: dict[str, Any], dtype: Any) -> Any:
    """The lazy result of one method (slabs of at least the halo; regular chunks for Zarr)."""
    adaptive = bool(options.get("z_adaptive", False))
    halo = curtaining_z_halo(options["z_window"], options["iterations"], method, adaptive)
    per = max(int(arr.chunks[0][0]), halo)
    if halo:
        per = _slab_size(int(arr.shape[0]), per, _z_half(options["z_window"], method, adaptive))
    out = map_slices(
        destripe_block,
        arr,
        slices_per_chunk=per,
        z_halo=halo,
        dtype=dtype,
        method=method,
        **options,
    )
    # map_overlap widens slabs thinner than the halo; keep regular chunks for Zarr
    return out.rechunk((int(out.chunks[0][0]), -1, -1))


def destripe_lazy(
    stack: Any, chunks: Any, *, method: str, report: bool, **options: Any
) -> tuple[Any, dict[str, Any] | None]:
    """Lazy destriped stack and (with ``report``) the report of the in-memory path.

    The options are validated, and the report's parameters found (they depend on the slice
    size only), by the in-memory function on the sample slices; the robust method's metrics
    are those of the real output (the sample slices alone lack their z neighbours). Without
    ``report`` nothing is computed except for ``method="auto"``, which needs the metrics to
    choose.
    """
    import dask

    arr = slabs(stack, chunks)
    nz = int(arr.shape[0])
    dtype = arr.dtype if options["keep_dtype"] else np.float32
    sample = sample_index(nz)
    windows = metric_windows(nz)
    union = windows[0]
    in_s = sample_slices(arr, sample)
    angle_requested = options["angle_deg"]
    if angle_requested is None:  # estimated on more slices than the sample
        options = {
            **options,
            "angle_deg": global_angle(
                sample_slices(arr, angle_index(nz)),
                in_s,
                cap_rows=options["cap_rows"],
                direction=options["direction"],
                stripe_width_px=options["stripe_width_px"],
            ),
        }
    _, info = destripe(in_s, workers=1, method=method, **{**options, "keep_dtype": False})
    info["angle_requested"] = angle_requested
    # the tilt is a global parameter: fixed on its slices (above) before slabbing
    # and so is the protective cap left out at the top
    options = {**options, "angle_deg": info["angle_deg"], "cap_rows": info["cap_rows"]}
    if method == "fade":  # and so is the noise, measured on pairs of neighbouring slices
        pairs = sample_slices(arr, fade_noise_pairs(nz)).astype(np.float32)
        if options["direction"] == "horizontal":
            pairs = np.swapaxes(pairs, 1, 2)
        pairs = pairs[:, info["cap_rows"] :]
        options["noise"] = fade_noise(
            pairs, info["angle_deg"], options["stripe_width_px"], options["edge_gamma"]
        )
        info["fade_noise"] = [float(v) for v in options["noise"]]
    candidates = ["robust", "wavelet-fft"] if method == "auto" else [method]
    graphs = {name: _graph(arr, name, options, dtype) for name in candidates}
    if not report and method != "auto":
        return graphs[method], None
    sums = centered_sums(arr.rechunk(graphs[candidates[0]].chunks))
    in_u = sample_slices(arr, union)
    outs: dict[str, np.ndarray] = {}
    zdep = [n for n in ("robust", "fade") if n in graphs]  # need z neighbours: real output
    if zdep:
        parts, out_u = dask.compute(sums, graphs[zdep[0]][union])
        outs[zdep[0]] = np.asarray(out_u, dtype=np.float32)
    else:
        (parts,) = dask.compute(sums)
    if "wavelet-fft" in graphs:  # per slice: the neighbours of the samples alone suffice
        opts = {**options, "keep_dtype": False}
        outs["wavelet-fft"] = destripe(in_u, workers=1, method="wavelet-fft", **opts)[0]
    metrics = {}
    for name in candidates:
        a, b = in_u, outs[name]
        if options["direction"] == "horizontal":
            a, b = np.swapaxes(a, 1, 2), np.swapaxes(b, 1, 2)
        cap = info["cap_rows"]  # judged below the cap, as in memory
        metrics[name] = method_metrics(a[:, cap:], b[:, cap:], info["angle_deg"], windows)
    chosen = min(candidates, key=lambda n: metrics[n]["damage_score"])
    info["method"] = chosen
    info["metrics"] = metrics
    info.update(metrics[chosen])
    info["sample_slices"] = sample.tolist()
    info["variance_in"] = var_from_sums(parts)
    return graphs[chosen], info
