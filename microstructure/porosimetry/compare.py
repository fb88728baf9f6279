"""Simulated versus measured MIP: metrics and figures (matplotlib, Agg canvas, no pyplot)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.porosimetry.distribution import MipCurve

__all__ = [
    "MipComparison",
    "area_between_curves",
    "compare_mip_curves",
    "plot_mip_curve",
    "plot_mip_comparison",
    "compare_mip_files",
]


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


def _figure(n_panels: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * n_panels, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]


def _save(fig: Any, path: str | os.PathLike) -> Path:
    target = Path(path)
    if not target.parent.exists():
        raise ValueError(f"{path}: the output folder does not exist")
    fig.savefig(target, dpi=110)
    return target


def _plot_pair(
    ax_cum: Any,
    ax_psd: Any,
    curve: MipCurve,
    style: str,
    label: str,
    cumulative: np.ndarray | None = None,
) -> None:
    norm = curve.normalized() if cumulative is None else cumulative
    ax_cum.step(curve.diameter_nm, norm, style, where="post", label=label)
    psd = curve.psd(quantity="saturation")
    area = float(np.sum(psd.dv_dlogd * np.diff(np.log10(psd.edges_nm))))
    dens = psd.dv_dlogd / area if area > 0 else psd.dv_dlogd
    ax_psd.plot(psd.diameter_nm, dens, style, marker="o", ms=3, label=label)
    d50 = curve.d_values()["d50_nm"]
    if math.isfinite(d50):
        ax_cum.axvline(d50, color=ax_cum.lines[-1].get_color(), lw=0.8, ls=":")


def _decorate(ax_cum: Any, ax_psd: Any, xlabel: str = "pore throat diameter D (nm)") -> None:
    for ax in (ax_cum, ax_psd):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.invert_xaxis()
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_cum.set_ylabel("cumulative intrusion / total intruded")
    ax_psd.set_ylabel("normalized dV/dlog D")


def plot_mip_curve(
    curve: MipCurve,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    extrusion: MipCurve | None = None,
    markers_nm: Mapping[str, float] | None = None,
    xlabel: str = "pore throat diameter D (nm)",
) -> Path:
    """Figure of one curve: cumulative intrusion and dV/dlogD PSD versus diameter.

    Parameters
    ----------
    curve
        The intrusion (or granulometry, or measured) curve.
    path
        PNG file to write (its folder must exist).
    title
        Optional figure title.
    extrusion
        Optional extrusion curve drawn in the cumulative panel, scaled like ``curve`` (mercury
        held / mercury intruded at the highest pressure), so the final plateau is the
        entrapped fraction.
    markers_nm
        Optional labelled vertical lines (diameters in nm), e.g. another method's D50.
    xlabel
        Label of the diameter axes ("pore diameter" for a granulometry).

    Returns
    -------
    The path written.
    """
    if len(curve) == 0:
        raise ValueError("curve: empty curve, nothing to plot")
    fig, (a, b) = _figure(2)
    _plot_pair(a, b, curve, "-", curve.label or "MIP")
    if extrusion is not None and len(extrusion):
        total = curve.total_saturation
        held = extrusion.saturation / total if total > 0 else extrusion.saturation
        label = extrusion.label or "extrusion"
        a.step(extrusion.diameter_nm, held, "--", where="post", label=label)
    for name, d in (markers_nm or {}).items():
        if d is not None and math.isfinite(d) and d > 0:
            for ax in (a, b):
                ax.axvline(d, color="0.3", lw=1.0, ls="-.", label=name)
    _decorate(a, b, xlabel)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_mip_curves(
    curves: Sequence[MipCurve],
    path: str | os.PathLike,
    *,
    cumulative: str = "porosity",
    styles: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str = "pore (throat) diameter D (nm)",
) -> Path:
    """Several curves in one figure: cumulative intrusion and normalized dV/dlogD.

    Parameters
    ----------
    curves
        MIP, granulometry or measured curves (their labels are the legend).
    path
        PNG file to write (its folder must exist).
    cumulative
        ``"porosity"``: the left panel shows the intruded volume / sample volume in % (curves
        without it fall back to normalized); ``"normalized"``: intruded / total intruded.
    styles
        Matplotlib line styles, one per curve (default: solid, dashed, dash-dot, dotted...).
    title, xlabel
        Figure title and diameter axis label.

    Returns
    -------
    The path written.
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
        style = styles[i % len(styles)]
        label = curve.label or f"curve {i + 1}"
        values = 100.0 * curve.intruded_fraction if absolute else None
        _plot_pair(a, b, curve, style, label, cumulative=values)
    _decorate(a, b, xlabel)
    if absolute:
        a.set_ylabel("cumulative intruded volume / sample volume (%)")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_mip_comparison(
    simulated: MipCurve,
    measured: MipCurve,
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Overlay simulated and measured curves (cumulative and PSD) in diameter space."""
    if len(simulated) == 0 or len(measured) == 0:
        raise ValueError("curves: empty curve, nothing to plot")
    fig, (a, b) = _figure(2)
    _plot_pair(a, b, simulated, "-", simulated.label or "simulated")
    _plot_pair(a, b, measured, "--", measured.label or "measured")
    _decorate(a, b)
    cmp = compare_mip_curves(simulated, measured)
    a.set_title(
        f"D50 sim {cmp.d50_simulated_nm:.3g} nm / meas {cmp.d50_measured_nm:.3g} nm", fontsize=9
    )
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def compare_mip_files(
    simulated_path: str | os.PathLike,
    measured_path: str | os.PathLike,
    *,
    figure_path: str | os.PathLike | None = None,
    pressure_unit: str | None = None,
    volume_unit: str | None = None,
    sample_mass_g: float | None = None,
    min_pressure_mpa: float | None = None,
    max_pressure_mpa: float | None = None,
    bulk_density_g_per_cm3: float | None = None,
    contact_angle_deg: float | None = None,
    surface_tension_n_per_m: float | None = None,
) -> dict[str, Any]:
    """``mip compare``: a simulated curve CSV against a measured curve, numbers and figure.

    Parameters
    ----------
    simulated_path
        Curve CSV written by :meth:`MipCurve.to_csv` (``mip simulate --out``).
    measured_path
        A curve CSV (``mip read --out``) or a raw instrument export (read with
        :func:`microstructure.io.mip_files.read_mip_file` and the options below).
    figure_path
        PNG to write with both cumulative curves and PSDs in diameter space (optional).
    pressure_unit, volume_unit, sample_mass_g, min_pressure_mpa, max_pressure_mpa, \
    bulk_density_g_per_cm3, contact_angle_deg, surface_tension_n_per_m
        Reading options of a raw measured export (ignored for a curve CSV); ``None`` keeps
        the reader's defaults.

    Returns
    -------
    dict
        :meth:`MipComparison.to_dict` (D10/D50/D90 of both, intruded porosity of each,
        areas between the curves, overlap range) plus ``simulated``/``measured`` file names
        and ``figure`` (path or None).

    Raises
    ------
    ValueError
        Unreadable or malformed files, bad reading options (the message names the file or
        the parameter).
    """
    from pathlib import Path as _Path

    from microstructure.io.mip_files import load_mip_curve, read_curve_csv

    sim = read_curve_csv(simulated_path, label="simulated")
    opts: dict[str, Any] = {
        k: v
        for k, v in {
            "pressure_unit": pressure_unit,
            "volume_unit": volume_unit,
            "sample_mass_g": sample_mass_g,
            "min_pressure_mpa": min_pressure_mpa,
            "max_pressure_mpa": max_pressure_mpa,
            "bulk_density_g_per_cm3": bulk_density_g_per_cm3,
            "contact_angle_deg": contact_angle_deg,
            "surface_tension_n_per_m": surface_tension_n_per_m,
        }.items()
        if v is not None
    }
    meas = load_mip_curve(measured_path, label="measured", **opts)
    if len(sim) == 0:
        raise ValueError(f"{simulated_path}: the simulated curve has no rows")
    out: dict[str, Any] = compare_mip_curves(sim, meas).to_dict()
    out["simulated"] = str(simulated_path)
    out["measured"] = str(measured_path)
    out["figure"] = None
    if figure_path is not None:
        out["figure"] = str(
            plot_mip_comparison(
                sim,
                meas,
                figure_path,
                title=f"{_Path(simulated_path).name} vs {_Path(measured_path).name}",
            )
        )
    return out
