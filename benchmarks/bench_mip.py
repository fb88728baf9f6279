"""Benchmark: simulated MIP and local thickness against edt and PoreSpy, in one process.

Prints a table of wall times and ratios (anchors: one ``edt.edt`` call on the same image,
PoreSpy 3.x ``porosimetry`` and ``local_thickness(method="bf")``). JIT compilation is done
on a small image first and reported separately.

    python benchmarks/bench_mip.py                 # 200^3, porosity ~0.3
    python benchmarks/bench_mip.py --porespy-default   # also PoreSpy's default sizes (~35 s+)
    python benchmarks/bench_mip.py --seed-size     # also 650 x 395 x 481 (subprocess, peak RSS)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import edt
import numpy as np

from microstructure.porosimetry import invasion_radius, local_thickness, simulate_mip


def spheres(shape, radius, porosity, seed):
    import porespy as ps

    ps.settings.tqdm["disable"] = True
    return ps.generators.overlapping_spheres(list(shape), r=radius, porosity=porosity, seed=seed)


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def seed_size_child() -> None:
    shape = (650, 395, 481)
    rng = np.random.default_rng(0)
    # overlapping solid spheres (radius 12 voxels), porosity ~0.3: solid = closer than r to
    # one of N random centres, N from porosity = exp(-N v_ball / V); one EDT call
    r = 12.0
    n_centres = int(round(-np.log(0.3) * np.prod(shape) / (4.0 / 3.0 * np.pi * r**3)))
    free = np.ones(shape, dtype=bool)
    free[tuple(rng.integers(0, shape, size=(n_centres, 3)).T)] = False
    solid = edt.edt(free, black_border=False, parallel=2) < r
    del free
    labels = solid.astype(np.uint8)  # 0 pore, 1 AM
    del solid
    from microstructure.pipeline.memory import PeakMemory

    # warm-up on a small image (JIT cache) so the timing is the algorithm alone
    simulate_mip(labels[:40, :40, :40], voxel_size_nm=37.2, inlet="all-but-bottom")
    out = {"voxels": int(labels.size), "porosity": float((labels == 0).mean())}
    for name, extrusion in (("mip", False), ("mip_extrusion", True)):
        with PeakMemory() as pm:
            t, c = time.perf_counter(), time.process_time()
            res = simulate_mip(labels, voxel_size_nm=37.2, inlet="all-but-bottom",
                               extrusion=extrusion)  # fmt: skip
            out[f"{name}_seconds"] = time.perf_counter() - t
            out[f"{name}_cpu_seconds"] = time.process_time() - c
        out[f"{name}_peak_rss_gb"] = pm.peak_bytes / 2**30
        out[f"{name}_added_rss_gb"] = pm.added_mb / 2**10
        out[f"{name}_baseline_rss_gb"] = pm.baseline_bytes / 2**30
        out["d50_nm"] = res.d_values()["d50_nm"]
        out["accessible_fraction"] = res.accessible_fraction
        if extrusion:
            out["entrapped_fraction"] = res.extrusion.entrapped_fraction
        del res
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--porespy-default", action="store_true")
    ap.add_argument("--seed-size", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        seed_size_child()
        return
    import porespy as ps

    n = args.size
    print(f"machine: {os.cpu_count()} cores; image {n}^3 overlapping spheres r=10, porosity ~0.3")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other jobs share the machine)")
    t = time.perf_counter()
    small = spheres((40, 40, 40), 6, 0.4, 3)
    invasion_radius(small, voxel_size_nm=1.0)
    invasion_radius(small, voxel_size_nm=1.0, radii_nm=np.arange(1, 10))
    local_thickness(small, voxel_size_nm=1.0)
    compile_s = time.perf_counter() - t
    im = spheres((n, n, n), 10, 0.3, 1)
    print(f"porosity {im.mean():.3f}; numba compile/warm-up {compile_s:.1f} s")
    rows = []
    t_edt, dt = best_of(lambda: edt.edt(im, black_border=False, parallel=2), args.repeat)
    rows.append(("edt.edt (parallel=2)", t_edt))
    sizes = np.arange(1, int(dt.max()) + 1)
    t_ex, inv_ex = best_of(lambda: invasion_radius(im, voxel_size_nm=1.0), args.repeat)
    rows.append(("ours MIP exact radii, all pressures", t_ex))
    t_int, inv_int = best_of(
        lambda: invasion_radius(im, voxel_size_nm=1.0, radii_nm=sizes), args.repeat
    )
    rows.append(("ours MIP integer radii", t_int))
    t_ps, ps_int = best_of(lambda: ps.filters.porosimetry(im, sizes=sizes), 1)
    rows.append(("PoreSpy porosimetry integer sizes", t_ps))
    t_ps_def = None
    if args.porespy_default:
        t_ps_def, ps_def = best_of(lambda: ps.filters.porosimetry(im), 1)
        rows.append(("PoreSpy porosimetry default sizes", t_ps_def))
    t_lt, lt = best_of(lambda: local_thickness(im, voxel_size_nm=1.0), args.repeat)
    rows.append(("ours local thickness exact", t_lt))
    ps.filters.local_thickness(small, method="bf")  # compile PoreSpy's kernels first
    t_bf, lt_bf = best_of(lambda: ps.filters.local_thickness(im, method="bf"), args.repeat)
    rows.append(("PoreSpy local_thickness bf (integer)", t_bf))
    t_lti, lt_int = best_of(
        lambda: local_thickness(im, voxel_size_nm=1.0, radii_nm=sizes), args.repeat
    )
    rows.append(("ours local thickness integer radii", t_lti))

    print(f"\n{'step':44s} {'seconds':>9s} {'x edt':>7s}")
    for name, s in rows:
        print(f"{name:44s} {s:9.3f} {s / t_edt:7.2f}")
    print("\nratios (same process):")
    print(f"  MIP exact / edt                    {t_ex / t_edt:6.2f}   (target <= 5)")
    print(f"  PoreSpy integer / ours integer     {t_ps / t_int:6.2f}   (target >= 2)")
    print(f"  PoreSpy integer / ours exact       {t_ps / t_ex:6.2f}")
    if t_ps_def is not None:
        print(f"  PoreSpy default / ours exact       {t_ps_def / t_ex:6.2f}   (target >= 15)")
    print(f"  ours exact LT / PoreSpy bf         {t_lt / t_bf:6.2f}   (target <= 1.5)")
    print("\nagreement:")
    print(f"  integer MIP identical to PoreSpy:  {np.array_equal(inv_int, ps_int)}")
    print(f"  integer LT identical to PoreSpy bf: {np.array_equal(lt_int, lt_bf)}")
    dev = max(abs(np.mean(inv_ex[im] >= r) - np.mean(ps_int[im] >= r)) for r in sizes)
    print(f"  max |saturation exact - PoreSpy| over integer radii: {dev:.4f}")
    if args.seed_size:
        out = subprocess.run(
            [sys.executable, __file__, "--child"], capture_output=True, text=True, check=True
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"\nseed-size 650x395x481 ({res['voxels'] / 1e6:.0f} Mvoxel, porosity "
            f"{res['porosity']:.3f}), labels in, inlet all-but-bottom, exact radii, 37.2 nm:"
        )
        for name, what in (("mip", "simulate_mip"), ("mip_extrusion", "simulate_mip + extrusion")):
            print(
                f"  {what:28s} {res[name + '_seconds']:6.1f} s "
                f"(CPU {res[name + '_cpu_seconds']:.1f} s)   peak RSS "
                f"{res[name + '_peak_rss_gb']:.2f} GB (process; {res[name + '_added_rss_gb']:.2f}"
                f" GB above the {res[name + '_baseline_rss_gb']:.2f} GB before the call)"
            )
        print(
            f"  D50 {res['d50_nm']:.1f} nm, accessible {res['accessible_fraction']:.3f}, "
            f"entrapped {res['entrapped_fraction']:.3f}"
        )


if __name__ == "__main__":
    main()
