"""Chunked MIP (Dask + Zarr) against the in-memory MIP: time, peak memory, equality.

    python benchmarks/bench_chunked.py [--size 192] [--chunk 96] [--workers 2]
        [--memory-limit 1GiB] [--porosity 0.3]

Runs the all-pressure invasion radius in memory (one process) and chunked on a
dask.distributed LocalCluster whose worker processes are memory-limited, checks that the two
results agree (same intruded voxels, radii to float32 rounding), and prints a markdown table
with wall times, the ratio, the peak RSS of the main process and of each worker
(``ru_maxrss``), and the throughput.
"""

from __future__ import annotations

import argparse
import resource
import time

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
    args = ap.parse_args()

    from distributed import LocalCluster

    from microstructure.parallel import dask_scheduler, invasion_radius_chunked
    from microstructure.porosimetry import _core, invasion_radius

    vs = (37.2, 37.2, 37.2)
    pore = spheres(args.size, args.porosity)
    n = pore.size
    r_max = float(_core.distance_nm(pore, vs).max()) + 1.0
    # warm the numba kernels in this process
    invasion_radius(pore[:32, :32, :32], voxel_size_nm=vs)

    t = time.perf_counter()
    ref = invasion_radius(pore, voxel_size_nm=vs, inlet="all")
    t_mem = time.perf_counter() - t
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
        t = time.perf_counter()
        got = invasion_radius_chunked(
            pore, voxel_size_nm=vs, inlet="all", max_radius_nm=r_max, chunks=args.chunk
        )
        t_chunk = time.perf_counter() - t
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    same_voxels = bool(np.array_equal(got > 0, ref > 0))
    rel = float(np.max(np.abs(got.astype(np.float64) - ref) / np.maximum(ref, 1e-30)))
    print(
        f"## Chunked MIP, {args.size}^3 overlapping spheres, porosity {pore.mean():.3f}, "
        f"chunks {args.chunk}^3, {args.workers} workers limited to {args.memory_limit}\n"
    )
    print("| run | wall time (s) | Mvoxel/s | peak RSS (MiB) |")
    print("|---|---|---|---|")
    print(
        f"| in memory (`invasion_radius`) | {t_mem:.2f} | {n / t_mem / 1e6:.1f} | "
        f"{rss_main:.0f} (main process) |"
    )
    workers = ", ".join(f"{v:.0f}" for v in worker_rss.values())
    print(
        f"| chunked (`invasion_radius_chunked`) | {t_chunk:.2f} | {n / t_chunk / 1e6:.1f} | "
        f"{workers} (per worker) |"
    )
    print(
        f"\nratio chunked / in memory: {t_chunk / t_mem:.2f}x; same intruded voxels: "
        f"{same_voxels}; largest relative radius difference {rel:.1e} (float32 rounding)"
    )


if __name__ == "__main__":
    main()
