"""Benchmark: CBD calibration to a MIP curve (runtime, simulations, recovery).

    python benchmarks/bench_cbd_calibrate.py                 # 96^3 recovery run
    python benchmarks/bench_cbd_calibrate.py --size 64       # the test's volume
    python benchmarks/bench_cbd_calibrate.py --size 64 --free-angle --free-void \\
        --max-evaluations 300                                # the issue's full set free
    python benchmarks/bench_cbd_calibrate.py --labels seg.tif --measured curve.csv \\
        --max-voxels 4000000 --global-samples 16 --max-evaluations 40

Synthetic mode: AM of overlapping balls (radius 14 voxels of 37.2 nm, 27 % pore), CBD with
hidden porosity and nanopore mean/std (void 330 nm and contact angle 40 deg known, or hidden
at 330 nm and 37 deg with ``--free-void`` / ``--free-angle``); its simulated curve is the
"measurement"; the fit starts at the defaults (the angle at 25 deg). Printed: wall time,
simulations and seconds per simulation, the fitted values against the hidden ones with the
sensitivity, the misfit, the load average before and after (the machine is shared) and the
peak RSS.

Labels mode: the same numbers for a real labels volume and a measured curve file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
from scipy import ndimage as ndi

from microstructure.cbd.calibrate import DEFAULT_FREE, calibrate_cbd, cbd_mip_curve

VOXEL_NM = 37.2
RATIO = 11.46 / 88.54  # solid CBD / AM, Table 1 of doi:10.3390/batteries7040070
KNOWN = {"max_void_diameter_nm": 330.0, "contact_angle_deg": 40.0}
HIDDEN = {"cbd_porosity": 0.53, "nanopore_mean_nm": 140.0, "nanopore_std_nm": 45.0}
#: Hidden values of the gas parameters when they are free (the angle off the profile grid).
FREE_HIDDEN = {"contact_angle_deg": 37.0, "max_void_diameter_nm": 330.0}


def boolean_am(n: int, radius_vox: float = 14.0, pore_target: float = 0.27, seed: int = 7):
    """Overlapping balls of one radius (AM, label 1) until the pore fraction is reached."""
    rng = np.random.default_rng(seed)
    k = 1
    while True:
        centres = np.ones((n, n, n), dtype=bool)
        pts = (rng.random((k, 3)) * n).astype(int)
        centres[tuple(pts.T)] = False
        am = ndi.distance_transform_edt(centres) <= radius_vox
        if 1.0 - am.mean() <= pore_target:
            return am.astype(np.uint8)
        k = int(k * 1.15) + 1


def _summary(res, t0: float, load0: tuple[float, float, float], hidden=None) -> dict:
    m = res.misfit
    out = {
        "seconds": time.perf_counter() - t0,
        "simulations": res.evaluations,
        "seconds_per_simulation": res.seconds / max(res.evaluations, 1),
        "search_shape": res.settings["search_shape"],
        "shape": res.settings["shape"],
        "fitted": {n: res.parameters[n] for n in res.free},
        "sensitivity": res.sensitivity,
        "tolerance_set": {
            n: [res.profile[n]["tolerance_set"]["low"], res.profile[n]["tolerance_set"]["high"]]
            for n in res.free
            if "tolerance_set" in res.profile.get(n, {})
        },
        "selected": res.stages.get("selected"),
        "misfit_max": m["max_abs"],
        "misfit_area_decades": m["area_decades"],
        "d50_simulated_nm": m["d50_simulated_nm"],
        "d50_measured_nm": m["d50_measured_nm"],
        "realisation_max": res.realisation_misfit["max_abs"],
        "quality_flags": res.quality()["flags"],
        "load_before": load0,
        "load_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if hidden:
        out["hidden"] = hidden
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--labels", default=None)
    ap.add_argument("--measured", default=None)
    ap.add_argument("--max-voxels", type=int, default=None)
    ap.add_argument("--global-samples", type=int, default=None)
    ap.add_argument("--max-evaluations", type=int, default=160)
    ap.add_argument("--free-angle", action="store_true", help="contact angle hidden too")
    ap.add_argument("--free-void", action="store_true", help="largest gas void hidden too")
    ap.add_argument("--out", default=None, help="also write calibration.json and the overlay")
    args = ap.parse_args()
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if args.labels:
        from microstructure.io import read_volume
        from microstructure.porosimetry.measured import load_mip_curve

        vol = read_volume(args.labels)
        res = calibrate_cbd(
            np.asarray(vol.data),
            load_mip_curve(args.measured),
            voxel_size_nm=vol.voxel_size_nm,
            cbd_to_am_volume_ratio=RATIO,
            free=DEFAULT_FREE,
            max_voxels=args.max_voxels,
            global_samples=args.global_samples,
            max_evaluations=args.max_evaluations,
        )
        _report(res, _summary(res, t0, load0), args.out)
        return
    labels = boolean_am(args.size)
    known, hidden = dict(KNOWN), dict(HIDDEN)
    for flag, name in (
        (args.free_angle, "contact_angle_deg"),
        (args.free_void, "max_void_diameter_nm"),
    ):
        if flag:
            known.pop(name)
            hidden[name] = FREE_HIDDEN[name]
    measured = cbd_mip_curve(
        labels, voxel_size_nm=VOXEL_NM, cbd_to_am_volume_ratio=RATIO, parameters=known | hidden
    )
    start = known | ({"contact_angle_deg": 25.0} if args.free_angle else {})
    res = calibrate_cbd(
        labels,
        measured,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        free=tuple(hidden),
        start=start,
        max_voxels=args.max_voxels,
        global_samples=args.global_samples,
        max_evaluations=args.max_evaluations,
    )
    _report(res, _summary(res, t0, load0, hidden), args.out)


def _report(res, summary: dict, out: str | None) -> None:
    from microstructure.io.tables import to_jsonable, write_json

    print(json.dumps(to_jsonable(summary), indent=2))
    if out:
        from pathlib import Path

        from microstructure.cbd.calibrate import calibration_figure
        from microstructure.plot import save_figure

        Path(out).mkdir(parents=True, exist_ok=True)
        write_json(Path(out) / "calibration.json", {**res.to_dict(), "benchmark": summary})
        save_figure(calibration_figure(res), Path(out) / "calibration_overlay.png")


if __name__ == "__main__":
    main()
