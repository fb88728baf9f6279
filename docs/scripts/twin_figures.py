"""Figures of docs/digital_twin.md from a finished twin run and a calibration folder.

    python docs/scripts/twin_figures.py --run /tmp/twin --calibration /tmp/h22_cal --out docs/images

Writes twin_mip_overlay.png (the twin's simulated MIP curves, both inlet settings, against the
synthetic measured-like curve data_samples/seed000_mip_synthetic.csv) and copies the
calibration overlay to twin_calibration_overlay.png.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from microstructure.plot import new_figure, save_figure
from microstructure.porosimetry.measured import load_mip_curve, read_curve_csv


def _mip_folder(run: Path) -> Path:
    hits = sorted(run.glob("*-mip"))
    if not hits:
        raise SystemExit(f"{run}: no NN-mip folder")
    return hits[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--calibration", default=None)
    ap.add_argument("--measured", default="data_samples/seed000_mip_synthetic.csv")
    ap.add_argument("--out", default="docs/images")
    args = ap.parse_args()
    out = Path(args.out)
    mip = _mip_folder(Path(args.run))
    measured = load_mip_curve(args.measured)
    curves = [
        ("all sides but the bottom", read_curve_csv(mip / "mip_curve.csv")),
        ("top only", read_curve_csv(mip / "mip_curve_top.csv")),
    ]
    sub = mip / "mip_curve_subvoxel.csv"
    if sub.exists():
        curves.append(("all but bottom + sub-voxel", read_curve_csv(sub)))
    fig = new_figure(figsize=(10.0, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for i, (label, c) in enumerate([("synthetic measured-like", measured), *curves]):
        style = "k-" if i == 0 else f"C{i - 1}-"
        ax1.semilogx(c.diameter_nm, c.normalized(), style, lw=2 if i == 0 else 1.5, label=label)
        psd = c.psd(quantity="saturation", bins_per_decade=10)
        ax2.semilogx(psd.diameter_nm, psd.dv_dlogd, style, lw=2 if i == 0 else 1.5, label=label)
    for ax in (ax1, ax2):
        ax.set_xlabel("Washburn throat diameter (nm)")
        ax.invert_xaxis()
        ax.axvspan(200, 260, color="0.9", zorder=0)
        ax.legend(fontsize=7)
    ax1.set_ylabel("cumulative intrusion (fraction of each curve's total)")
    ax2.set_ylabel("dV/dlogD (fraction per decade)")
    fig.suptitle("digital twin vs the synthetic measured-like curve (grey: seed D50 band)")
    save_figure(fig, out / "twin_mip_overlay.png")
    if args.calibration:
        shutil.copyfile(
            Path(args.calibration) / "calibration_overlay.png", out / "twin_calibration_overlay.png"
        )
    print(np.round([c.d_values()["d50_nm"] for _, c in curves], 1))


if __name__ == "__main__":
    main()
