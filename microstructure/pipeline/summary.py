"""The results of a run at a glance: the summary card of ``report.html`` and the console's
last lines, from one list of items so both always say the same.

Each :class:`SummaryItem` names where its number lives in ``report.json`` (``source``: the
stage's key in ``report["numbers"]`` and a dotted path below it), so the card can be checked
against the JSON. Fractions stay 0..1 in the items and are shown in percent.

Items (those the run computed):

- porosity: total, closed, accessible (stage ``porosity``);
- phase fractions: pore, AM, CBD, CBD pore (stage ``porosity``; else ``segment``'s AM);
- pore size: simulated MIP D50 and granulometry D50 (stages ``mip``, ``granulometry``);
- transport: M-factor and tortuosity factor per axis (stage ``mfactor``);

plus the run's quality verdict and flags (:func:`microstructure.quality.quality_summary`).
When a recipe has two stages of one name, the last one's numbers are shown (the final
result); every stage's numbers stay in ``report.json`` and the stage sections of the page.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microstructure.quality import quality_summary

__all__ = ["SummaryItem", "run_summary", "summary_lines", "format_value", "lookup"]

_PHASES = (("pore", "pore"), ("am", "AM"), ("cbd", "CBD"), ("cbd_pore", "CBD pore"))


@dataclass(frozen=True)
class SummaryItem:
    """One number of the summary.

    Attributes
    ----------
    section
        ``"porosity"``, ``"phases"``, ``"pore size"`` or ``"transport"``.
    label
        Human label (``"total"``, ``"MIP D50"``, ``"M-factor y"``).
    value
        The number as in ``report.json`` (fractions 0..1).
    unit
        ``"%"`` (a fraction shown in percent), ``"nm"`` or ``""``.
    stage
        The stage's key in ``report["numbers"]``.
    path
        Dotted path of the number below the stage's numbers.
    """

    section: str
    label: str
    value: float
    unit: str
    stage: str
    path: str

    @property
    def source(self) -> str:
        """``stage:dotted.path`` of the number in ``report["numbers"]``."""
        return f"{self.stage}:{self.path}"

    @property
    def text(self) -> str:
        """The value as shown (percent for fractions)."""
        return format_value(self.value, self.unit)


def format_value(value: float, unit: str) -> str:
    """``"32.54 %"`` for a fraction with unit ``"%"``, ``"1436 nm"``, ``"0.1013"``."""
    if not math.isfinite(value):
        return f"{value}"
    if unit == "%":
        return f"{100.0 * value:.2f} %"
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def lookup(numbers: Mapping[str, Any], stage: str, path: str) -> Any:
    """The value at ``numbers[stage]`` then the dotted ``path`` (None when absent)."""
    node: Any = numbers.get(stage)
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _stage_key(report: Mapping[str, Any], name: str) -> str | None:
    """The key (in ``report["numbers"]``) of the last stage named ``name``."""
    keys = [
        str(st.get("key") or st.get("name"))
        for st in report.get("stages", []) or []
        if st.get("name") == name
    ]
    if keys:
        return keys[-1]
    return name if name in (report.get("numbers") or {}) else None


def run_summary(report: Mapping[str, Any]) -> list[SummaryItem]:
    """The summary items of a run report (the content of ``report.json``), in card order.

    Parameters
    ----------
    report
        A run report (:func:`microstructure.pipeline.run_pipeline`'s return value).

    Returns
    -------
    list of SummaryItem
        Only the numbers the run computed (finite or not, as in the JSON).
    """
    numbers = report.get("numbers", {}) or {}
    items: list[SummaryItem] = []

    def add(section: str, label: str, stage: str | None, path: str, unit: str) -> None:
        if stage is None:
            return
        value = _number(lookup(numbers, stage, path))
        if value is not None:
            items.append(SummaryItem(section, label, value, unit, stage, path))

    por = _stage_key(report, "porosity")
    for key, label in (("total", "total"), ("closed", "closed"), ("accessible", "accessible")):
        add("porosity", label, por, f"{key}_porosity", "%")
    for key, label in _PHASES:
        add("phases", label, por, f"phase_fractions.{key}", "%")
    if not any(i.section == "phases" for i in items):
        add("phases", "AM", _stage_key(report, "segment"), "am_fraction", "%")
    add("pore size", "MIP D50", _stage_key(report, "mip"), "d50_nm", "nm")
    add("pore size", "granulometry D50", _stage_key(report, "granulometry"), "d50_nm", "nm")
    mf = _stage_key(report, "mfactor")
    axes = lookup(numbers, mf, "axes") if mf else None
    if isinstance(axes, Mapping):
        for axis in axes:
            add("transport", f"M-factor {axis}", mf, f"axes.{axis}.m_factor", "")
            add("transport", f"tortuosity factor {axis}", mf, f"axes.{axis}.tortuosity_factor", "")
    return items


def _section_line(section: str, items: list[SummaryItem]) -> str:
    if section == "transport":
        m = {i.label.rsplit(" ", 1)[-1]: i.text for i in items if i.label.startswith("M-")}
        tau = {i.label.rsplit(" ", 1)[-1]: i.text for i in items if i.label.startswith("tort")}
        parts = [
            f"{axis} {value}" + (f" (tau {tau[axis]})" if axis in tau else "")
            for axis, value in m.items()
        ]
        return "M-factor: " + ", ".join(parts)
    return f"{section}: " + ", ".join(f"{item.label} {item.text}" for item in items)


def summary_lines(
    report: Mapping[str, Any],
    *,
    out_dir: str | os.PathLike | None = None,
    max_flags: int = 5,
) -> list[str]:
    """The console's last lines after a run: key numbers, quality, flags, ``report.html``.

    Parameters
    ----------
    report
        The run report.
    out_dir
        The run folder, to name ``report.html`` in the last line.
    max_flags
        At most this many flag lines (the last one counting the rest when there are more).

    Returns
    -------
    list of str
        One line per section of :func:`run_summary` (``"porosity: total 32.54 %, ..."``),
        ``"quality: N/M checks passed[, K FAILED][, W warnings]"``, one
        ``"warning: <stage>: <flag>"`` per flag, and ``"report: <path to report.html>"``.
    """
    items = run_summary(report)
    lines = []
    for section in dict.fromkeys(i.section for i in items):
        lines.append(_section_line(section, [i for i in items if i.section == section]))
    q = quality_summary(report.get("numbers", {}) or {})
    flags = q.get("flags", [])
    total = int(q["checks_passed"]) + int(q["checks_failed"])
    head = f"quality: {q['checks_passed']}/{total} checks passed"
    if q["checks_failed"]:
        head += f", {q['checks_failed']} FAILED"
    if flags:
        head += f", {len(flags)} warning{'s' if len(flags) != 1 else ''}"
    lines.append(head)
    shown = flags if len(flags) <= max_flags else flags[: max(0, max_flags - 1)]
    lines += [f"warning: {f.get('stage')}: {f.get('message')}" for f in shown]
    if len(shown) < len(flags):
        lines.append(f"warning: ... {len(flags) - len(shown)} more in report.html")
    lines.append(f"report: {Path(out_dir) / 'report.html' if out_dir else 'report.html'}")
    return lines
