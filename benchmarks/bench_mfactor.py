"""Benchmark: image-based M-factor (microstructure) against TauFactor on the CPU.

Each measurement runs in a fresh subprocess (so peak memory is that of one solve) and times the
whole call including set-up (cluster labelling, multigrid hierarchy, solve); the JIT / torch
warm-up on a tiny volume is excluded. The structure is a thresholded Gaussian random field
(seeded) with a pore fraction of 0.30; the flow is along axis 0 (TauFactor's direction).

"Same tolerance": TauFactor stops when the flux spread between layers is below ``conv_crit``
(default 1e-2) and tau changed by < 2e-3 over 100 sweeps; we run with ``flux_tol = 1e-2``
(same criterion) and also report our default ``flux_tol = 1e-3``.

Usage::

    python benchmarks/bench_mfactor.py                      # 128^3, 200^3 (+ TauFactor)
    python benchmarks/bench_mfactor.py --sizes 128,200,256  # add 256^3
    python benchmarks/bench_mfactor.py --seed-size          # 650 x 395 x 481 (ours only)
    python benchmarks/bench_mfactor.py --no-taufactor
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SEED_SHAPE = (650, 395, 481)  # seed 000 FIB/SEM model at 37.2 nm, ~124 M voxels


def make_volume(shape: tuple[int, int, int], porosity: float = 0.30, seed: int = 0) -> np.ndarray:
    """uint8 labels, 0 = pore (``porosity`` of the volume), 1 = solid."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma=3.0)
    thr = np.quantile(field[:: max(1, shape[0] // 64)], porosity)
    return np.where(field < thr, 0, 1).astype(np.uint8)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def child(solver: str, shape: tuple[int, int, int], flux_tol: float) -> dict:
    lab = make_volume(shape)
    if solver == "ours":
        from microstructure.transport import m_factor

        m_factor(make_volume((24, 24, 24), seed=1), voxel_size_nm=1.0, axis=0, phases=(0,))
        base = _rss_mb()
        t = time.perf_counter()
        c = time.process_time()
        res = m_factor(lab, voxel_size_nm=1.0, axis=0, phases=(0,), flux_tol=flux_tol)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        out = {"tau": res.tortuosity_factor, "iterations": res.iterations}
    else:
        import taufactor as tf

        pore = (lab == 0).astype(np.uint8)
        tf.Solver((make_volume((24, 24, 24), seed=1) == 0).astype(np.uint8), device="cpu").solve(
            verbose=False
        )
        base = _rss_mb()
        t = time.perf_counter()
        c = time.process_time()
        s = tf.Solver(pore, device="cpu")
        tau = s.solve(verbose=False, conv_crit=flux_tol)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        out = {"tau": float(np.ravel(tau)[0]), "iterations": int(s.iter)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    out.update(
        wall_s=wall,
        cpu_s=cpu,
        peak_mb=peak,
        extra_peak_mb=peak - base,
        porosity=float(np.mean(lab == 0)),
    )
    return out


def run_child(solver: str, shape, flux_tol: float) -> dict:
    cmd = [sys.executable, __file__, "--child", solver, ",".join(map(str, shape)), str(flux_tol)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="128,200")
    ap.add_argument("--seed-size", action="store_true")
    ap.add_argument("--no-taufactor", action="store_true")
    ap.add_argument("--taufactor-max", type=int, default=200, help="largest edge for TauFactor")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        solver, shape_s, tol = args.child
        shape = tuple(int(v) for v in shape_s.split(","))
        print(json.dumps(child(solver, shape, float(tol))))
        return

    try:
        import taufactor  # noqa: F401

        have_tf = not args.no_taufactor
    except ImportError:
        have_tf = False
    cases = [(n, n, n) for n in (int(v) for v in args.sizes.split(","))]
    if args.seed_size:
        cases.append(SEED_SHAPE)
    print(f"CPU cores: {os.cpu_count()}  load average: {os.getloadavg()}")
    hdr = (
        f"{'shape':>15} {'solver':>22} {'tau':>8} {'iter':>5} {'wall s':>8} {'cpu s':>8} "
        f"{'peak MB':>8} {'+MB':>7} {'TF/ours':>8}"
    )
    print(hdr)
    print("-" * len(hdr))
    for shape in cases:
        rows = []
        tf_res = None
        if have_tf and max(shape) <= args.taufactor_max:
            tf_res = run_child("taufactor", shape, 1e-2)
            rows.append(("TauFactor conv 1e-2", tf_res))
        for tol in (1e-2, 1e-3):
            rows.append((f"ours flux_tol {tol:g}", run_child("ours", shape, tol)))
        for name, r in rows:
            if "error" in r:
                print(f"{'x'.join(map(str, shape)):>15} {name:>22} ERROR {r['error']}")
                continue
            ratio = ""
            if tf_res is not None and "error" not in tf_res and name.startswith("ours"):
                ratio = f"{tf_res['wall_s'] / r['wall_s']:.2f}x"
            print(
                f"{'x'.join(map(str, shape)):>15} {name:>22} {r['tau']:8.4f} {r['iterations']:5d} "
                f"{r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_mb']:8.0f} "
                f"{r['extra_peak_mb']:7.0f} {ratio:>8}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
