"""Figures of docs/digital_twin.md from a finished twin run and a calibration folder.

    python docs/scripts/twin_figures.py --run /tmp/twin --calibration /tmp/h22_cal --out docs/images

Writes twin_mip_overlay.png (the twin's simulated MIP curves, both inlet settings, against the
synthetic measured-like curve data_samples/seed000_mip_synthetic.csv) and copies the
calibration overlay to twin_calibration_overlay.png (from --calibration, else from the run's
NN-cbd folder when its cbd stage calibrated). Prints, per inlet setting, the D50, the
intruded volume above 1 um and the PSD modes (10 bins per decade).
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


def _summary(label: str, c) -> str:
    """D50, share of the intruded volume above 1 um, the three largest PSD peaks."""
    d = np.asarray(c.diameter_nm, dtype=float)
    y = np.asarray(c.normalized(), dtype=float)
    above = float(np.max(y[d >= 1000.0], initial=0.0))
    psd = c.psd(quantity="specific_volume_mm3_per_g", bins_per_decade=10)
    v, dd = np.asarray(psd.dv_dlogd), np.asarray(psd.diameter_nm)
    n = v.size
    peaks = [
        i for i in range(n) if v[i] > 0 and v[i] >= max(v[max(i - 1, 0)], v[min(i + 1, n - 1)])
    ]
    top = sorted(peaks, key=lambda i: -v[i])[:3]
    modes = ", ".join(f"{dd[i]:.0f} nm ({v[i]:.1f})" for i in top)
    return (
        f"{label}: D50 {c.d_values()['d50_nm']:.1f} nm, intruded above 1 um {100 * above:.2f} %, "
        f"PSD peaks (dV/dlogD mm3/g) {modes}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--calibration", default=None)
    ap.add_argument("--measured", default="data_samples/seed000_mip_synthetic.csv")
    ap.add_argument("--out", default="docs/images")
    ap.add_argument("--suffix", default="", help="appended to the figure names, e.g. _calibrated")
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
    save_figure(fig, out / f"twin_mip_overlay{args.suffix}.png")
    cal = [Path(args.calibration)] if args.calibration else sorted(Path(args.run).glob("*-cbd"))
    for folder in cal:
        if (folder / "calibration_overlay.png").is_file():
            shutil.copyfile(
                folder / "calibration_overlay.png",
                out / f"twin_calibration_overlay{args.suffix}.png",
            )
    for label, c in curves:
        print(_summary(label, c))


if __name__ == "__main__":
    main()
