"""Chunked MIP (Dask + Zarr) against the in-memory MIP: time, peak memory, equality.

    python benchmarks/bench_chunked.py [--size 192] [--chunk 96] [--workers 2]
        [--memory-limit 1GiB] [--porosity 0.3]

Runs the all-pressure invasion radius in memory (one process) and chunked on a
dask.distributed LocalCluster whose worker processes are memory-limited, checks that the two
results agree (same intruded voxels, radii to float32 rounding), and prints a markdown table
with wall times, the ratio, the peak RSS of the main process and of each worker
(``ru_maxrss``), and the throughput.

    python benchmarks/bench_chunked.py --beyond-memory [--shape 336,1024,1024]
        [--memory-limit 768MiB] [--workers 2] [--chunk 128] [--nlm-patch-distance 2]

Beyond the memory limit: a phantom-like raw FIB/SEM stack (uint8, foreshortened particles,
curtains, shading, noise) is generated slab by slab straight into Zarr, then geometry (tilt
correction, global-percentile normalisation), curtaining, slice-wise NLM denoising, slice
alignment (the raw slices carry a known stage jitter; the positions found are checked against
it), thresholding and the chunked MIP run on a LocalCluster whose workers are limited so that the
float32 volume fits neither in one worker nor in all of them together. Every intermediate is a
Zarr array on disk. Prints wall time, throughput and the peak RSS of each worker per step.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any

import numpy as np


def spheres(n: int, porosity: float, seed: int = 0) -> np.ndarray:
    """Pore mask of overlapping solid spheres (radius 8 voxels) at about ``porosity``."""
    rng = np.random.default_rng(seed)
    solid = np.zeros((n, n, n), bool)
    r = 8
    ball = np.add.outer(np.add.outer(*(np.arange(-r, r + 1) ** 2,) * 2), np.arange(-r, r + 1) ** 2)
    ball = ball <= r * r
    target = 1.0 - porosity
    while solid.mean() < target:
        for _ in range(200):
            c = rng.integers(0, n, 3)
            sl = tuple(slice(max(0, ci - r), min(n, ci + r + 1)) for ci in c)
            bl = tuple(slice(max(0, r - ci), 2 * r + 1 - max(0, ci + r + 1 - n)) for ci in c)
            solid[sl] |= ball[bl]
    return ~solid


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--chunk", type=int, default=96)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB")
    ap.add_argument("--porosity", type=float, default=0.3)
    ap.add_argument("--beyond-memory", action="store_true", help="the out-of-core chain")
    ap.add_argument("--shape", default="336,1024,1024", help="raw stack z,y,x (beyond-memory)")
    ap.add_argument("--slices-per-chunk", type=int, default=8)
    ap.add_argument("--z-window", type=int, default=5, help="curtaining z window")
    ap.add_argument("--nlm-patch-distance", type=int, default=2)
    ap.add_argument("--max-radius-nm", type=float, default=400.0)
    ap.add_argument("--align-refine", type=int, default=3, help="align refinement passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work-dir", default=None, help="folder for the Zarr intermediates")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of each side (the fastest is reported)"
    )
    args = ap.parse_args()
    if args.beyond_memory:
        if "--memory-limit" not in " ".join(__import__("sys").argv):
            args.memory_limit = "768MiB"
        if "--chunk" not in __import__("sys").argv:
            args.chunk = 128
        beyond_memory(args)
        return

    import dask.array as da
    from distributed import LocalCluster

    from microstructure.parallel import dask_scheduler
    from microstructure.porosimetry import _core, invasion_radius

    vs = (37.2, 37.2, 37.2)
    pore = spheres(args.size, args.porosity)
    n = pore.size
    r_max = float(_core.distance_nm(pore, vs).max()) + 1.0
    # warm the numba kernels in this process
    invasion_radius(pore[:32, :32, :32], voxel_size_nm=vs)

    t_mem = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        ref = invasion_radius(pore, voxel_size_nm=vs, inlet="all")
        t_mem = min(t_mem, time.perf_counter() - t)
    rss_main = _peak_rss_mb()

    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        ) as cluster,
        dask_scheduler(cluster.scheduler_address) as client,
    ):
        client.run(
            lambda: __import__("microstructure.porosimetry", fromlist=["x"]).invasion_radius(
                np.ones((8, 8, 8), bool), voxel_size_nm=1.0
            )
        )  # warm the kernels on the workers too
        # and the chunked path's own (Zarr, the incremental flood kernel): a small volume
        invasion_radius(
            da.from_array(pore[:48, :48, :48]), voxel_size_nm=vs, max_radius_nm=r_max, chunks=24
        ).compute()
        t_chunk = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            got = invasion_radius(
                da.from_array(pore, chunks=args.chunk),
                voxel_size_nm=vs,
                inlet="all",
                max_radius_nm=r_max,
                chunks=args.chunk,
            ).compute()
            t_chunk = min(t_chunk, time.perf_counter() - t)
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    same_voxels = bool(np.array_equal(got > 0, ref > 0))
    rel = float(np.max(np.abs(got.astype(np.float64) - ref) / np.maximum(ref, 1e-30)))
    print(
        f"## Chunked MIP, {args.size}^3 overlapping spheres, porosity {pore.mean():.3f}, "
        f"chunks {args.chunk}^3, {args.workers} workers limited to {args.memory_limit}; "
        f"fastest of {args.repeat} runs each; load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| run | wall time (s) | Mvoxel/s | peak RSS (MiB) |")
    print("|---|---|---|---|")
    print(
        f"| in memory (`invasion_radius`) | {t_mem:.2f} | {n / t_mem / 1e6:.1f} | "
        f"{rss_main:.0f} (main process) |"
    )
    workers = ", ".join(f"{v:.0f}" for v in worker_rss.values())
    print(
        f"| chunked (`invasion_radius`, Dask input) | {t_chunk:.2f} | {n / t_chunk / 1e6:.1f} | "
        f"{workers} (per worker) |"
    )
    print(
        f"\nratio chunked / in memory: {t_chunk / t_mem:.2f}x; same intruded voxels: "
        f"{same_voxels}; largest relative radius difference {rel:.1e} (float32 rounding)"
    )


# --------------------------------------------------------------------------------------------
# Beyond the memory limit: a phantom-like FIB/SEM stack generated straight into Zarr, then
# geometry -> curtaining -> denoise -> threshold -> chunked MIP, every step chunk by chunk on a
# memory-limited LocalCluster, every intermediate on disk as Zarr.

SIN_TILT = float(np.sin(np.radians(52.0)))


def _particles(shape: tuple[int, int, int], solid: float, seed: int) -> np.ndarray:
    """Sphere particles (z, y_true, x, radius) in raw-pixel units filling ``solid`` of the
    volume (Boolean model: ``n = -ln(1 - solid) V / v_sphere``)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    r = rng.uniform(10.0, 22.0, 1_000_000)
    mean_vol = float(np.mean(4.0 / 3.0 * np.pi * r**3)) * SIN_TILT
    n = int(-np.log(1.0 - solid) * nz * ny * nx / mean_vol)
    c = rng.uniform(0, 1, (n, 3)) * np.array(shape, float)
    return np.column_stack([c, r[:n]])


def _jitter(nz: int, seed: int) -> np.ndarray:
    """Per-slice stage jitter (dy, dx) in raw pixels: Gaussian, sigma 1.5 px, within +-4."""
    return np.clip(np.random.default_rng([seed, 7]).normal(0.0, 1.5, (nz, 2)), -4.0, 4.0)


def _raw_slab(z0: int, z1: int, shape, particles: np.ndarray, seed: int) -> np.ndarray:
    """Raw uint8 slices ``z0:z1``: foreshortened particles (y squashed by sin 52 deg) moved by
    the slice's stage jitter (:func:`_jitter`), pore dark, curtains (vertical stripes fading
    downwards), x shading and Gaussian noise."""
    nz, ny, nx = shape
    jit = _jitter(nz, seed)[z0:z1]
    solid = np.zeros((z1 - z0, ny, nx), bool)
    near = particles[
        (particles[:, 0] + particles[:, 3] >= z0) & (particles[:, 0] - particles[:, 3] < z1)
    ]
    for cz, cy, cx, r in near:
        za, zb = max(z0, int(cz - r)), min(z1, int(cz + r) + 1)
        ya, yb = max(0, int(cy - r * SIN_TILT) - 5), min(ny, int(cy + r * SIN_TILT) + 6)
        xa, xb = max(0, int(cx - r) - 5), min(nx, int(cx + r) + 6)
        if za >= zb or ya >= yb or xa >= xb:
            continue
        jy = jit[za - z0 : zb - z0, 0][:, None, None]
        jx = jit[za - z0 : zb - z0, 1][:, None, None]
        z = (np.arange(za, zb) - cz)[:, None, None] ** 2
        y = ((np.arange(ya, yb)[None, :, None] - cy - jy) / SIN_TILT) ** 2
        x = (np.arange(xa, xb)[None, None, :] - cx - jx) ** 2
        solid[za - z0 : zb - z0, ya:yb, xa:xb] |= z + y + x <= r * r
    img = np.where(solid, np.float32(180.0), np.float32(40.0))
    srng = np.random.default_rng(seed)  # curtains: the same stripes in every slab
    cols = srng.integers(0, nx, 40)
    amp = srng.uniform(-25.0, 25.0, 40)
    width = srng.integers(2, 7, 40)
    fade = np.exp(-np.arange(ny) / (0.5 * ny)).astype(np.float32)
    stripes = np.zeros(nx, np.float32)
    for c, a, w in zip(cols, amp, width, strict=True):
        stripes[c : c + w] += a
    img += stripes[None, None, :] * fade[None, :, None]
    img *= (1.0 + 0.1 * np.arange(nx) / nx).astype(np.float32)[None, None, :]
    rng = np.random.default_rng([seed, z0])
    img += rng.normal(0.0, 15.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _write_raw(path: str, z0: int, z1: int, shape, particles, seed: int) -> int:
    import zarr

    zarr.open_array(path, mode="r+")[z0:z1] = _raw_slab(z0, z1, shape, particles, seed)
    return z1 - z0


def _warm() -> None:
    """Import and compile every kernel of the chain in this (worker) process."""
    from microstructure.porosimetry import _core
    from microstructure.preprocess import correct_tilt, denoise_nl_means, remove_curtaining

    a = np.random.default_rng(0).normal(100.0, 10.0, (6, 48, 40)).astype(np.float32)
    remove_curtaining(correct_tilt(a), z_window=3, workers=1)
    denoise_nl_means(a, sigma=10.0, patch_distance=2, workers=1)
    pore = a > 95.0
    d = _core.distance_nm(pore, (1.0, 1.0, 1.0))
    _core.paint(_core.flood(d, pore & (np.indices(a.shape)[0] == 0)), (1.0, 1.0, 1.0))
    from microstructure.porosimetry._flood_kernel import raise_bottleneck

    raise_bottleneck(d, np.zeros_like(d), _core.levels_of(d), pore)


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def beyond_memory(args: argparse.Namespace) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    import dask
    import dask.array as da
    import zarr
    from dask.utils import parse_bytes
    from distributed import LocalCluster

    from microstructure.parallel import curtaining_z_halo, dask_scheduler, map_slices
    from microstructure.porosimetry import invasion_radius
    from microstructure.preprocess import (
        align_slices_report,
        correct_geometry,
        denoise_nl_means,
        remove_curtaining,
    )
    from microstructure.preprocess.denoise import estimate_noise_sigma

    shape = tuple(int(v) for v in args.shape.split(","))
    limit = parse_bytes(args.memory_limit)
    work = Path(tempfile.mkdtemp(prefix="bench-chunked-", dir=args.work_dir))
    spc = args.slices_per_chunk
    rows: list[tuple[str, float, int, list[float]]] = []
    print(f"load before: {os.getloadavg()}", flush=True)
    try:
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=args.memory_limit,
                dashboard_address=None,
                local_directory=str(work / "dask"),
            ) as cluster,
            dask_scheduler(cluster.scheduler_address) as client,
        ):

            def step(name: str, n_vox: int, fn) -> Any:
                t = time.perf_counter()
                out = fn()
                sec = time.perf_counter() - t
                peaks = list(client.run(_worker_peak_mb).values())
                rows.append((name, sec, n_vox, peaks))
                print(
                    f"{name}: {sec:.1f} s, {n_vox / sec / 1e6:.2f} Mvoxel/s, worker peak RSS "
                    f"{', '.join(f'{p:.0f}' for p in peaks)} MiB, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                return out

            client.run(_warm)  # imports and numba compilation are not part of the timings
            raw_path = str(work / "raw.zarr")
            n_raw = int(np.prod(shape))

            def generate() -> None:
                zarr.create_array(
                    raw_path, shape=shape, chunks=(spc, shape[1], shape[2]), dtype="uint8"
                )
                parts = _particles(shape, 0.7, args.seed)
                dask.compute(
                    *[
                        dask.delayed(_write_raw)(
                            raw_path, z0, min(z0 + spc, shape[0]), shape, parts, args.seed
                        )
                        for z0 in range(0, shape[0], spc)
                    ]
                )

            step("generate raw uint8 into Zarr", n_raw, generate)
            raw = da.from_zarr(raw_path)
            geo, info = step(
                "geometry: global percentiles (tilt + sample pass)",
                n_raw,
                lambda: correct_geometry(raw, angle_deg=52.0, chunks=spc),
            )
            n_out = int(np.prod(info["shape_out"]))
            f32 = 4 * n_out
            print(
                f"tilt-corrected float32 volume: {info['shape_out']} = {f32 / 2**30:.2f} GiB; "
                f"workers: {args.workers} x {limit / 2**30:.2f} GiB = "
                f"{args.workers * limit / 2**30:.2f} GiB",
                flush=True,
            )
            step(
                "geometry: tilt + rescale -> Zarr",
                n_out,
                lambda: geo.to_zarr(str(work / "geo.zarr")),
            )
            geo = da.from_zarr(str(work / "geo.zarr"))
            halo = curtaining_z_halo(args.z_window)  # robust method, default iterations
            step(
                f"curtaining (robust, z_window {args.z_window}, z halo {halo}) -> Zarr",
                n_out,
                lambda: map_slices(
                    remove_curtaining,
                    geo,
                    slices_per_chunk=spc,
                    z_halo=halo,
                    z_window=args.z_window,
                    workers=1,
                ).to_zarr(str(work / "curt.zarr")),
            )
            curt = da.from_zarr(str(work / "curt.zarr"))
            sigma = estimate_noise_sigma(curt[:: max(1, shape[0] // 16)].compute())
            step(
                f"denoise (NLM per slice, patch distance {args.nlm_patch_distance}) -> Zarr",
                n_out,
                lambda: map_slices(
                    denoise_nl_means,
                    curt,
                    slices_per_chunk=spc,
                    mode="slices",
                    sigma=sigma,
                    patch_distance=args.nlm_patch_distance,
                    workers=1,
                ).to_zarr(str(work / "den.zarr")),
            )
            den = da.from_zarr(str(work / "den.zarr"))
            aligned, positions, ainfo = step(
                f"align: registration ({args.align_refine + 1} passes at most, 5 neighbours)",
                n_out,
                lambda: align_slices_report(den, refine=args.align_refine, chunks=spc),
            )
            step(
                "align: shift application + crop -> Zarr",
                n_out,
                lambda: aligned.to_zarr(str(work / "aligned.zarr")),
            )
            # the jitter put in, in tilt-corrected pixels, against the positions found (both
            # relative to slice 0, the found ones with the structure's slant: compare after
            # removing a linear trend from the difference)
            truth = _jitter(shape[0], args.seed) * np.array([1.0 / SIN_TILT, 1.0])
            diff = positions - (truth - truth[0])
            idx = np.arange(shape[0])
            for k in range(2):
                diff[:, k] -= np.polyval(np.polyfit(idx, diff[:, k], 1), idx)
            align_err = float(np.sqrt(np.mean(diff**2)))
            print(
                f"align: {ainfo['passes']} passes, rms error of the positions against the "
                f"jitter put in (detrended) {align_err:.3f} px; crop {ainfo['crop']}",
                flush=True,
            )
            den = da.from_zarr(str(work / "aligned.zarr"))
            n_out = int(np.prod(den.shape))
            # pore below the raw gray value 110 (between pore 40 and solid 180), normalised
            t_norm = (110.0 - info["low_value"]) / (info["high_value"] - info["low_value"])
            step(
                "threshold -> pore mask Zarr",
                n_out,
                lambda: (den < np.float32(t_norm)).to_zarr(str(work / "pore.zarr")),
            )
            pore = da.from_zarr(str(work / "pore.zarr"))
            vs = (20.0, 20.0, 20.0)
            inv = step(
                f"MIP (invasion_radius on Zarr, {args.chunk}^3 chunks, "
                f"radii <= {args.max_radius_nm:g} nm)",
                n_out,
                lambda: invasion_radius(
                    pore,
                    voxel_size_nm=vs,
                    inlet="all",
                    max_radius_nm=args.max_radius_nm,
                    chunks=args.chunk,
                    out_zarr=work / "inv.zarr",
                    resume_dir=work / "mip-work",
                ),
            )
            inv_d = inv if isinstance(inv, da.Array) else da.from_zarr(inv)
            porosity, intruded = dask.compute(pore.mean(), (inv_d > 0).mean())
    finally:
        main_peak = _peak_rss_mb()
        shutil.rmtree(work, ignore_errors=True)
    total = sum(r[1] for r in rows)
    print(
        f"\n## Beyond the memory limit: {shape[0]} x {shape[1]} x {shape[2]} uint8 raw "
        f"({n_raw / 1e6:.0f} Mvoxel) -> {info['shape_out']} float32 "
        f"({f32 / 2**30:.2f} GiB) on {args.workers} workers x {args.memory_limit}\n"
    )
    print("| step | wall time (s) | Mvoxel/s | peak RSS per worker so far (MiB) |")
    print("|---|---|---|---|")
    for name, sec, n_vox, peaks in rows:
        print(
            f"| {name} | {sec:.1f} | {n_vox / sec / 1e6:.2f} | "
            + ", ".join(f"{p:.0f}" for p in peaks)
            + " |"
        )
    print(
        f"| **whole chain** | **{total:.1f}** | **{n_out / total / 1e6:.2f}** (output voxels) | "
        f"main process {main_peak:.0f} |"
    )
    print(
        f"\nporosity of the thresholded volume {float(porosity):.3f}, intruded fraction "
        f"{float(intruded):.3f}; load average after the run {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
