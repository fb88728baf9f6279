"""A static HTML page of a run, results first: summary card, figures, provenance.

``run_pipeline`` writes ``OUT/report.html`` next to ``report.json`` after every run. The page
opens with the summary card (:mod:`microstructure.pipeline.summary`: porosity total, closed
and accessible; phase fractions; MIP and granulometry D50; M-factor and tortuosity factor per
axis; the 3D snapshot of the final labels) ending in a "Quality" box listing every stage's
flags (its ``numbers["quality"]`` block, see :mod:`microstructure.quality`) or saying that all
checks passed. The console's last lines say the same
(:func:`microstructure.pipeline.summary.summary_lines`). Each number of the card names its
source in ``report.json`` (``data-source="stage:dotted.path"``) and carries the exact value
(``data-value``). Then come the figures, at their natural size and linked to the PNG (a click
enlarges), then the provenance: the run, the stages' timings and peak memory, and per stage
its quality checks (value, limit, passed, meaning), all its scalar numbers (folded when more
than :data:`FOLD_ROWS`) and its parameters. The page needs no server, no script and no
network: it links the PNGs in ``OUT/figures/`` by relative path, so the folder can be zipped
and mailed as it is.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from microstructure.io.tables import atomic_write_text
from microstructure.pipeline.summary import SummaryItem, run_summary
from microstructure.quality import QUALITY_KEY, quality_summary

__all__ = ["write_html_report", "scalar_numbers"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1240px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.45em; margin-top: 1.6em; border-bottom: 2px solid #ccc; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #777; } code { font-size: 0.95em; }
.card { border: 1px solid #bbb; border-top: 6px solid #1f5fbf; border-radius: 8px;
        padding: 0.8em 1.2em 1em; margin: 0 0 1em; background: #fbfcfe;
        box-shadow: 0 1px 4px rgba(0, 0, 0, 0.08); }
.card table.kv th { white-space: nowrap; }
.card-title { font-size: 1.35em; font-weight: 600; margin: 0.1em 0 0.1em; }
.card-sub { color: #555; font-size: 0.9em; margin-bottom: 0.6em; }
.card-body { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
.card-numbers { display: flex; flex-wrap: wrap; gap: 0.4em 1.4em; flex: 1 1 560px; }
.card table.kv { font-size: 1em; margin: 0; min-width: 220px; }
.card table.kv caption { text-align: left; font-weight: 600; padding: 0.2em 0; color: #333; }
.card table.kv td.num { font-size: 1.1em; font-weight: 600; }
.card .snapshot img { max-width: 360px; }
.figures { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0.3em 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; cursor: zoom-in; }
figcaption { font-size: 0.8em; color: #555; }
.quality { border: 2px solid; border-radius: 4px; padding: 0.3em 1em; margin: 0.8em 0 0; }
.quality h2 { margin-top: 0.3em; border: none; font-size: 1.05em; }
.quality.warn { background: #fff4e0; border-color: #d98c00; }
.quality.ok { background: #eef8ee; border-color: #3a8a3a; }
.quality.none { background: #f6f6f6; border-color: #bbb; }
.quality li { margin: 0.2em 0; } tr.failed td { background: #fde3e3; }
details > summary { cursor: pointer; color: #245; margin: 0.3em 0; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
"""


_STAGE_FIGURE = re.compile(r"^\d{2,}-")
#: a stage's numbers table is folded (click to show) when it has more rows than this
FOLD_ROWS = 40


def scalar_numbers(
    numbers: Mapping[str, Any], *, max_items: int | None = 40
) -> list[tuple[str, Any]]:
    """Flatten a stage's numbers to ``(dotted.key, scalar)`` pairs, skipping lists and tables.

    Parameters
    ----------
    numbers
        The stage's JSON numbers (nested dicts).
    max_items
        At most this many pairs (None: all of them).

    Returns
    -------
    list of (str, scalar)
    """
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if max_items is not None and len(out) >= max_items:
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, bool | int | float | str) or value is None:
            if isinstance(value, str) and len(value) > 80:
                return
            out.append((prefix, value))

    walk("", numbers)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return html.escape(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return html.escape(str(value))
        return f"{value:.5g}"
    return html.escape(str(value))


def _figure_caption(name: str) -> str:
    """``"9. mip: mip_curve"`` for ``09-mip-mip_curve.png`` (the file name otherwise)."""
    m = re.match(r"^(\d{2,})-(.+)$", name)
    stem = name[:-4] if name.endswith(".png") else name
    if not m:
        return stem
    return f"{int(m.group(1))}. {stem[len(m.group(1)) + 1 :]}"


def _figure_html(name: str, *, caption: str | None = None) -> str:
    """A figure at its natural size (at most the page width), linked to the PNG itself:
    a click shows it full size."""
    src = html.escape(f"figures/{name}", quote=True)
    text = html.escape(caption if caption is not None else _figure_caption(name))
    return (
        f'<figure><a href="{src}" title="click to enlarge">'
        f'<img src="{src}" alt="{html.escape(name, quote=True)}" loading="lazy"></a>'
        f"<figcaption>{text}</figcaption></figure>"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _quality_box(report: Mapping[str, Any]) -> list[str]:
    """The box at the top of the page: every stage's flags, or that all checks passed."""
    summary = quality_summary(report.get("numbers", {}) or {})
    flags = list(summary.get("flags", []))
    n_pass = int(summary.get("checks_passed", 0))
    n_fail = int(summary.get("checks_failed", 0))
    n_stages = int(summary.get("stages_checked", 0))
    total = n_pass + n_fail
    if not flags and n_fail == 0:
        if n_stages == 0 and total == 0:
            return [
                '<div class="quality none" id="quality"><h2>Quality</h2>'
                "<p>No stage of this run reports quality checks.</p></div>"
            ]
        return [
            '<div class="quality ok" id="quality"><h2>Quality</h2>'
            f"<p>All quality checks passed ({_plural(total, 'check')} in "
            f"{_plural(n_stages, 'stage')}).</p></div>"
        ]
    parts = [
        '<div class="quality warn" id="quality">',
        f"<h2>Quality: {_plural(len(flags), 'warning')}</h2>",
        f"<p>{n_pass}/{total} checks passed"
        + (f", <strong>{n_fail} failed</strong>" if n_fail else "")
        + f" ({_plural(n_stages, 'stage')} checked). Read these before using the numbers.</p>",
        "<ul>",
    ]
    for flag in flags:
        parts.append(
            f"<li><strong>{html.escape(str(flag.get('stage')))}</strong>: "
            f"{html.escape(str(flag.get('message')))}</li>"
        )
    parts.append("</ul></div>")
    return parts


def _split_quality(
    numbers: Mapping[str, Any],
) -> tuple[dict[str, Any], list[tuple[str, Mapping[str, Any]]]]:
    """A stage's numbers without its quality blocks, and the blocks as ``(where, block)``
    (``""`` for ``numbers["quality"]``, ``"part"`` for ``numbers[part]["quality"]``)."""
    rest: dict[str, Any] = {}
    blocks: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in numbers.items():
        if key == QUALITY_KEY and isinstance(value, Mapping):
            blocks.insert(0, ("", value))
        elif isinstance(value, Mapping) and isinstance(value.get(QUALITY_KEY), Mapping):
            blocks.append((str(key), value[QUALITY_KEY]))
            rest[key] = {k: v for k, v in value.items() if k != QUALITY_KEY}
        else:
            rest[key] = value
    return rest, blocks


def _checks_table(where: str, block: Mapping[str, Any]) -> list[str]:
    """One stage's quality checks (name, value, limit, passed, meaning) and its flags."""
    title = f"quality checks ({where})" if where else "quality checks"
    verdict = "all passed" if block.get("ok", True) else "FAILED"
    parts = [f"<h3>{html.escape(title)}: {verdict}</h3>"]
    checks = block.get("checks") or {}
    if isinstance(checks, Mapping) and checks:
        parts.append(
            "<table><tr><th>check</th><th>value</th><th>limit</th><th>passed</th>"
            "<th>meaning</th></tr>"
        )
        for name, c in checks.items():
            c = c if isinstance(c, Mapping) else {}
            passed = bool(c.get("passed", False))
            parts.append(
                f"<tr{'' if passed else ' class=failed'}><td>{html.escape(str(name))}</td>"
                f"<td class=num>{_fmt(c.get('value'))}</td>"
                f"<td class=num>{_fmt(c.get('limit'))}</td>"
                f"<td>{'yes' if passed else '<strong>no</strong>'}</td>"
                f"<td>{html.escape(str(c.get('meaning', '')))}</td></tr>"
            )
        parts.append("</table>")
    flags = block.get("flags") or []
    if flags:
        parts.append("<ul>" + "".join(f"<li>{html.escape(str(f))}</li>" for f in flags) + "</ul>")
    return parts


def _card(report: Mapping[str, Any], snapshot: str | None) -> list[str]:
    """The summary card: key numbers (each cell names its source in report.json and holds the
    exact value in ``data-value``), the 3D snapshot, then the quality box."""
    recipe = report.get("recipe", {}) or {}
    inp = report.get("input", {}) or {}
    vs = inp.get("voxel_size_nm")
    sub = [
        f"input <code>{html.escape(str(inp.get('path')))}</code>",
        f"{' x '.join(str(n) for n in inp.get('shape') or [])} voxels (z, y, x)",
    ]
    if vs:
        sub.append(f"voxel {' x '.join(f'{float(v):g}' for v in vs)} nm")
    sub.append(f"status {html.escape(str(report.get('status')))}")
    parts = [
        '<section class="card" id="summary">',
        f'<div class="card-title">Results: {html.escape(str(recipe.get("name", "?")))}</div>',
        f'<div class="card-sub">{" &middot; ".join(sub)}</div>',
        '<div class="card-body"><div class="card-numbers">',
    ]
    items = run_summary(report)
    if not items:
        parts.append(
            '<p class="muted">This run computed none of the summary numbers (porosity, phase '
            "fractions, D50, M-factor); its stages' numbers are below.</p>"
        )
    for section in dict.fromkeys(i.section for i in items):
        rows = [i for i in items if i.section == section]
        parts.append(
            f'<table class="kv" data-section="{html.escape(section, quote=True)}">'
            f"<caption>{html.escape(_SECTION_TITLES.get(section, section))}</caption>"
        )
        if section == "transport":
            parts.extend(_transport_rows(rows))
        else:
            for item in rows:
                parts.append(f"<tr><th>{html.escape(item.label)}</th>{_card_cell(item)}</tr>")
        parts.append("</table>")
    parts.append("</div>")
    if snapshot:
        parts.append(
            f'<div class="snapshot">{_figure_html(snapshot, caption="final labels, 3D")}</div>'
        )
    parts.append("</div>")
    parts.extend(_quality_box(report))
    parts.append("</section>")
    return parts


def _card_cell(item: SummaryItem) -> str:
    return (
        f'<td class=num data-source="{html.escape(item.source, quote=True)}" '
        f'data-value="{item.value!r}">{html.escape(item.text)}</td>'
    )


def _transport_rows(items: list[SummaryItem]) -> list[str]:
    """One row per axis: M-factor and tortuosity factor."""
    axes: dict[str, dict[str, SummaryItem]] = {}
    for item in items:
        kind, axis = item.label.rsplit(" ", 1)
        axes.setdefault(axis, {})[kind] = item
    rows = ["<tr><th>axis</th><th>M-factor</th><th>tortuosity factor</th></tr>"]
    for axis, cells in axes.items():
        row = [f"<tr><th>{html.escape(axis)}</th>"]
        for kind in ("M-factor", "tortuosity factor"):
            row.append(_card_cell(cells[kind]) if kind in cells else "<td>-</td>")
        rows.append("".join(row) + "</tr>")
    return rows


_SECTION_TITLES = {
    "porosity": "Porosity",
    "phases": "Phase fractions",
    "pore size": "Pore size (D50)",
    "transport": "M-factor and tortuosity factor",
}


def _stage_figures(st: Mapping[str, Any], fig_dir: Path) -> list[str]:
    figs = st.get("figures")
    if not isinstance(figs, list) and fig_dir.is_dir():  # a report before stages listed them
        figs = sorted(p.name for p in fig_dir.glob(f"{st.get('dir')}-*.png"))
    return [str(f) for f in figs or () if str(f).endswith(".png")]


def _figures_section(stages: list[Mapping[str, Any]], fig_dir: Path) -> list[str]:
    parts = ["<h1>Figures</h1>"]
    any_figure = False
    for st in stages:
        figs = _stage_figures(st, fig_dir)
        if not figs:
            continue
        any_figure = True
        parts.append(f"<h3>{_fmt(st.get('index'))}. {html.escape(str(st.get('name')))}</h3>")
        parts.append('<div class="figures">')
        parts.extend(_figure_html(fig) for fig in figs)
        parts.append("</div>")
    if not any_figure:
        parts.append('<p class="muted">No stage of this run wrote a figure.</p>')
    return parts


def _run_table(report: Mapping[str, Any], stages: list[Mapping[str, Any]]) -> list[str]:
    recipe = report.get("recipe", {}) or {}
    inp = report.get("input", {}) or {}
    total = sum(float(st.get("seconds") or 0.0) for st in stages)
    rows = [
        ("recipe", recipe.get("name")),
        ("recipe file", recipe.get("path")),
        ("recipe sha256", recipe.get("sha256")),
        ("input", inp.get("path")),
        ("shape (z, y, x)", inp.get("shape")),
        ("dtype", inp.get("dtype")),
        ("voxel size (z, y, x) nm", inp.get("voxel_size_nm")),
        ("voxel size from", inp.get("voxel_size_origin")),
        ("electrode", report.get("electrode")),
        ("status", report.get("status")),
        ("stage time, total (s)", round(total, 2)),
        ("microstructure version", report.get("microstructure_version")),
    ]
    parts = ["<h2>Run</h2><table>"]
    for key, value in rows:
        parts.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>")
    parts.append("</table>")
    parts.append(
        "<h2>Stages</h2><table><tr><th>#</th><th>stage</th><th>status</th>"
        "<th>time (s)</th><th>peak memory (MB)</th><th>folder</th></tr>"
    )
    for st in stages:
        parts.append(
            "<tr>"
            f"<td class=num>{_fmt(st.get('index'))}</td><td>{_fmt(st.get('name'))}</td>"
            f"<td>{_fmt(st.get('status'))}</td><td class=num>{_fmt(st.get('seconds'))}</td>"
            f"<td class=num>{_fmt(st.get('peak_rss_mb'))}</td><td>{_fmt(st.get('dir'))}</td>"
            "</tr>"
        )
    parts.append("</table>")
    return parts


def _stage_params(out: Path, st: Mapping[str, Any]) -> Any:
    """The stage's parameters from its ``params.json`` (None when unreadable)."""
    try:
        meta = json.loads((out / str(st.get("dir")) / "params.json").read_text())
    except (OSError, ValueError):
        return None
    return meta.get("params") if isinstance(meta, Mapping) else None


def _stage_section(out: Path, st: Mapping[str, Any], numbers: Mapping[str, Any]) -> list[str]:
    """A stage's provenance: quality checks, every scalar number (collapsible when long) and
    its parameters."""
    name = str(st.get("name"))
    key = str(st.get("key") or name)  # unique per stage (two stages of one name)
    parts = [f"<h2>{_fmt(st.get('index'))}. {html.escape(name)}</h2>"]
    stage_numbers, blocks = _split_quality(numbers.get(key, {}) or {})
    for where, block in blocks:
        parts.extend(_checks_table(where, block))
    pairs = scalar_numbers(stage_numbers, max_items=None)
    if pairs:
        opened = " open" if len(pairs) <= FOLD_ROWS else ""
        parts.append(
            f"<details{opened}><summary>{_plural(len(pairs), 'number')}"
            + ("" if opened else " (click to show)")
            + "</summary><table><tr><th>number</th><th>value</th></tr>"
        )
        for k, value in pairs:
            parts.append(f"<tr><td>{html.escape(k)}</td><td class=num>{_fmt(value)}</td></tr>")
        parts.append("</table></details>")
        parts.append(
            '<p class="muted">Lists and tables: <code>report.json</code>, '
            f"<code>{_fmt(st.get('dir'))}/params.json</code> and its CSV files.</p>"
        )
    params = _stage_params(out, st)
    if params is not None:
        text = json.dumps(params, indent=1, sort_keys=True, default=str)
        parts.append(
            f"<details><summary>parameters</summary><pre>{html.escape(text)}</pre></details>"
        )
    return parts


def write_html_report(out_dir: str | os.PathLike, report: Mapping[str, Any]) -> Path:
    """Write ``out_dir/report.html`` from a run's report (the content of ``report.json``).

    The page is results first: the summary card (:func:`_card`: porosity, phase fractions,
    D50 of MIP and granulometry, M-factor and tortuosity factor per axis, the 3D snapshot and
    the quality verdict with every flag), then the figures at their natural size (a click
    opens the PNG), then the provenance (run, stage timings and memory, each stage's quality
    checks, numbers and parameters).

    Parameters
    ----------
    out_dir
        The run folder (holds ``figures/`` and the stage folders).
    report
        The run report as returned by :func:`microstructure.pipeline.run_pipeline`.

    Returns
    -------
    pathlib.Path
        The HTML file written (atomically).
    """
    out = Path(out_dir)
    recipe = report.get("recipe", {}) or {}
    stages = list(report.get("stages", []))
    numbers = report.get("numbers", {}) or {}
    fig_dir = out / "figures"
    # the run's own figures (e.g. 3d_labels.png), never a stage's ("NN-stage-*"), whether of
    # this run or left by another recipe
    general = (
        sorted(p.name for p in fig_dir.glob("*.png") if not _STAGE_FIGURE.match(p.name))
        if fig_dir.is_dir()
        else []
    )
    snapshot = general[0] if general else None
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>microstructure run: {html.escape(str(recipe.get('name', '')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        *_card(report, snapshot),
        *_figures_section(stages, fig_dir),
    ]
    for extra in general[1:]:
        parts.append(_figure_html(extra))
    parts.append("<h1>Provenance</h1>")
    parts.extend(_run_table(report, stages))
    for st in stages:
        parts.extend(_stage_section(out, st, numbers))
    parts.append("</body></html>")
    return atomic_write_text(out / "report.html", "\n".join(parts) + "\n")
