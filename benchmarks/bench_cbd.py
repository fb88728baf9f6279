"""Benchmark: CBD insertion + fibrous nanopores on a 256^3 electrode, and the MATBOX comparison.

    python benchmarks/bench_cbd.py               # performance table (256^3)
    python benchmarks/bench_cbd.py --size 128    # smaller
    python benchmarks/bench_cbd.py --matbox      # + comparison on the MATBOX NMC volume
    python benchmarks/bench_cbd.py --porespy-anchor   # + PoreSpy cylinders anchor (slow)
    python benchmarks/bench_cbd.py --size 0 --angles 8,12,16,24,32   # contact-angle table only

Anchors run in the same process: one Euclidean distance transform of the pore space (``edt``,
the floor of any distance-based stage), and optionally PoreSpy's random-cylinder generator
(``porespy.generators.cylinders``, fixed radius, no phase restriction, porosity not exact) on
the same shape for the nanopores. Peak memory: tracemalloc peak of numpy allocations
during the stage, and the process max RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
import tracemalloc
from pathlib import Path

import edt
import numpy as np

from microstructure.cbd._contact_angle import _centre_distance, _contact_angle_fill
from microstructure.cbd.defaults import DEFAULT_CBD_POROSITY
from microstructure.cbd.insertion import cbd_envelope_fraction, insert_cbd
from microstructure.cbd.nanopores import add_nanopores
from microstructure.cbd.report import cbd_report, measure_contact_angle

VOXEL_NM = 37.2
MATBOX = Path(__file__).resolve().parents[2] / "shared" / "validation"
MATBOX_FILE = "matbox_nmc-1-cal_generatedCBD_bridge.tif"
SET_ANGLES = (0.0, 20.0, 40.0, 60.0)


def electrode(n: int, *, radius: float = 12.0, am_fraction: float = 0.6, seed: int = 0):
    """Boolean model of overlapping spheres (AM = 1) with about ``am_fraction`` solid."""
    rng = np.random.default_rng(seed)
    n_spheres = int(-np.log(1 - am_fraction) * n**3 / (4 / 3 * np.pi * radius**3))
    pts = np.ones((n, n, n), dtype=np.uint8)
    idx = rng.integers(0, n, size=(n_spheres, 3))
    pts[idx[:, 0], idx[:, 1], idx[:, 2]] = 0
    return (edt.edt(pts, parallel=2) <= radius).astype(np.uint8)


def timed(fn, *args, **kwargs):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    dt = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak / 2**20


def performance(n: int, *, porespy_anchor: bool = False) -> None:
    lab = electrode(n)
    am = float((lab == 1).mean())
    target = cbd_envelope_fraction(
        am, cbd_to_am_volume_ratio=11.46 / 88.54, cbd_porosity=DEFAULT_CBD_POROSITY
    )
    # warm numba (compile time is not the stage's cost)
    add_nanopores(np.full((8, 8, 8), 2, np.uint8), voxel_size_nm=VOXEL_NM)

    rows = []
    _, t_edt, _ = timed(edt.edt, lab == 0, anisotropy=(VOXEL_NM,) * 3, parallel=2)
    (cbd, info), t_ins, m_ins = timed(
        insert_cbd, lab, voxel_size_nm=VOXEL_NM, volume_fraction=target, return_info=True
    )
    rows.append(("insert_cbd contact-angle 40 deg", t_ins, m_ins, f"{t_ins / t_edt:.1f}x 1 EDT"))
    (_, t_br, m_br) = timed(
        insert_cbd, lab, voxel_size_nm=VOXEL_NM, volume_fraction=target, method="bridge"
    )
    rows.append(("insert_cbd bridge", t_br, m_br, f"{t_br / t_edt:.1f}x 1 EDT"))
    (_, t_dep, m_dep) = timed(
        insert_cbd, lab, voxel_size_nm=VOXEL_NM, volume_fraction=target, method="deposition"
    )
    rows.append(("insert_cbd deposition", t_dep, m_dep, f"{t_dep / t_edt:.1f}x 1 EDT"))
    (porous, t_np, m_np) = timed(add_nanopores, cbd, voxel_size_nm=VOXEL_NM)
    if porespy_anchor:
        import porespy as ps

        _, t_ps, _ = timed(
            ps.generators.cylinders,
            [n, n, n],
            r=1,
            porosity=1 - DEFAULT_CBD_POROSITY * target,
            phi_max=90,
            theta_max=90,
            seed=0,
        )
        rows.append(("add_nanopores 50.2 %", t_np, m_np, f"{t_np / t_ps:.3f}x porespy cylinders"))
    else:
        rows.append(("add_nanopores 50.2 %", t_np, m_np, f"{t_np / t_edt:.1f}x 1 EDT"))
    env = (porous == 2) | (porous == 3)
    print(f"\n{n}^3 electrode, AM {am:.3f}, CBD target {target:.4f} (Table 1 recipe), 2 cores")
    print(f"{'stage':36s} {'time s':>8s} {'numpy peak MiB':>15s}  ratio to anchor")
    for name, t, m, r in rows:
        print(f"{name:36s} {t:8.2f} {m:15.0f}  {r}")
    print(f"{'anchor: edt of the pore space':36s} {t_edt:8.2f}")
    if porespy_anchor:
        print(f"{'anchor: porespy cylinders (r=1 vx)':36s} {t_ps:8.2f}")
    print(f"insertion + nanopores: {t_ins + t_np:.2f} s")
    print(
        f"CBD envelope {(env).mean():.5f} (target {target:.5f}); "
        f"CBD porosity {(porous == 3).sum() / env.sum():.5f}; evaluations {info['evaluations']}"
    )
    print(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def packing(radius: float, *, seed: int = 1, box: float = 6.4, overlap: float = 0.9):
    """Random sequential packing of spheres of ``radius`` voxels in a cube of ``box`` radii.

    Centres at least ``2 overlap`` radii apart (slightly overlapping spheres); the same packing
    as ``tests/cbd/test_insertion.py::_packing``. Returns the labels (1 = AM).
    """
    rng = np.random.default_rng(seed)
    cs: list[np.ndarray] = []
    for _ in range(4000):
        c = rng.uniform(0, box, 3)
        if all(np.linalg.norm(c - o) >= 2 * overlap for o in cs):
            cs.append(c)
    n = int(round(box * radius))
    zz, yy, xx = np.ogrid[:n, :n, :n]
    am = np.zeros((n, n, n), dtype=np.uint8)
    for c in np.array(cs) * radius:
        am[
            ((zz + 0.5 - c[0]) ** 2 + (yy + 0.5 - c[1]) ** 2 + (xx + 0.5 - c[2]) ** 2) <= radius**2
        ] = 1
    return am


def sphere_law_deg(theta_deg: float, rho: float, radius: float) -> float:
    """Angle at which a ball of radius ``rho`` centred ``rho cos(theta)`` from a sphere of
    ``radius`` meets it (the flat-wall centre condition on a sphere)."""
    t = math.radians(theta_deg)
    c = math.cos(t) - rho * math.sin(t) ** 2 / (2.0 * radius)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def exact_ring(radius: float, theta_deg: float, *, contact_z: float = 0.2, overlap: float = 0.9):
    """Two overlapping spheres with the exact morphological pendular ring at contact angle theta.

    Spheres of ``radius`` voxels, centres ``2 overlap radius`` apart on z. A gas ball of
    radius ``rho`` sweeps the circle in the mid plane at which it meets both spheres at theta
    (centre distance ``radius + w``, ``w`` from the two-sphere law of cosines); ``rho`` is set
    so that the contact circles lie at ``z = +-contact_z radius``. The CBD is the space outside
    the spheres, between the contact circles, inside the swept circle and farther than ``rho``
    from it. Voxels are set by their centres. Measuring it gives the bias of
    ``measure_contact_angle`` itself at this resolution.
    """
    a = overlap * radius
    cos_t = math.cos(math.radians(theta_deg))

    def geometry(rho: float) -> tuple[float, float]:
        w = float(_centre_distance(rho, cos_t, np.array([1 / radius]))[0])
        s = radius + w
        c = math.sqrt(s * s - a * a)
        # inner intersection of the sphere (0, a) and the ball (c, 0) in the (r, z) half plane
        along = (s * s + radius * radius - rho * rho) / (2 * s)
        across = math.sqrt(max(radius * radius - along * along, 0.0))
        return c, a - along * a / s - across * c / s

    lo, hi = 1e-3 * radius, 20.0 * radius
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if geometry(mid)[1] < contact_z * radius else (lo, mid)
    rho = 0.5 * (lo + hi)
    c, z_contact = geometry(rho)
    if z_contact < 0.99 * contact_z * radius:
        # at large angles a concave ring stays near the neck whatever its size (for a very
        # large ball, a cylinder, the contact sits where the sphere normal is theta from radial)
        return None
    nz = int(math.ceil(2 * (a + radius))) + 6
    nxy = int(math.ceil(2 * c)) + 6
    z, y, x = np.ogrid[:nz, :nxy, :nxy]
    z = z + 0.5 - nz / 2
    y = y + 0.5 - nxy / 2
    x = x + 0.5 - nxy / 2
    r_xy = np.sqrt(y * y + x * x)
    am = ((z - a) ** 2 + r_xy**2 <= radius**2) | ((z + a) ** 2 + r_xy**2 <= radius**2)
    ring = (~am) & (r_xy < c) & (np.abs(z) <= z_contact) & ((r_xy - c) ** 2 + z * z > rho * rho)
    lab = am.astype(np.uint8)
    lab[ring] = 2
    return lab


def angles(radii: list[float], *, fraction: float = 0.1) -> None:
    """Measured mean / median contact angle on sphere packings, set 0/20/40/60 deg.

    For each sphere radius (voxels) the CBD is inserted with the curvature-aware centre
    condition (default) and with the flat-wall condition (``curvature=False``, the earlier
    construction), and measured with ``measure_contact_angle``.
    """
    print(f"\nsphere packing, {fraction:.0%} CBD, measured mean / median contact angle in deg")
    print(f"{'R vx':>5s} {'wall':>6s} " + " ".join(f"{'set ' + str(t):>20s}" for t in SET_ANGLES))
    for radius in radii:
        lab = packing(radius)
        n_add = int(round(fraction * lab.size))
        pore = lab == 0
        for curved in (True, False):
            cells = []
            for theta in SET_ANGLES:
                mask, info = _contact_angle_fill(
                    pore,
                    (1.0, 1.0, 1.0),
                    n_add,
                    theta,
                    np.random.default_rng(0),
                    curvature=curved,
                )
                out = lab.copy()
                out[mask] = 2
                m = measure_contact_angle(out, voxel_size_nm=1.0)
                rho = info["ball_radius_nm"]
                law = "" if curved else f" ({sphere_law_deg(theta, rho, radius):.0f})"
                fb = "*" if info["fallback"] else ""
                cells.append(f"{m['mean_deg']:.1f} / {m['median_deg']:.1f}{fb}{law}")
            wall = "curved" if curved else "flat"
            print(f"{radius:5.0f} {wall:>6s} " + " ".join(f"{c:>20s}" for c in cells), flush=True)
        cells = []
        for theta in SET_ANGLES:
            ring = exact_ring(radius, theta)
            if ring is None:
                cells.append("no ring")
                continue
            m = measure_contact_angle(ring, voxel_size_nm=1.0)
            cells.append(f"{m['mean_deg']:.1f} / {m['median_deg']:.1f}")
        print(f"{radius:5.0f} {'ring':>6s} " + " ".join(f"{c:>20s}" for c in cells), flush=True)
    print("flat rows: (sphere law at the ball radius found); * = fallback (amount not reachable)")
    print("ring rows: exact pendular ring between two spheres (contact at z = 0.2 R): bias of")
    print("the measurement itself")


def _pore_size(labels: np.ndarray, vs: float) -> dict[str, float]:
    """Local-thickness diameters (um) of the remaining pore space (label 0), PoreSpy 'bf'."""
    import porespy as ps

    lt = ps.filters.local_thickness(labels == 0)
    d = 2 * lt[labels == 0] * vs / 1000
    q = np.percentile(d, [10, 50, 90])
    return {"d10_um": float(q[0]), "d50_um": float(q[1]), "d90_um": float(q[2])}


def matbox() -> None:
    import tifffile

    vol = tifffile.imread(MATBOX / MATBOX_FILE)
    vs = 398.0
    frac = float((vol == 2).mean())
    base = np.where(vol == 2, 0, vol).astype(np.uint8)
    out = {"matbox_bridge": vol}
    t = {}
    for name, kw in (
        ("ours_bridge", {"method": "bridge"}),
        ("ours_contact_angle_40", {"contact_angle_deg": 40.0}),
        ("ours_contact_angle_0", {"contact_angle_deg": 0.0}),
        ("ours_deposition", {"method": "deposition"}),
    ):
        s = time.perf_counter()
        out[name] = insert_cbd(base, voxel_size_nm=vs, volume_fraction=frac, **kw)
        t[name] = time.perf_counter() - s
    res = {}
    for name, lab in out.items():
        rep = cbd_report(
            lab, voxel_size_nm=vs, am_particles=(lab == 1).astype(np.int64), contact_angle=True
        )
        res[name] = {
            "cbd_fraction": rep["cbd_envelope_fraction"],
            "cbd_fraction_touching_am": rep["cbd_fraction_touching_am"],
            "cbd_clusters": rep["cbd_clusters"]["count"],
            "largest_cluster_fraction": rep["cbd_clusters"]["largest_fraction"],
            "contact_angle_mean_deg": rep["contact_angle"]["mean_deg"],
            **_pore_size(lab, vs),
            "time_s": t.get(name),
        }
        print(name, json.dumps(res[name]), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--matbox", action="store_true")
    ap.add_argument("--porespy-anchor", action="store_true", help="slow: ~500 s at 256^3")
    ap.add_argument(
        "--angles", default="", help="sphere radii in voxels, e.g. 8,12,16,24: angle table"
    )
    a = ap.parse_args()
    if a.size > 0:
        performance(a.size, porespy_anchor=a.porespy_anchor)
    if a.angles:
        angles([float(r) for r in a.angles.split(",")])
    if a.matbox:
        matbox()
