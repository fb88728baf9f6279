"""Chunked slice alignment (``align_slices_report`` on a Dask array) against the in-memory one.

    python benchmarks/bench_align_chunked.py [--shape 64,512,512] [--slices 8]
        [--workers 2] [--memory-limit 1GiB] [--repeat 1]

A jittered stack (smoothed noise structure, a known per-slice shift, Gaussian noise) is
aligned in memory (threads over slices), and chunked, as in the pipeline from a Zarr store to a
Zarr store (the time includes writing the result and reading it back for the comparison), on
local threads and on a dask.distributed LocalCluster of memory-limited worker processes;
prints a markdown table of wall times, the ratio to in memory, whether the results are
bit-identical, and the rms error of the positions against the jitter put in.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import ndimage


def jittered_stack(shape: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (z, y, x) float32 stack: one smooth random structure plus a slowly changing part
    (so that slices differ as in a FIB/SEM stack), each slice moved by a known jitter
    (Gaussian, sigma 1.5 px, slice 0 unmoved), plus noise; returns the stack and the jitter
    (nz, 2)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    fixed = ndimage.gaussian_filter(rng.random((ny, nx), dtype=np.float32), 3.0)
    jitter = np.clip(rng.normal(0.0, 1.5, (nz, 2)), -4.0, 4.0)
    jitter[0] = 0.0
    out = np.empty((nz, ny, nx), np.float32)
    for k in range(nz):
        changing = ndimage.gaussian_filter(rng.random((ny, nx), dtype=np.float32), 3.0)
        out[k] = ndimage.shift(fixed + 0.3 * changing, jitter[k], order=3, mode="nearest")
    out += rng.normal(0.0, 0.05 * float(fixed.std()), out.shape).astype(np.float32)
    return out, jitter


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="64,512,512")
    ap.add_argument("--slices", type=int, default=8, help="slices per chunk")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    from microstructure.parallel import dask_scheduler
    from microstructure.preprocess import align_slices_report

    shape = tuple(int(v) for v in args.shape.split(","))
    stack, jitter = jittered_stack(shape)  # type: ignore[arg-type]
    print(f"load before: {os.getloadavg()}", flush=True)
    t_mem, (ref, pos, _) = _best(lambda: align_slices_report(stack), args.repeat)

    # as in the pipeline: the chunked runs read the stack from Zarr and write Zarr
    import shutil
    import tempfile
    from pathlib import Path

    import dask.array as da

    work = Path(tempfile.mkdtemp(prefix="bench-align-"))
    src = str(work / "in.zarr")
    da.from_array(stack, chunks=(args.slices, -1, -1)).to_zarr(src)
    runs = iter(range(10**6))

    def chunked() -> tuple[np.ndarray, np.ndarray]:
        a, p, _ = align_slices_report(da.from_zarr(src), chunks=args.slices)
        dst = str(work / f"out{next(runs)}.zarr")
        a.to_zarr(dst)
        return np.asarray(da.from_zarr(dst).compute()), p

    rows = [("in memory (threads over slices)", t_mem, True)]
    with dask_scheduler("threads"):
        t, (a, p) = _best(chunked, args.repeat)
    rows.append(("chunked, local threads", t, bool(np.array_equal(a, ref))))
    # the LocalCluster `microstructure run --scheduler local` starts
    with dask_scheduler("local", workers=args.workers, memory_limit=args.memory_limit):
        t, (a, p) = _best(chunked, args.repeat)
    rows.append(
        (
            f"chunked, scheduler 'local' ({args.workers} x 1 thread, {args.memory_limit})",
            t,
            bool(np.array_equal(a, ref)),
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    err = pos - jitter
    n = int(np.prod(shape))
    print(f"\n## Align {shape[0]} x {shape[1]} x {shape[2]}, slabs of {args.slices} slices\n")
    print("| run | wall s | Mvoxel/s | ratio to in memory | bit-identical |")
    print("|---|---:|---:|---:|---|")
    for name, sec, same in rows:
        print(f"| {name} | {sec:.2f} | {n / sec / 1e6:.2f} | {sec / t_mem:.2f} | {same} |")
    print(
        f"\nrms error of the positions (keep_trend default) against the jitter put in: "
        f"{float(np.sqrt(np.mean(err**2))):.3f} px; load after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
