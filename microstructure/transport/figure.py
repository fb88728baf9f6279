"""Seed 003 Figure 4 analogue: M_inter and M_combi against the intergranular porosity."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microstructure.transport.formulas import hierarchical_m_factors
from microstructure.transport.presets import PRESETS

__all__ = ["MFactorCurve", "m_factor_curve", "plot_m_factor_vs_porosity"]


@dataclass(frozen=True)
class MFactorCurve:
    """M-factors along a calendering path (arrays of equal length, dimensionless)."""

    intergranular_porosity: np.ndarray
    particle_fraction: np.ndarray
    m_inter: np.ndarray
    m_particles: np.ndarray
    m_combined: np.ndarray
    hs_upper: np.ndarray
    m_intragranular: float


def _additive_ratio() -> float:
    # Table 1: the additive / particle volume ratio is the same for all electrodes (0.1606)
    return float(np.mean([p.additive_fraction / p.particle_fraction for p in PRESETS.values()]))


def m_factor_curve(
    *,
    n_points: int = 200,
    max_porosity: float = 0.45,
    additive_ratio: float | None = None,
    m_intragranular: float | None = None,
    bruggeman_exponent: float = 1.5,
) -> MFactorCurve:
    """Seed 003 eq. 5-7 along a calendering path from ``max_porosity`` down to 0.

    Calendering removes intergranular pores at a constant additive / particle ratio ``r``, so
    ``eps_s = (1 - eps_inter) / (1 + r)``.

    Parameters
    ----------
    n_points
        Number of porosities.
    max_porosity
        Largest intergranular porosity (0..1).
    additive_ratio
        ``eps_f / eps_s``; default the Table 1 value (0.1606).
    m_intragranular, bruggeman_exponent
        See :func:`microstructure.transport.formulas.hierarchical_m_factors`.
    """
    if not (isinstance(n_points, int) and n_points >= 2):
        raise ValueError(f"n_points: expected an integer >= 2, got {n_points!r}")
    if not 0 < max_porosity < 1:
        raise ValueError(f"max_porosity: expected a value in (0, 1), got {max_porosity!r}")
    r = _additive_ratio() if additive_ratio is None else float(additive_ratio)
    if not r >= 0:
        raise ValueError(f"additive_ratio: expected a value >= 0, got {additive_ratio!r}")
    eps_e = np.linspace(0.0, max_porosity, n_points)
    eps_s = (1.0 - eps_e) / (1.0 + r)
    mf = hierarchical_m_factors(
        eps_e,
        eps_s,
        m_intragranular=m_intragranular,
        bruggeman_exponent=bruggeman_exponent,
        warn_above_bound=False,
    )
    return MFactorCurve(
        intergranular_porosity=eps_e,
        particle_fraction=eps_s,
        m_inter=np.asarray(mf.m_inter),
        m_particles=np.asarray(mf.m_particles),
        m_combined=np.asarray(mf.m_combined),
        hs_upper=np.asarray(mf.hs_upper),
        m_intragranular=mf.m_intragranular,
    )


def plot_m_factor_vs_porosity(
    path: str | os.PathLike,
    *,
    m_intragranular: float | None = None,
    bruggeman_exponent: float = 1.5,
    additive_ratio: float | None = None,
    dpi: int = 150,
) -> Path:
    """Write the Figure 4 analogue (PNG/SVG/PDF by extension) and return its path.

    Curves of ``M_inter`` and ``M_combi`` against the intergranular porosity, the three-phase
    Hashin-Shtrikman upper bound, and the four Table 1 electrodes as markers.
    Uses the Agg backend through ``matplotlib.figure.Figure`` (no global pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(path)
    if not out.parent.exists():
        raise ValueError(f"path: folder {out.parent} does not exist")
    curve = m_factor_curve(
        additive_ratio=additive_ratio,
        m_intragranular=m_intragranular,
        bruggeman_exponent=bruggeman_exponent,
    )
    fig = Figure(figsize=(5.0, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = curve.intergranular_porosity
    ax.plot(x, curve.m_combined, color="C0", label=r"$M^{combi}$ (eq. 7)")
    ax.plot(x, curve.m_inter, color="C1", ls="--", label=r"$M^{inter}$")
    ax.plot(x, curve.hs_upper, color="0.5", ls=":", label="Hashin-Shtrikman upper")
    for p in PRESETS.values():
        mf = p.m_factors(
            m_intragranular=m_intragranular,
            bruggeman_exponent=bruggeman_exponent,
            warn_above_bound=False,
        )
        ax.plot(p.intergranular_porosity, mf.m_combined, "o", color="C0", ms=4)
        ax.annotate(p.name, (p.intergranular_porosity, mf.m_combined), fontsize=7,
                    xytext=(3, 4), textcoords="offset points")  # fmt: skip
    ax.set_xlabel("intergranular porosity")
    ax.set_ylabel("M-factor")
    ax.set_title(
        f"M_II = {curve.m_intragranular:.3f}, M_inter = eps^{bruggeman_exponent:g}", fontsize=9
    )
    ax.set_xlim(0, x[-1])
    ax.set_ylim(0, None)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    return out
