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
    python benchmarks/bench_mfactor.py --threads 1          # one thread each (CPU-time ratio)
    python benchmarks/bench_mfactor.py --repeat 3           # best of 3 (interleaved runs)
    python benchmarks/bench_mfactor.py --validation         # TauFactor's electrode.tiff, 3 axes

``--threads N`` sets ``NUMBA_NUM_THREADS`` / ``torch.set_num_threads`` in each child; with
other jobs on the machine the one-thread CPU-time ratio is the robust figure (wall times of
multi-threaded runs then include waits for descheduled threads at every barrier).
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

SEED_SHAPE = (650, 395, 481)  # Beuse et al. (2021) FIB/SEM model at 37.2 nm, ~124 M voxels


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


def child(solver: str, shape: tuple[int, int, int], flux_tol: float, threads: int) -> dict:
    lab = make_volume(shape)
    if solver == "ours":
        from microstructure.transport import m_factor

        warm = make_volume((80, 80, 80), porosity=0.5, seed=1)  # percolating, parallel levels
        m_factor(warm, voxel_size_nm=1.0, axis=0, phases=(0,))
        base = _rss_mb()
        t = time.perf_counter()
        c = time.process_time()
        res = m_factor(lab, voxel_size_nm=1.0, axis=0, phases=(0,), flux_tol=flux_tol)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        out = {"tau": res.tortuosity_factor, "iterations": res.iterations}
    else:
        import taufactor as tf
        import torch

        if threads > 0:
            torch.set_num_threads(threads)

        pore = (lab == 0).astype(np.uint8)
        warm = (make_volume((80, 80, 80), porosity=0.5, seed=1) == 0).astype(np.uint8)
        tf.Solver(warm, device="cpu").solve(verbose=False)
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


def validation(have_tf: bool) -> None:
    """Tortuosity factor of the pore phase of ``taufactor_electrode.tiff`` along each axis."""
    import tifffile

    from microstructure.transport import m_factor

    path = os.path.join(
        os.environ.get(
            "MICROSTRUCTURE_VALIDATION_DIR",
            os.path.join(os.path.dirname(__file__), "..", "..", "shared", "validation"),
        ),
        "taufactor_electrode.tiff",
    )
    img = tifffile.imread(path)
    print(f"{path}: {img.shape}, pore (label 0) fraction {np.mean(img == 0):.4f}")
    print(f"{'axis':>4} {'TauFactor tau':>14} {'iter':>5} {'ours 1e-4':>10} {'iter':>5} "
          f"{'ours 1e-2':>10} {'diff %':>7}")  # fmt: skip
    for ax in range(3):
        ours = m_factor(img, voxel_size_nm=1.0, axis=ax, phases=(0,), flux_tol=1e-4)
        loose = m_factor(img, voxel_size_nm=1.0, axis=ax, phases=(0,), flux_tol=1e-2)
        tf_tau, tf_it = float("nan"), 0
        if have_tf:
            import taufactor as tf

            pore = np.ascontiguousarray(np.moveaxis((img == 0).astype(np.uint8), ax, 0))
            solver = tf.Solver(pore, device="cpu")
            tf_tau = float(np.ravel(solver.solve(verbose=False))[0])
            tf_it = int(solver.iter)
        diff = (ours.tortuosity_factor / tf_tau - 1) * 100
        print(
            f"{'zyx'[ax]:>4} {tf_tau:14.5f} {tf_it:5d} {ours.tortuosity_factor:10.5f} "
            f"{ours.iterations:5d} {loose.tortuosity_factor:10.5f} {diff:7.3f}",
            flush=True,
        )


def run_child(solver: str, shape, flux_tol: float, threads: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", solver, ",".join(map(str, shape)), str(flux_tol)]
    env = dict(os.environ)
    if threads > 0:
        env["NUMBA_NUM_THREADS"] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="128,200")
    ap.add_argument("--seed-size", action="store_true")
    ap.add_argument("--no-taufactor", action="store_true")
    ap.add_argument("--taufactor-max", type=int, default=200, help="largest edge for TauFactor")
    ap.add_argument("--threads", type=int, default=0, help="threads per solver (0: default)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (best wall time kept)")
    ap.add_argument("--validation", action="store_true", help="TauFactor electrode.tiff")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        solver, shape_s, tol = args.child
        shape = tuple(int(v) for v in shape_s.split(","))
        print(json.dumps(child(solver, shape, float(tol), args.threads)))
        return

    try:
        import taufactor  # noqa: F401

        have_tf = not args.no_taufactor
    except ImportError:
        have_tf = False
    if args.validation:
        validation(have_tf)
        return
    cases = [(n, n, n) for n in (int(v) for v in args.sizes.split(","))]
    if args.seed_size:
        cases.append(SEED_SHAPE)
    print(
        f"CPU cores: {os.cpu_count()}  threads per solver: {args.threads or 'default'}  "
        f"load average: {tuple(round(v, 2) for v in os.getloadavg())}"
    )
    hdr = (
        f"{'shape':>15} {'solver':>22} {'tau':>8} {'iter':>5} {'wall s':>8} {'cpu s':>8} "
        f"{'peak MB':>8} {'+MB':>7} {'TF/ours wall/cpu':>17}"
    )
    print(hdr)
    print("-" * len(hdr))
    for shape in cases:
        runs: dict[str, list[dict]] = {}
        names = []
        if have_tf and max(shape) <= args.taufactor_max:
            names.append(("TauFactor conv 1e-2", "taufactor", 1e-2))
        names += [(f"ours flux_tol {tol:g}", "ours", tol) for tol in (1e-2, 1e-3)]
        for _ in range(max(1, args.repeat)):  # interleaved, so load changes hit all alike
            for name, solver, tol in names:
                runs.setdefault(name, []).append(run_child(solver, shape, tol, args.threads))
        rows = []
        tf_res = None
        for name, _, _ in names:
            ok = [r for r in runs[name] if "error" not in r]
            best = min(ok, key=lambda r: r["wall_s"]) if ok else runs[name][0]
            rows.append((name, best))
            if name.startswith("TauFactor"):
                tf_res = best
        for name, r in rows:
            if "error" in r:
                print(f"{'x'.join(map(str, shape)):>15} {name:>22} ERROR {r['error']}")
                continue
            ratio = ""
            if tf_res is not None and "error" not in tf_res and name.startswith("ours"):
                ratio = f"{tf_res['wall_s'] / r['wall_s']:.1f}x/{tf_res['cpu_s'] / r['cpu_s']:.1f}x"
            print(
                f"{'x'.join(map(str, shape)):>15} {name:>22} {r['tau']:8.4f} {r['iterations']:5d} "
                f"{r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_mb']:8.0f} "
                f"{r['extra_peak_mb']:7.0f} {ratio:>17}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
