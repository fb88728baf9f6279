"""Naumann et al. 2024, Figure 4 analogue: M_inter and M_combi against the intergranular porosity.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Hashin and Shtrikman (1962), J. Appl. Phys. 33, 3125, doi:10.1063/1.1728579.
Bruggeman (1935), Ann. Phys. 416, 636, doi:10.1002/andp.19354160705.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.plot import DEFAULT_DPI
from microstructure.transport.formulas import BRUGGEMAN_EXPONENT, hierarchical_m_factors
from microstructure.transport.presets import PRESETS

__all__ = ["MFactorCurve", "m_factor_curve", "plot_m_factor_axes", "plot_m_factor_vs_porosity"]


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
    bruggeman_exponent: float = BRUGGEMAN_EXPONENT,
) -> MFactorCurve:
    """Naumann et al. 2024, eq. 5-7 along a calendering path from ``max_porosity`` down to 0.

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
    bruggeman_exponent: float = BRUGGEMAN_EXPONENT,
    additive_ratio: float | None = None,
    dpi: int = 150,
) -> Path:
    """Write the Figure 4 analogue (PNG/SVG/PDF by extension) and return its path.

    Curves of ``M_inter`` and ``M_combi`` against the intergranular porosity, the three-phase
    Hashin-Shtrikman upper bound, and the four Table 1 electrodes as markers.
    Built as a ``matplotlib.figure.Figure`` (no global state) and written with
    :func:`microstructure.plot.save_figure`.
    """
    from microstructure.plot import new_figure, save_figure

    out = Path(path)
    if not out.parent.exists():
        raise ValueError(f"path: folder {out.parent} does not exist")
    curve = m_factor_curve(
        additive_ratio=additive_ratio,
        m_intragranular=m_intragranular,
        bruggeman_exponent=bruggeman_exponent,
    )
    fig = new_figure((5.0, 3.6), layout="constrained")
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
    ax.set_xlabel("intergranular porosity (volume fraction)")
    ax.set_ylabel("M-factor (D_eff / D)")
    ax.set_title(
        f"M_II = {curve.m_intragranular:.3f}, M_inter = eps^{bruggeman_exponent:g}", fontsize=9
    )
    ax.set_xlim(0, x[-1])
    ax.set_ylim(0, None)
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, out, dpi=dpi)


def plot_m_factor_axes(
    path: str | os.PathLike,
    per_axis: Mapping[str, Mapping[str, Any]],
    *,
    concentration_slice: tuple[np.ndarray, str, int] | None = None,
    voxel_size_nm: tuple[float, float, float] | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Image-based M-factor per axis beside Bruggeman, Stenzel and Hashin-Shtrikman.

    Parameters
    ----------
    path
        Output file (PNG/SVG/PDF by extension); its folder must exist.
    per_axis
        ``{axis: summary}`` with the keys of :meth:`MFactorResult.to_dict` plus optional
        ``m_bruggeman``, ``m_hashin_shtrikman_upper`` and ``descriptors`` (``m_stenzel``).
    concentration_slice
        Optional ``(2D normalised concentration, transport axis, cut axis)`` drawn as a map.
    voxel_size_nm
        Voxel size (z, y, x) in nm: the map's axes in micrometres (else in voxels).
    """
    from microstructure.plot import new_figure, save_figure

    out = Path(path)
    if not out.parent.exists():
        raise ValueError(f"path: folder {out.parent} does not exist")
    if not per_axis:
        raise ValueError("per_axis: no axis to plot")
    ncol = 2 if concentration_slice is not None else 1
    fig = new_figure((5.0 * ncol + 0.4, 4.0), layout="constrained")
    ax = fig.add_subplot(1, ncol, 1)
    names = list(per_axis)
    _m_factor_bars(ax, per_axis, names)
    if concentration_slice is not None:
        _concentration_map(fig, fig.add_subplot(1, ncol, 2), concentration_slice, voxel_size_nm)
    return save_figure(fig, out, dpi=dpi)


def _m_factor_bars(ax: Any, per_axis: Mapping[str, Mapping[str, Any]], names: list[str]) -> None:
    """Bars of the image M-factor beside the formulas, one group per axis; the tortuosity
    factor in the axis' tick label."""
    series = [
        ("image (diffusion)", [per_axis[a].get("m_factor") for a in names], "C0"),
        ("Bruggeman", [per_axis[a].get("m_bruggeman") for a in names], "C1"),
        (
            "Stenzel 2016",
            [(per_axis[a].get("descriptors") or {}).get("m_stenzel") for a in names],
            "C2",
        ),
        ("Hashin-Shtrikman upper", [per_axis[a].get("m_hashin_shtrikman_upper") for a in names],
         "0.6"),
    ]  # fmt: skip
    series = [s for s in series if any(v is not None for v in s[1])]
    width = 0.8 / len(series)
    x = np.arange(len(names))
    for k, (label, vals, color) in enumerate(series):
        v = np.array([np.nan if u is None else float(u) for u in vals])
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, v, width, label=label, color=color)
        ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=1)
    top = max((float(u) for s in series for u in s[1] if u is not None), default=1.0)
    ax.set_ylim(0, 1.5 * top if top > 0 else 1.0)
    ticks = []
    for a in names:
        tau = per_axis[a].get("tortuosity_factor")
        ticks.append(f"{a}\n" + ("not percolating" if tau is None else f"tau = {tau:.3g}"))
    ax.set_xticks(x, ticks)
    ax.set_xlabel("transport axis (tortuosity factor of the image)")
    ax.set_ylabel("M-factor (D_eff / D)")
    eps = per_axis[names[0]].get("porosity")
    ax.set_title(f"porosity {eps:.3f}" if eps is not None else "M-factor", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper center")


def _concentration_map(
    fig: Any,
    ax: Any,
    concentration_slice: tuple[np.ndarray, str, int],
    voxel_size_nm: tuple[float, float, float] | None,
) -> None:
    """The normalised concentration on a slice through the transport axis, axes in um (with
    a scale bar) when the voxel size is known, and a labelled colour bar."""
    import matplotlib

    from microstructure.plot import add_scale_bar

    img, t_axis, cut = concentration_slice
    rem = [a for a in range(3) if a != cut]  # the two axes of the slice, in (z, y, x) order
    extent, unit = None, "voxels"
    if voxel_size_nm is not None:
        h, w = np.shape(img)
        dy, dx = voxel_size_nm[rem[0]] / 1000.0, voxel_size_nm[rem[1]] / 1000.0
        extent, unit = (0.0, w * dx, h * dy, 0.0), "um"
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(img), cmap=cmap, vmin=0, vmax=1,
                   extent=extent, interpolation="nearest")  # fmt: skip
    if extent is not None:
        add_scale_bar(ax, extent[1])
    ax.set_ylabel(f"{'zyx'[rem[0]]} ({unit})")
    ax.set_xlabel(f"{'zyx'[rem[1]]} ({unit})")
    ax.set_title(
        f"concentration, transport along {t_axis} (middle {'zyx'[cut]} slice);\n"
        "grey: solid or not connected to both faces",
        fontsize=8,
    )
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("normalised concentration c / c_outlet\n(0 at the inlet face, 1 at the outlet)")
