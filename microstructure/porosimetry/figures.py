"""MIP-type curve figures: cumulative intrusion and dV/dlogD against the pore diameter.

The ``*_figure`` functions build a :class:`matplotlib.figure.Figure` (no pyplot, no global
state, any backend); :func:`draw_curve_pair` draws into Axes you give it. The ``plot_*``
functions build the figure and write it with :func:`microstructure.plot.save_figure`.
Diameter axes are logarithmic and reversed (high pressure to the right), as porosimeters plot
them; every axis carries its unit.

References
----------
Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from microstructure.porosimetry.compare import compare_mip_curves
from microstructure.porosimetry.distribution import MipCurve

__all__ = [
    "draw_curve_pair",
    "mip_curve_figure",
    "mip_curves_figure",
    "mip_comparison_figure",
    "plot_mip_curve",
    "plot_mip_curves",
    "plot_mip_comparison",
]

THROAT_DIAMETER_LABEL = "pore throat diameter D (nm)"
CUMULATIVE_LABEL = "cumulative intrusion / total intruded (fraction)"
PSD_LABEL = "normalized dV/dlog D (1/decade)"


def _figure(n_panels: int) -> tuple[Figure, list[Any]]:
    from microstructure.plot import new_figure

    fig = new_figure((5.0 * n_panels, 4.0), layout="constrained")
    return fig, [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    from microstructure.plot import save_figure

    target = Path(path)
    if not target.parent.exists():
        raise ValueError(f"{path}: the output folder does not exist")
    return save_figure(fig, target)


def draw_curve_pair(
    ax_cum: Any,
    ax_psd: Any,
    curve: MipCurve,
    style: str = "-",
    label: str | None = None,
    cumulative: np.ndarray | None = None,
) -> None:
    """Draw one curve into two Axes: the cumulative curve (normalized, or ``cumulative``) with
    its D50 marked, and its dV/dlogD normalized to unit area over log10 D."""
    label = label if label is not None else (curve.label or "MIP")
    norm = curve.normalized() if cumulative is None else cumulative
    ax_cum.step(curve.diameter_nm, norm, style, where="post", label=label)
    psd = curve.psd(quantity="saturation")
    area = float(np.sum(psd.dv_dlogd * np.diff(np.log10(psd.edges_nm))))
    dens = psd.dv_dlogd / area if area > 0 else psd.dv_dlogd
    ax_psd.plot(psd.diameter_nm, dens, style, marker="o", ms=3, label=label)
    d50 = curve.d_values()["d50_nm"]
    if math.isfinite(d50):
        ax_cum.axvline(d50, color=ax_cum.lines[-1].get_color(), lw=0.8, ls=":")


def _decorate(ax_cum: Any, ax_psd: Any, xlabel: str = THROAT_DIAMETER_LABEL) -> None:
    """Log diameter axes, reversed, with plain-number tick labels (``2000 1000 500 200``,
    never ``6x10^2``; :func:`microstructure.plot.plain_log_axis`), units and legends."""
    from microstructure.plot import plain_log_axis

    for ax in (ax_cum, ax_psd):
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
        ax.set_xlabel(xlabel)
        ax.invert_xaxis()
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_cum.set_ylabel(CUMULATIVE_LABEL)
    ax_psd.set_ylabel(PSD_LABEL)


def mip_curve_figure(
    curve: MipCurve,
    *,
    title: str | None = None,
    extrusion: MipCurve | None = None,
    markers_nm: Mapping[str, float | None] | None = None,
    xlabel: str = THROAT_DIAMETER_LABEL,
) -> Figure:
    """Figure of one curve: cumulative intrusion and dV/dlogD PSD versus diameter.

    Parameters
    ----------
    curve
        The intrusion (or granulometry, or measured) curve.
    title
        Optional figure title.
    extrusion
        Optional extrusion curve drawn in the cumulative panel, scaled like ``curve`` (mercury
        held / mercury intruded at the highest pressure), so the final plateau is the
        entrapped fraction.
    markers_nm
        Optional labelled vertical lines (diameters in nm), e.g. another method's D50.
    xlabel
        Label of the diameter axes ("pore diameter" for a granulometry), with its unit.
    """
    if len(curve) == 0:
        raise ValueError("curve: empty curve, nothing to plot")
    fig, (a, b) = _figure(2)
    draw_curve_pair(a, b, curve, "-", curve.label or "MIP")
    if extrusion is not None and len(extrusion):
        total = curve.total_saturation
        held = extrusion.saturation / total if total > 0 else extrusion.saturation
        a.step(
            extrusion.diameter_nm, held, "--", where="post", label=extrusion.label or "extrusion"
        )
    for name, d in (markers_nm or {}).items():
        if d is not None and math.isfinite(d) and d > 0:
            for ax in (a, b):
                ax.axvline(d, color="0.3", lw=1.0, ls="-.", label=name)
    _decorate(a, b, xlabel)
    if title:
        fig.suptitle(title)
    return fig


def mip_curves_figure(
    curves: Sequence[MipCurve],
    *,
    cumulative: str = "porosity",
    styles: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str = "pore (throat) diameter D (nm)",
) -> Figure:
    """Several curves in one figure: cumulative intrusion and normalized dV/dlogD.

    Parameters
    ----------
    curves
        MIP, granulometry or measured curves (their labels are the legend).
    cumulative
        ``"porosity"``: the left panel shows the intruded volume / sample volume in % (curves
        without it fall back to normalized); ``"normalized"``: intruded / total intruded.
    styles
        Matplotlib line styles, one per curve (default: solid, dashed, dash-dot, dotted...).
    title, xlabel
        Figure title and diameter axis label (with its unit).
    """
    curves = [c for c in curves if len(c)]
    if not curves:
        raise ValueError("curves: no non-empty curve to plot")
    if cumulative not in ("porosity", "normalized"):
        raise ValueError(f"cumulative: expected 'porosity' or 'normalized', got {cumulative!r}")
    styles = list(styles or ["-", "--", "-.", ":"])
    fig, (a, b) = _figure(2)
    absolute = cumulative == "porosity" and all(
        np.all(np.isfinite(c.intruded_fraction)) for c in curves
    )
    for i, curve in enumerate(curves):
        values = 100.0 * curve.intruded_fraction if absolute else None
        label = curve.label or f"curve {i + 1}"
        draw_curve_pair(a, b, curve, styles[i % len(styles)], label, cumulative=values)
    _decorate(a, b, xlabel)
    if absolute:
        a.set_ylabel("cumulative intruded volume / sample volume (%)")
    if title:
        fig.suptitle(title)
    return fig


def mip_comparison_figure(
    simulated: MipCurve, measured: MipCurve, *, title: str | None = None
) -> Figure:
    """Simulated and measured curves overlaid (cumulative and PSD) in diameter space."""
    if len(simulated) == 0 or len(measured) == 0:
        raise ValueError("curves: empty curve, nothing to plot")
    fig, (a, b) = _figure(2)
    draw_curve_pair(a, b, simulated, "-", simulated.label or "simulated")
    draw_curve_pair(a, b, measured, "--", measured.label or "measured")
    _decorate(a, b)
    cmp = compare_mip_curves(simulated, measured)
    a.set_title(
        f"D50 sim {cmp.d50_simulated_nm:.3g} nm / meas {cmp.d50_measured_nm:.3g} nm", fontsize=9
    )
    if title:
        fig.suptitle(title)
    return fig


def plot_mip_curve(curve: MipCurve, path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`mip_curve_figure` written to ``path`` (PNG; its folder must exist)."""
    return _save(mip_curve_figure(curve, **kwargs), path)


def plot_mip_curves(curves: Sequence[MipCurve], path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`mip_curves_figure` written to ``path`` (PNG; its folder must exist)."""
    return _save(mip_curves_figure(curves, **kwargs), path)


def plot_mip_comparison(
    simulated: MipCurve, measured: MipCurve, path: str | os.PathLike, **kwargs: Any
) -> Path:
    """:func:`mip_comparison_figure` written to ``path`` (PNG; its folder must exist)."""
    return _save(mip_comparison_figure(simulated, measured, **kwargs), path)
