"""Plots of physisorption results drawn into a given matplotlib Axes (no pyplot state).

Each helper takes the result and an Axes, draws with units on both axes and returns the Axes;
:func:`physisorption_figure` builds the four-panel overview (isotherm with the loop, BET plot,
t-plot, BJH distribution) as a :class:`matplotlib.figure.Figure`.

References
----------
.. [1] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from microstructure.physisorption.isotherm import Isotherm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from microstructure.physisorption.bet import BetResult
    from microstructure.physisorption.bjh import BjhResult
    from microstructure.physisorption.hysteresis import HysteresisResult
    from microstructure.physisorption.tplot import TplotResult

__all__ = ["isotherm_axes", "bet_axes", "tplot_axes", "bjh_axes", "physisorption_figure"]


def isotherm_axes(
    isotherm: Isotherm, ax: Any, *, loop: HysteresisResult | None = None, label: str = ""
) -> Any:
    """Adsorption (filled) and desorption (open) branches, amount vs p/p0.

    Parameters
    ----------
    isotherm
        The isotherm.
    ax
        A matplotlib Axes.
    loop
        A :class:`~microstructure.physisorption.hysteresis.HysteresisResult` whose closure
        point and type are marked.
    label
        Legend prefix.

    Returns
    -------
    Axes
    """
    xa, na = isotherm.adsorption()
    line = ax.plot(xa, na, "o-", ms=3, lw=1, label=f"{label} adsorption".strip())[0]
    if isotherm.has_desorption:
        xd, nd = isotherm.desorption()
        ax.plot(
            xd,
            nd,
            "o--",
            ms=3,
            lw=1,
            mfc="none",
            color=line.get_color(),
            label=f"{label} desorption".strip(),
        )
    if loop is not None and loop.found:
        ax.axvline(loop.closure_p_over_p0, color="0.5", lw=0.8, ls=":")
        ax.annotate(
            f"{loop.iupac_type} loop, "
            + ("closes" if loop.closed else "open down to")
            + f" p/p0 {loop.closure_p_over_p0:.2f}",
            (loop.closure_p_over_p0, float(np.max(na)) * 0.6),
            fontsize=8,
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
        )
    ax.set_xlabel("relative pressure p/p0 (-)")
    ax.set_ylabel("amount adsorbed (cm3(STP)/g)")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8)
    return ax


def bet_axes(result: BetResult, ax: Any) -> Any:
    """The linear BET plot: x / (n (1 - x)) vs x, fitted points filled, the fit line drawn."""
    x, y, f = result.bet_x, result.bet_y, result.fitted
    ax.plot(x[~f], y[~f], "o", ms=3, mfc="none", color="0.5", label="not fitted")
    ax.plot(
        x[f],
        y[f],
        "o",
        ms=4,
        label="Rouquerol window" if result.window.startswith("rouquerol") else "fitted",
    )
    xs = np.linspace(0, float(x[f].max()) * 1.1, 50)
    ax.plot(
        xs,
        result.slope * xs + result.intercept,
        "-",
        lw=1,
        label=f"{result.bet_area_m2_per_g:.4g} m2/g, C {result.c_constant:.3g}",
    )
    ax.set_xlim(0, min(float(x.max()), 0.5))
    top = float(np.max(y[x <= ax.get_xlim()[1]]))
    ax.set_ylim(0, top * 1.1)
    ax.set_xlabel("relative pressure p/p0 (-)")
    ax.set_ylabel("p/p0 / [n (1 - p/p0)] (g/cm3(STP))")
    ax.legend(fontsize=8)
    return ax


def tplot_axes(result: TplotResult, ax: Any) -> Any:
    """Amount adsorbed vs statistical thickness t, fitted points filled, the fit line drawn."""
    t, n, f = result.t_nm, result.amount_cm3_stp_per_g, result.fitted
    ax.plot(t[~f], n[~f], "o", ms=3, mfc="none", color="0.5", label="not fitted")
    ax.plot(t[f], n[f], "o", ms=4, label=f"fitted ({result.thickness})")
    ts = np.linspace(0, float(t[f].max()) * 1.3, 50)
    ax.plot(
        ts,
        result.intercept_cm3_stp_per_g + result.slope_cm3_stp_per_g_nm * ts,
        "-",
        lw=1,
        label=f"external {result.external_area_m2_per_g:.4g} m2/g",
    )
    ax.set_xlim(0, float(t[f].max()) * 2.0)
    ax.set_ylim(0, float(np.max(n[t <= ax.get_xlim()[1]])) * 1.1)
    ax.set_xlabel("statistical thickness t (nm)")
    ax.set_ylabel("amount adsorbed (cm3(STP)/g)")
    ax.legend(fontsize=8)
    return ax


def bjh_axes(result: BjhResult, ax: Any, *, label: str = "", cumulative: bool = True) -> Any:
    """dV/dlogD vs pore diameter (log axis); the cumulative volume on a twin axis."""
    ax.semilogx(
        result.diameter_nm,
        result.dv_dlogd_cm3_per_g,
        "o-",
        ms=3,
        lw=1,
        label=(label or f"BJH {result.branch}") + f", mode {result.mode_nm:.3g} nm",
    )
    ax.axvline(result.bjh_d50_nm, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("pore diameter (nm)")
    ax.set_ylabel("dV/dlogD (cm3/g)")
    if cumulative:
        tw = ax.twinx()
        tw.semilogx(result.diameter_nm, result.cumulative_volume_cm3_per_g, "-", color="0.4", lw=1)
        tw.set_ylabel("cumulative pore volume (cm3/g)")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def physisorption_figure(
    isotherm: Isotherm,
    *,
    bet_result: BetResult,
    tplot_result: TplotResult,
    bjh_result: BjhResult | None = None,
    loop: HysteresisResult | None = None,
) -> Figure:
    """Four panels: isotherm with its loop, BET plot, t-plot, BJH distribution.

    Parameters
    ----------
    isotherm
        The isotherm.
    bet_result, tplot_result, bjh_result, loop
        Results of :func:`~microstructure.physisorption.bet`, ``tplot``, ``bjh`` and
        ``hysteresis`` (BJH and the loop optional).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from microstructure.plot import new_figure

    fig = new_figure(figsize=(11, 8))
    axes = fig.subplots(2, 2)
    isotherm_axes(isotherm, axes[0, 0], loop=loop)
    axes[0, 0].set_title(isotherm.material or isotherm.name, fontsize=9)
    bet_axes(bet_result, axes[0, 1])
    tplot_axes(tplot_result, axes[1, 0])
    if bjh_result is not None:
        bjh_axes(bjh_result, axes[1, 1])
    else:
        axes[1, 1].set_axis_off()
    fig.tight_layout()
    return fig
