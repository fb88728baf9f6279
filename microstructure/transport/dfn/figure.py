"""Figures of hierarchical DFN discharges (a matplotlib ``Figure``; no global state, no GUI)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from microstructure.transport.dfn.simulate import DischargeResult

__all__ = ["discharge_axes", "plot_discharge"]


def discharge_axes(results: Sequence[DischargeResult], ax_curve: Any, ax_salt: Any) -> None:
    """Draw discharge curves into ``ax_curve`` and end-of-discharge salt profiles into ``ax_salt``.

    Parameters
    ----------
    results
        Discharges to draw; the legend shows preset, C-rate and transport mode.
    ax_curve, ax_salt
        Matplotlib ``Axes``: voltage against specific capacity, salt against position.
    """
    if not results:
        raise ValueError("results: need at least one discharge to plot")
    for r in results:
        nmc_g = r.parameters.nmc_mass_kg_per_m2 * 1e3 * r.area_cm2 * 1e-4
        style = "-" if r.transport == "combined" else "--"
        label = f"{r.preset} {r.c_rate:g}C {r.transport}"
        (line,) = ax_curve.plot(r.discharged_mah / nmc_g, r.voltage_v, style, label=label)
        ax_salt.plot(r.x_um, r.salt_end_mol_per_m3, style, color=line.get_color(), label=label)
        l_sep = r.parameters.separator_thickness_um
    ax_curve.set_xlabel("specific capacity (mAh/g NMC)")
    ax_curve.set_ylabel("voltage vs Li/Li+ (V)")
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8)
    ax_salt.axvline(l_sep, color="0.5", lw=0.8)
    ax_salt.text(l_sep, ax_salt.get_ylim()[1], " separator | electrode", va="top", fontsize=8)
    ax_salt.set_xlabel("x from Li metal (um)")
    ax_salt.set_ylabel("salt at end of discharge (mol/m3)")
    ax_salt.grid(alpha=0.3)


def plot_discharge(
    results: Sequence[DischargeResult],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> str:
    """Discharge curves (voltage vs specific capacity) and end-of-discharge salt profiles.

    Parameters
    ----------
    results
        Discharges to draw; the legend shows preset, C-rate and transport mode.
    path
        Output image (PNG, SVG...).
    title
        Figure title.

    Returns
    -------
    str
        The path written.
    """
    from microstructure.plot import new_figure, save_figure

    if not results:
        raise ValueError("results: need at least one discharge to plot")
    fig = new_figure((10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    discharge_axes(results, ax1, ax2)
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=120)
    return os.fspath(path)
