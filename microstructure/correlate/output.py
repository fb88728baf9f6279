"""Figures, JSON and the HTML page of the correlative report.

Figures are :class:`matplotlib.figure.Figure` objects saved with
:func:`microstructure.plot.save_figure`; JSON and HTML go through the atomic writers of
:mod:`microstructure.io.tables`. The HTML page uses jinja2 (autoescaped) when it is installed,
else a string template with every value escaped.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "methods_range_figure",
    "porosity_figure",
    "psd_overlay_figure",
    "write_report",
    "render_html",
]


def _fmt_pct(p: Any, u: Any) -> str:
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    return f"{100 * p:.1f} %" + ("" if u is None else f" ± {100 * float(u):.1f}")


def methods_range_figure(report: Any) -> Any:
    """Methods against their measurable pore-size range (Beuse et al. 2021, Figure 2), each
    bar labelled with the method's porosity and uncertainty."""
    from microstructure.plot import new_figure

    rows = [m for m in report.methods if m["pore_size_min_nm"] is not None]
    fig = new_figure((7.5, 0.6 * max(len(rows), 2) + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    top = max([m["pore_size_max_nm"] or 0 for m in rows] + [1e5]) * 3
    for i, m in enumerate(rows):
        lo, hi = m["pore_size_min_nm"], m["pore_size_max_nm"]
        open_end = hi is None
        hi = top if open_end else hi
        ax.barh(
            i,
            math.log10(hi) - math.log10(lo),
            left=math.log10(lo),
            height=0.55,
            color=f"C{i}",
            alpha=0.75,
            hatch="//" if open_end else None,
        )
        text = m["method"] + ": " + _fmt_pct(m["porosity"], m["porosity_uncertainty"])
        if m["porosity"] is None and m.get("bet_area_m2_per_g") is not None:
            text = f"{m['method']}: BET {m['bet_area_m2_per_g']:.3g} m2/g"
        ax.text(
            math.log10(lo) + 0.05,
            i,
            text,
            va="center",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    ax.set_yticks(range(len(rows)), [m["method"] for m in rows])
    ticks = np.arange(-1, int(math.log10(top)) + 1)
    ax.set_xticks(ticks, [f"$10^{{{t}}}$" for t in ticks])
    ax.set_xlabel("measurable pore diameter (nm), log scale; hatched: no upper limit")
    ax.set_title(f"{report.sample.get('name', '')}: methods and pore-size ranges", fontsize=9)
    ax.invert_yaxis()
    return fig


def porosity_figure(report: Any) -> Any:
    """Every porosity of the report with its standard uncertainty (the Table 2 row)."""
    from microstructure.plot import new_figure

    bars: list[tuple[str, float, float | None]] = []
    for m in report.methods:
        if m["porosity"] is not None:
            name = "MIP xtal" if m["method"] == "MIP" else m["method"]
            bars.append((name, m["porosity"], m["porosity_uncertainty"]))
        if m.get("closed_porosity") is not None:
            bars.append(("closed (He)", m["closed_porosity"], m["closed_porosity_uncertainty"]))
        for key, name in (("porosity_skel", "MIP skel"), ("porosity_app", "MIP app")):
            if m.get(key) is not None:
                bars.append((name, m[key], m[key + "_uncertainty"]))
    fig = new_figure((7.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(bars))
    ax.bar(
        x,
        [100 * b[1] for b in bars],
        color=[f"C{i}" for i in range(len(bars))],
        yerr=[100 * (b[2] or 0) for b in bars],
        capsize=4,
    )
    for i, b in enumerate(bars):
        top = 100 * (b[1] + (b[2] or 0))
        ax.text(i, top + 0.4, f"{100 * b[1]:.1f}", ha="center", fontsize=8)
    ax.set_xticks(x, [b[0] for b in bars], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("porosity (%) ± 1 standard uncertainty")
    ax.set_title("porosity by method (eq. 1-3)", fontsize=9)
    fig.tight_layout()
    return fig


def psd_overlay_figure(report: Any) -> Any:
    """MIP dV/dlogD against the BJH PSD of the desorption branch (Figure 6c), cm3/g."""
    from microstructure.plot import new_figure

    fig = new_figure((6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    if "mip_psd" in report.curves:
        d, y = report.curves["mip_psd"]
        ax.plot(d, np.asarray(y) * 1e-3, ":", color="k", label="MIP (Washburn)")
    if "bjh_psd" in report.curves:
        d, y = report.curves["bjh_psd"]
        ax.plot(d, y, "-o", ms=3, color="C0", label="N2 BJH (desorption)")
    ax.set_xscale("log")
    ax.set_xlabel("pore diameter (nm)")
    ax.set_ylabel("dV/dlogD (cm3/g)")
    ax.legend(fontsize=8)
    title = "pore size distributions: MIP vs N2 physisorption"
    if "bjh_psd" not in report.curves:
        title += " (no isotherm given: MIP only)"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _figures(report: Any, folder: Path) -> dict[str, str]:
    from microstructure.plot import save_figure
    from microstructure.porosimetry.figures import mip_comparison_figure

    out = {
        "methods": save_figure(methods_range_figure(report), folder / "methods_ranges.png"),
        "porosities": save_figure(porosity_figure(report), folder / "porosities.png"),
    }
    if "mip_psd" in report.curves or "bjh_psd" in report.curves:
        out["psd_overlay"] = save_figure(psd_overlay_figure(report), folder / "psd_overlay.png")
    if "mip_simulated" in report.curves and "mip_measured" in report.curves:
        fig = mip_comparison_figure(report.curves["mip_simulated"], report.curves["mip_measured"])
        out["twin_overlay"] = save_figure(fig, folder / "twin_vs_measured.png")
    return {k: str(v) for k, v in out.items()}


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:auto}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:3px 8px}</style></head>
<body><h1>{{ title }}</h1>
<h2>Methods side by side</h2>
<table><tr><th>method</th><th>quantity</th><th>porosity</th><th>pore size range (nm)</th>
<th>other</th></tr>
{% for m in methods %}<tr><td>{{ m.method }}</td><td>{{ m.quantity }}</td>
<td>{{ m.porosity_text }}</td><td>{{ m.range_text }}</td><td>{{ m.other }}</td></tr>
{% endfor %}</table>
<h2>Figures</h2>
{% for name, src in figures %}<figure><img src="{{ src }}" alt="{{ name }}" width="720">
<figcaption>{{ name }}</figcaption></figure>
{% endfor %}
<h2>Notes</h2><ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
<p>All numbers: report.json. Method after Beuse et al. (2021), doi:10.3390/batteries7040070.</p>
</body></html>
"""


def _rows(report: Any) -> list[dict[str, str]]:
    rows = []
    skip = {
        "method",
        "quantity",
        "porosity",
        "porosity_uncertainty",
        "pore_size_min_nm",
        "pore_size_max_nm",
    }
    for m in report.methods:
        lo, hi = m["pore_size_min_nm"], m["pore_size_max_nm"]
        rng = "-" if lo is None else f"{lo:.3g} – " + ("no limit" if hi is None else f"{hi:.4g}")
        other = "; ".join(
            f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in m.items()
            if k not in skip and v is not None
        )
        rows.append(
            {
                "method": m["method"],
                "quantity": m["quantity"],
                "porosity_text": _fmt_pct(m["porosity"], m["porosity_uncertainty"]),
                "range_text": rng,
                "other": other,
            }
        )
    return rows


def render_html(report: Any, figures: dict[str, str], folder: Path) -> str:
    """The report page (relative figure links)."""
    title = f"Correlative porosity report: {report.sample.get('name', '')}"
    figs = [(k, os.path.relpath(v, folder)) for k, v in figures.items()]
    rows = _rows(report)
    notes = list(report.notes) + [
        f"quality {name}: {'passed' if c['passed'] else 'FAILED'} ({c['meaning']}: "
        f"{c['value']:.3g}, limit {c['limit']:.3g})"
        for name, c in report.quality.get("checks", {}).items()
    ]
    try:
        import jinja2
    except ImportError:
        return _render_plain(title, rows, figs, notes)
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_PAGE).render(title=title, methods=rows, figures=figs, notes=notes)


def _render_plain(title: str, rows: list[dict[str, str]], figs: list, notes: list[str]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(r['method'])}</td><td>{e(r['quantity'])}</td><td>{e(r['porosity_text'])}"
        f"</td><td>{e(r['range_text'])}</td><td>{e(r['other'])}</td></tr>"
        for r in rows
    )
    imgs = "".join(
        f'<figure><img src="{e(s)}" alt="{e(n)}" width="720"><figcaption>{e(n)}</figcaption>'
        "</figure>"
        for n, s in figs
    )
    li = "".join(f"<li>{e(n)}</li>" for n in notes)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"</head><body><h1>{e(title)}</h1><table><tr><th>method</th><th>quantity</th>"
        f"<th>porosity</th><th>pore size range (nm)</th><th>other</th></tr>{body}</table>"
        f"{imgs}<ul>{li}</ul></body></html>"
    )


def write_report(report: Any, out_dir: str | os.PathLike) -> dict[str, str]:
    """Write ``report.json``, ``figures/*.png`` and ``report.html`` into ``out_dir``."""
    from microstructure.io.tables import atomic_write_text, write_json

    folder = Path(out_dir)
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out: cannot create {folder} ({exc.strerror})") from None
    figures = _figures(report, folder / "figures")
    data = {**report.to_dict(), "figures": figures}
    paths = {"json": str(write_json(folder / "report.json", data))}
    paths["html"] = str(
        atomic_write_text(folder / "report.html", render_html(report, figures, folder))
    )
    paths.update(figures)
    return paths
