"""Chunked segmentation (threshold + cleanup + closed pores) against the in-memory one.

    python benchmarks/bench_segment_chunked.py [--shape 256,256,256] [--slices 32]
        [--workers 2] [--memory-limit 1GiB] [--repeat 1]

Generates a phantom FIB/SEM stack (uint8), stores it as Zarr (as the pipeline runner does
above its size threshold) and runs, for each setting (``auto`` threshold; ``auto`` with a
hysteresis band of 8 grey values):

* in memory: ``segment_am_report`` (threshold, speck removal, hole filling) + ``closed_pores``
  + ``closed_pore_stats``, on the numpy stack;
* chunked, threads: :func:`microstructure.segment.segmentation` on the lazily read Zarr
  stack (a Dask array, so the same function runs slab by slab) with the local threaded
  scheduler, computing the AM mask and the closed pores (what the ``segment`` stage and the
  runner's write do);
* chunked, LocalCluster: the same on a dask.distributed cluster of ``--workers`` processes,
  one thread each, ``--memory-limit`` each.

Checks that the masks and closed-pore statistics are identical and prints a markdown table:
wall time, ratio chunked / in memory, peak RSS (main process above its start for in memory;
per worker for the cluster).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _start_sampler(dask_worker: Any) -> float:
    """Sample this worker's RSS every 20 ms (``ru_maxrss`` would include the parent's peak
    inherited through fork); returns the RSS now, in MiB."""
    import threading

    from microstructure.pipeline.memory import current_rss_bytes

    state = {"peak": current_rss_bytes(), "stop": False}

    def run() -> None:
        while not state["stop"]:
            state["peak"] = max(state["peak"], current_rss_bytes())
            time.sleep(0.02)

    threading.Thread(target=run, daemon=True).start()
    dask_worker._bench_rss = state
    return state["peak"] / 2**20


def _stop_sampler(dask_worker: Any) -> float:
    """Peak RSS (MiB) of this worker since :func:`_start_sampler`."""
    state = dask_worker._bench_rss
    state["stop"] = True
    return state["peak"] / 2**20


def _in_memory(img: np.ndarray, opts: dict[str, Any], vs: Any) -> tuple[Any, ...]:
    from microstructure.segment import closed_pore_stats, closed_pores, segment_am_report

    am, info = segment_am_report(img, **opts)
    closed = closed_pores(am)
    return am, closed, info, closed_pore_stats(closed, voxel_size_nm=vs)


def _chunked(stack: Any, opts: dict[str, Any], vs: Any, slices: int) -> tuple[Any, ...]:
    import dask

    from microstructure.segment import segmentation

    seg = segmentation(stack, chunks=slices, **opts)
    am, closed = dask.compute(seg.am, seg.closed)
    return am, closed, seg.info, seg.closed_pore_stats(vs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="256,256,256")
    ap.add_argument("--slices", type=int, default=32, help="slices per slab")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))

    import dask
    import distributed

    from microstructure.io import read_volume, write_volume
    from microstructure.parallel import dask_scheduler
    from microstructure.phantom import generate_phantom
    from microstructure.pipeline.memory import PeakMemory
    from microstructure.volume import Volume

    vs = (60.0, 60.0, 60.0)
    t0 = time.perf_counter()
    img = generate_phantom(shape, voxel_size_nm=vs, seed=0).image
    print(f"phantom {shape} uint8 generated in {time.perf_counter() - t0:.1f} s")
    tmp = Path(tempfile.mkdtemp(prefix="bench_segment_"))
    path = tmp / "image.zarr"
    write_volume(path, Volume(img, vs))
    settings = {
        "auto": {"method": "auto"},
        "auto + hysteresis 8": {"method": "auto", "hysteresis_width": 8.0},
    }
    rows = []

    def best(fn: Any) -> tuple[float, Any, float]:
        times, out, peak = [], None, 0.0
        for _ in range(args.repeat):
            with PeakMemory() as pm:
                t = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - t)
            peak = max(peak, pm.added_mb)
        return min(times), out, peak

    def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        return (
            np.array_equal(a[0], b[0])
            and np.array_equal(a[1], b[1])
            and a[2] == b[2]
            and a[3] == b[3]
        )

    lazy = read_volume(path, lazy=True).data
    for name, opts in settings.items():
        t_mem, ref, mem_mb = best(lambda opts=opts: _in_memory(img, opts, vs))
        with dask.config.set(scheduler="threads", num_workers=2):
            t_thr, got, thr_mb = best(lambda opts=opts: _chunked(lazy, opts, vs, args.slices))
        rows.append((name, "in memory (numpy)", t_mem, 1.0, f"+{mem_mb:.0f} MiB main", True))
        rows.append(
            (
                name,
                "chunked, 2 threads",
                t_thr,
                t_thr / t_mem,
                f"+{thr_mb:.0f} MiB main",
                same(got, ref),
            )
        )
        rows.append((name, "_ref", ref))
    with (
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit=args.memory_limit,
        ) as cluster,
        dask_scheduler(cluster.scheduler_address) as client,
    ):
        # warm-up: imports and first-call costs in the worker processes are not timed
        _chunked(img[:16, :64, :64], {"method": "otsu"}, vs, 8)
        for name, opts in settings.items():
            ref = next(r[2] for r in rows if r[0] == name and r[1] == "_ref")
            t_mem = next(r[2] for r in rows if r[0] == name and r[1] == "in memory (numpy)")
            base = max(client.run(_start_sampler).values())
            t_cl, got, _ = best(lambda opts=opts: _chunked(lazy, opts, vs, args.slices))
            peak = max(client.run(_stop_sampler).values())
            rows.append(
                (
                    name,
                    f"chunked, LocalCluster {args.workers} x 1 thread",
                    t_cl,
                    t_cl / t_mem,
                    f"{peak:.0f} MiB per worker (idle {base:.0f})",
                    same(got, ref),
                )
            )
    n = int(np.prod(shape))
    print()
    print(
        f"Segment stage work on a {'x'.join(map(str, shape))} phantom ({n / 1e6:.1f} M voxels,"
        f" uint8 Zarr input), slabs of {args.slices} slices; 2-core machine shared with other"
        " sessions"
    )
    print()
    print("| setting | run | wall s | ratio to in memory | peak memory | identical |")
    print("|---|---|---:|---:|---|---|")
    for r in rows:
        if r[1] == "_ref":
            continue
        name, run, t, ratio, mem, ok = r
        print(f"| {name} | {run} | {t:.2f} | {ratio:.2f} | {mem} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
