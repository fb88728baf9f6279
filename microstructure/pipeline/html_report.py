"""A static HTML summary of a run: quality flags, input, stages with timing and memory, key
numbers, quality checks, figures.

``run_pipeline`` writes ``OUT/report.html`` next to ``report.json`` after every run. The page
opens with a "Quality" box listing every stage's flags (its ``numbers["quality"]`` block, see
:mod:`microstructure.quality`), or saying that all checks passed; each stage's section shows its
checks (value, limit, passed, meaning). The page needs no server, no script and no network: it
links the PNGs in ``OUT/figures/`` by relative path, so the folder can be zipped and mailed as
it is.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from microstructure.io.tables import atomic_write_text
from microstructure.quality import QUALITY_KEY, quality_summary

__all__ = ["write_html_report", "scalar_numbers"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 520px; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; } .muted { color: #777; }
.quality { border: 2px solid; border-radius: 4px; padding: 0.4em 1em; margin: 1em 0; }
.quality h2 { margin-top: 0.3em; border: none; }
.quality.warn { background: #fff4e0; border-color: #d98c00; }
.quality.ok { background: #eef8ee; border-color: #3a8a3a; }
.quality.none { background: #f6f6f6; border-color: #bbb; }
.quality li { margin: 0.2em 0; } tr.failed td { background: #fde3e3; }
"""


_STAGE_FIGURE = re.compile(r"^\d{2,}-")


def scalar_numbers(numbers: Mapping[str, Any], *, max_items: int = 40) -> list[tuple[str, Any]]:
    """Flatten a stage's numbers to ``(dotted.key, scalar)`` pairs, skipping lists and tables.

    Parameters
    ----------
    numbers
        The stage's JSON numbers (nested dicts).
    max_items
        At most this many pairs (the report stays readable; report.json has everything).

    Returns
    -------
    list of (str, scalar)
    """
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if len(out) >= max_items:
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


def _figure_html(name: str) -> str:
    src = html.escape(f"figures/{name}", quote=True)
    return (
        f'<figure><img src="{src}" alt="{html.escape(name, quote=True)}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
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


def write_html_report(out_dir: str | os.PathLike, report: Mapping[str, Any]) -> Path:
    """Write ``out_dir/report.html`` from a run's report (the content of ``report.json``).

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
    inp = report.get("input", {}) or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>microstructure run: {html.escape(str(recipe.get('name', '')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        *_quality_box(report),
        f"<h1>Run of recipe <code>{html.escape(str(recipe.get('name', '?')))}</code></h1>",
        "<table>",
    ]
    rows = [
        ("recipe file", recipe.get("path")),
        ("input", inp.get("path")),
        ("shape (z, y, x)", inp.get("shape")),
        ("voxel size (z, y, x) nm", inp.get("voxel_size_nm")),
        ("status", report.get("status")),
        ("microstructure version", report.get("microstructure_version")),
    ]
    for key, value in rows:
        parts.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>")
    parts.append("</table>")

    stages = list(report.get("stages", []))
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

    numbers = report.get("numbers", {}) or {}
    fig_dir = out / "figures"
    # "Result": the run's own figures (e.g. 3d_labels.png), never a stage's ("NN-stage-*"),
    # whether of this run or left by another recipe
    general = (
        sorted(p.name for p in fig_dir.glob("*.png") if not _STAGE_FIGURE.match(p.name))
        if fig_dir.is_dir()
        else []
    )
    if general:
        parts.append("<h2>Result</h2>")
        parts.extend(_figure_html(fig) for fig in general)
    for st in stages:
        name = str(st.get("name"))
        key = str(st.get("key") or name)  # unique per stage (two stages of one name)
        parts.append(f"<h2>{_fmt(st.get('index'))}. {html.escape(name)}</h2>")
        stage_numbers, blocks = _split_quality(numbers.get(key, {}) or {})
        for where, block in blocks:
            parts.extend(_checks_table(where, block))
        pairs = scalar_numbers(stage_numbers)
        if pairs:
            parts.append("<table><tr><th>number</th><th>value</th></tr>")
            for key, value in pairs:
                parts.append(
                    f"<tr><td>{html.escape(key)}</td><td class=num>{_fmt(value)}</td></tr>"
                )
            parts.append("</table>")
            parts.append(
                '<p class="muted">All numbers: <code>report.json</code> and '
                f"<code>{_fmt(st.get('dir'))}/params.json</code>.</p>"
            )
        figs = st.get("figures")
        if not isinstance(figs, list) and fig_dir.is_dir():  # a report before stages listed them
            figs = sorted(p.name for p in fig_dir.glob(f"{st.get('dir')}-*.png"))
        figs = [str(f) for f in figs or () if str(f).endswith(".png")]
        parts.extend(_figure_html(fig) for fig in figs)
    parts.append("</body></html>")
    return atomic_write_text(out / "report.html", "\n".join(parts) + "\n")
