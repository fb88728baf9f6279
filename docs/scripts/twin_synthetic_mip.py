"""Build data_samples/seed000_mip_synthetic.csv: a SYNTHETIC, measured-like MIP intrusion curve.

The measured curve of Beuse et al. 2021 (doi:10.3390/batteries7040070, 18 % electrode) is not
public. This file is built only from what the paper states about it:

- PSD bimodal (Fig. 5b): the highest peak near 400 nm, a second peak near 100 nm;
- D50 of the intrusion between 200 and 260 nm (section 3.5): here 230 nm, the middle;
- 3.7 % of the intruded volume in throats below 18.6 nm (section 3.5), down to 3.7 nm
  (400 MPa, the instrument's end);
- total intruded volume 46.8 mm3/g (17.2 % porosity at the 3.67 g/cm3 MIP bulk density,
  Table 2);
- high-pressure run only, 0.1-400 MPa (section 2).

Volume per log10 D: two Gaussians in log10 D (modes 400 and 100 nm, widths 0.17 and 0.20
decades) whose weights are solved for D50 = 230 nm, plus the sub-18.6 nm part spread
log-uniformly. Pressures from diameters by the Washburn equation (140 deg, 0.48 N/m).

    python docs/scripts/twin_synthetic_mip.py [--out data_samples/seed000_mip_synthetic.csv]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from microstructure.io.tables import atomic_write_text
from microstructure.porosimetry.washburn import washburn_pressure_mpa

MODES_NM = (400.0, 100.0)
WIDTHS_DECADES = (0.17, 0.20)
D50_NM = 230.0
FRACTION_BELOW = 0.037
LIMIT_NM, LOWEST_NM = 18.6, 3.7
TOTAL_MM3_PER_G = 46.8
D_MAX_NM = 13000.0  # 0.1 MPa


def cumulative_fraction(d_nm: np.ndarray, w_large: float) -> np.ndarray:
    """Fraction of the total volume intruded down to diameter d (from large to small)."""
    x = np.log10(d_nm)
    above = w_large * norm.sf(x, math.log10(MODES_NM[0]), WIDTHS_DECADES[0]) + (
        1 - w_large
    ) * norm.sf(x, math.log10(MODES_NM[1]), WIDTHS_DECADES[1])
    resolved = (1 - FRACTION_BELOW) * above
    tail = np.clip(
        (math.log10(LIMIT_NM) - x) / (math.log10(LIMIT_NM) - math.log10(LOWEST_NM)), 0, 1
    )
    return resolved + FRACTION_BELOW * tail


def build() -> str:
    w = brentq(lambda w: cumulative_fraction(np.array([D50_NM]), w)[0] - 0.5, 0.05, 0.95)
    d = np.geomspace(D_MAX_NM, LOWEST_NM, 121)
    v = TOTAL_MM3_PER_G * cumulative_fraction(d, w)
    v -= v[0]
    p = washburn_pressure_mpa(d)
    lines = [
        "# SYNTHETIC measured-like MIP intrusion curve - NOT a measurement.",
        "# Built by docs/scripts/twin_synthetic_mip.py from the statements of Beuse et al. 2021",
        "# (doi:10.3390/batteries7040070) about their 18 % NMC622 electrode: bimodal PSD with",
        f"# modes near {MODES_NM[0]:.0f} and {MODES_NM[1]:.0f} nm (Fig. 5b), D50 {D50_NM:.0f} nm "
        "(200-260 nm, section 3.5),",
        f"# {100 * FRACTION_BELOW:.1f} % of the volume below {LIMIT_NM} nm, total "
        f"{TOTAL_MM3_PER_G} mm3/g, 0.1-400 MPa.",
        f"# Weight of the {MODES_NM[0]:.0f} nm mode: {w:.4f}. Washburn 140 deg, 0.48 N/m.",
        "pressure (MPa), cumulative intruded volume (mm3/g)",
    ]
    lines += [f"{pi:.6g}, {vi:.6g}" for pi, vi in zip(p, v, strict=True)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data_samples/seed000_mip_synthetic.csv")
    args = ap.parse_args()
    atomic_write_text(Path(args.out), build())
    print(args.out)


if __name__ == "__main__":
    main()
