"""Porosity benchmarks: closed pores and surface area against PoreSpy / scikit-image.

Run: ``python benchmarks/bench_porosity.py`` (uses ``../shared/validation/`` when present, else a
synthetic blob volume). Prints one table per task with the time ratio against the anchor run in
the same process (ratio < 1: we are faster).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def _load() -> tuple[np.ndarray, str]:
    env = os.environ.get("MICROSTRUCTURE_VALIDATION_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "validation"
    path = root / "matbox_nmc-1-cal_generatedCBD_bridge.tif"
    if path.is_file():
        import tifffile

        return tifffile.imread(path), path.name
    import porespy as ps

    blobs = ps.generators.blobs((200, 200, 200), porosity=0.4, blobiness=1.5, seed=0)
    return (~blobs).astype(np.uint8), "porespy blobs 200^3 (seed 0)"


def _best(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    import porespy as ps
    from skimage.measure import marching_cubes, mesh_surface_area

    from microstructure.porosity import find_closed_pores, phase_fractions, surface_area_um2

    labels, name = _load()
    print(
        f"volume: {name}, shape {labels.shape}, {labels.size / 1e6:.1f} Mvoxel, "
        f"cores {os.cpu_count()}"
    )

    print("\nclosed pores (all faces)")
    print(f"{'method':<44}{'time s':>9}{'ratio':>8}{'closed %':>10}")
    pore = labels == 0
    for conn, ps_conn in ((6, "min"), (26, "max")):
        t_ps, disc = _best(lambda c=ps_conn: ps.filters.find_disconnected_voxels(pore, conn=c))
        t_cc, res = _best(lambda c=conn: find_closed_pores(labels, connectivity=c))
        t_sp, res_sp = _best(
            lambda c=conn: find_closed_pores(labels, connectivity=c, backend="scipy")
        )
        assert np.array_equal(disc, res.closed_mask) and np.array_equal(disc, res_sp.closed_mask)
        print(
            f"{f'porespy find_disconnected_voxels conn={conn}':<44}{t_ps:9.3f}{1.0:8.2f}"
            f"{100 * disc.mean():10.4f}"
        )
        print(
            f"{f'find_closed_pores cc3d conn={conn}':<44}{t_cc:9.3f}{t_cc / t_ps:8.2f}"
            f"{100 * res.closed_porosity:10.4f}"
        )
        print(
            f"{f'find_closed_pores scipy conn={conn}':<44}{t_sp:9.3f}{t_sp / t_ps:8.2f}"
            f"{100 * res_sp.closed_porosity:10.4f}"
        )

    t_fr, _ = _best(lambda: phase_fractions(labels))
    t_ps, _ = _best(lambda: ps.metrics.porosity(labels == 0))
    print(
        f"\nphase fractions (4 phases) {t_fr:.3f} s vs porespy.metrics.porosity (1 phase) "
        f"{t_ps:.3f} s, ratio {t_fr / t_ps:.2f}"
    )

    print("\nsurface area of phase 1 (voxel 398 nm)")
    print(f"{'method':<44}{'time s':>9}{'ratio':>8}{'area um2':>12}")
    am = labels == 1
    vs = 398.0

    def anchor():
        v, f, _, _ = marching_cubes(am.astype(np.float32), 0.5, spacing=(vs, vs, vs))
        return mesh_surface_area(v, f) * 1e-6

    t_sk, a_sk = _best(anchor, repeat=1)
    print(f"{'skimage marching_cubes + mesh_surface_area':<44}{t_sk:9.2f}{1.0:8.2f}{a_sk:12.0f}")
    for it in (0, 20):
        t, a = _best(
            lambda i=it: surface_area_um2(am, voxel_size_nm=vs, smoothing_iterations=i), repeat=1
        )
        print(
            f"{f'surface_area_um2 smoothing_iterations={it}':<44}{t:9.2f}{t / t_sk:8.2f}{a:12.0f}"
        )


if __name__ == "__main__":
    main()
