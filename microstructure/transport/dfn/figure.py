"""Figures of hierarchical DFN discharges (matplotlib, Agg backend; no GUI)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from microstructure.transport.dfn.simulate import DischargeResult

__all__ = ["plot_discharge"]


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
    if not results:
        raise ValueError("results: need at least one discharge to plot")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for r in results:
        nmc_g = r.parameters.nmc_mass_kg_per_m2 * 1e3 * r.area_cm2 * 1e-4
        style = "-" if r.transport == "combined" else "--"
        label = f"{r.preset} {r.c_rate:g}C {r.transport}"
        (line,) = ax1.plot(r.discharged_mah / nmc_g, r.voltage_v, style, label=label)
        ax2.plot(r.x_um, r.salt_end_mol_per_m3, style, color=line.get_color(), label=label)
        l_sep = r.parameters.separator_thickness_um
    ax1.set_xlabel("specific capacity [mAh/g NMC]")
    ax1.set_ylabel("voltage vs Li/Li+ [V]")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.axvline(l_sep, color="0.5", lw=0.8)
    ax2.text(l_sep, ax2.get_ylim()[1], " separator | electrode", va="top", fontsize=8)
    ax2.set_xlabel("x from Li metal [um]")
    ax2.set_ylabel("salt at end of discharge [mol/m3]")
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return os.fspath(path)
