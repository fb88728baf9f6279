"""Simulated versus measured MIP: metrics in diameter space.

Figures: :mod:`microstructure.porosimetry.figures`; the ``mip compare`` command:
:mod:`microstructure.cli.mip`.

References
----------
Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from microstructure.porosimetry.distribution import MipCurve

__all__ = ["MipComparison", "area_between_curves", "compare_mip_curves"]


def _cumulative_at(curve: MipCurve, logd: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cumulative value at log10 diameters (linear in log D between steps)."""
    d = curve.diameter_nm
    order = np.argsort(d)
    x = np.log10(d[order])
    y = values[order]
    # ascending D: cumulative decreases; outside the range: total below, 0 above
    return np.interp(logd, x, y, left=float(y[0]), right=0.0)


def area_between_curves(
    a: MipCurve,
    b: MipCurve,
    *,
    quantity: str = "normalized",
    n_points: int = 1024,
) -> tuple[float, tuple[float, float]]:
    """Area between two cumulative curves over log10(diameter), on their common range.

    Parameters
    ----------
    a, b
        Curves to compare.
    quantity
        ``"normalized"`` (each curve divided by its own total intruded volume, a shape metric
        in decades: 0 for identical shapes, 1 for curves a decade apart) or
        ``"intruded_fraction"`` (absolute, fraction x decades; needs both known).
    n_points
        Integration points (uniform in log10 D).

    Returns
    -------
    (area, (d_low_nm, d_high_nm)) of the overlap range; area NaN when they do not overlap.
    """
    if len(a) == 0 or len(b) == 0:
        raise ValueError("curves: both curves need at least one step")
    if quantity == "normalized":
        va, vb = a.normalized(), b.normalized()
    elif quantity == "intruded_fraction":
        va, vb = a.intruded_fraction, b.intruded_fraction
        if not (np.all(np.isfinite(va)) and np.all(np.isfinite(vb))):
            raise ValueError("quantity: intruded_fraction is unknown for one of the curves")
    else:
        raise ValueError(
            f"quantity: expected 'normalized' or 'intruded_fraction', got {quantity!r}"
        )
    lo = max(a.diameter_nm.min(), b.diameter_nm.min())
    hi = min(a.diameter_nm.max(), b.diameter_nm.max())
    if not hi > lo:
        return float("nan"), (float(lo), float(hi))
    x = np.linspace(math.log10(lo), math.log10(hi), n_points)
    diff = np.abs(_cumulative_at(a, x, va) - _cumulative_at(b, x, vb))
    return float(np.sum(0.5 * (diff[1:] + diff[:-1]) * np.diff(x))), (float(lo), float(hi))


@dataclass
class MipComparison:
    """Numbers of ``mip compare`` (snake_case, units in names)."""

    d50_simulated_nm: float
    d50_measured_nm: float
    d50_ratio: float
    intruded_porosity_simulated: float
    intruded_porosity_measured: float
    area_between_normalized_decades: float
    area_between_intruded_fraction_decades: float
    overlap_min_diameter_nm: float
    overlap_max_diameter_nm: float
    d10_simulated_nm: float
    d90_simulated_nm: float
    d10_measured_nm: float
    d90_measured_nm: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        return {k: (v if math.isfinite(v) else None) for k, v in asdict(self).items()}

    def text(self) -> str:
        """Human-readable summary lines."""

        def f(v: float, unit: str = "", pct: bool = False) -> str:
            if not math.isfinite(v):
                return "n/a"
            return f"{100 * v:.2f} %" if pct else f"{v:.4g}{unit}"

        return "\n".join(
            [
                f"D50 simulated: {f(self.d50_simulated_nm, ' nm')}, "
                f"measured: {f(self.d50_measured_nm, ' nm')} (ratio {f(self.d50_ratio)})",
                f"intruded porosity simulated: {f(self.intruded_porosity_simulated, pct=True)}, "
                f"measured: {f(self.intruded_porosity_measured, pct=True)}",
                f"area between normalized curves: {f(self.area_between_normalized_decades)} "
                f"decades over {f(self.overlap_min_diameter_nm)}-"
                f"{f(self.overlap_max_diameter_nm)} nm",
            ]
        )


def compare_mip_curves(simulated: MipCurve, measured: MipCurve) -> MipComparison:
    """Compare a simulated and a measured intrusion curve in diameter space.

    Reports both D-values, the intruded porosity of each (intruded volume / sample volume;
    NaN for a measured curve without bulk density), and the area between the cumulative
    curves over their common diameter range, normalized (shape) and absolute.
    """
    ds, dm = simulated.d_values(), measured.d_values()
    area_n, (lo, hi) = area_between_curves(simulated, measured, quantity="normalized")
    try:
        area_f, _ = area_between_curves(simulated, measured, quantity="intruded_fraction")
    except ValueError:
        area_f = float("nan")
    return MipComparison(
        d50_simulated_nm=ds["d50_nm"],
        d50_measured_nm=dm["d50_nm"],
        d50_ratio=ds["d50_nm"] / dm["d50_nm"] if dm["d50_nm"] > 0 else float("nan"),
        intruded_porosity_simulated=simulated.total_intruded_fraction,
        intruded_porosity_measured=measured.total_intruded_fraction,
        area_between_normalized_decades=area_n,
        area_between_intruded_fraction_decades=area_f,
        overlap_min_diameter_nm=lo,
        overlap_max_diameter_nm=hi,
        d10_simulated_nm=ds["d10_nm"],
        d90_simulated_nm=ds["d90_nm"],
        d10_measured_nm=dm["d10_nm"],
        d90_measured_nm=dm["d90_nm"],
    )
