"""Stage ``reference``: compare the run's numbers with reference values (a paper's, a lab's).

A digital twin is judged by whether it lands on the measured numbers. This stage looks up
numbers of earlier stages by dotted key (``porosity.total_porosity``, ``mip.d50_nm``,
``mip.inlet_settings.top.d50_nm``), compares each with a reference value and an accepted
range, checks relations between numbers (``granulometry.d50_nm > mip.resolved_d50_nm``) and
writes a table, a Markdown page with the explanation of every deviation, and a figure::

    [[stage]]
    name = "reference"
    source = "Beuse et al. 2021, doi:10.3390/batteries7040070, section 3.5"
    [[stage.values]]
    key = "porosity.total_porosity"
    label = "total porosity"
    reference = 0.161
    low = 0.16
    high = 0.18
    scale = 100          # shown in %
    unit = "%"
    note = "gauge 18 %, digital model 16.1 %"
    [[stage.relations]]
    left = "granulometry.d50_nm"
    op = ">"
    right = "mip.resolved_d50_nm"
    label = "granulometry D50 above the MIP D50 (pore shielding)"

It only measures: the volume passes on unchanged.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070 (the reference
   values of the example above)
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from microstructure.pipeline.stages import Stage, StageContext, StageOutput, StageParams, register
from microstructure.volume import Volume

_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


class ReferenceValue(StageParams):
    """One number of the run compared with a reference value and an accepted range."""

    key: str = Field(
        ..., description="dotted key of a stage's number, e.g. porosity.total_porosity"
    )
    label: str | None = Field(None, description="name shown in the table (default: the key)")
    reference: float | None = Field(None, description="the reference value (same units as key)")
    low: float | None = Field(None, description="lowest accepted value (same units as key)")
    high: float | None = Field(None, description="highest accepted value (same units as key)")
    scale: float = Field(1.0, gt=0.0, description="display factor, e.g. 100 for %")
    unit: str = Field("", description="display unit after scaling")
    note: str = Field("", description="where the reference comes from, why it may differ")
    origin: Literal["twin", "recipe", "seed", "fitted"] = Field(
        "twin",
        description="where the run's number comes from: measured on the twin (a result), set "
        "by the recipe (an input: agreeing with the reference proves nothing), taken from "
        "the reference source itself, or fitted by the cbd stage's calibration to a measured "
        "curve (an input fitted to data)",
    )

    @model_validator(mode="after")
    def _range_ok(self) -> ReferenceValue:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"{self.key}: low ({self.low}) > high ({self.high})")
        if self.reference is None and self.low is None and self.high is None:
            raise ValueError(f"{self.key}: give a reference value or a range (low/high)")
        return self


class ReferenceRelation(StageParams):
    """A relation between two numbers of the run, e.g. granulometry D50 > MIP D50."""

    left: str = Field(..., description="dotted key of the left number")
    op: Literal[">", ">=", "<", "<="] = Field(..., description="comparison")
    right: str = Field(..., description="dotted key of the right number")
    label: str | None = Field(None, description="statement shown in the table")
    note: str = Field("", description="why the relation is expected")


class ReferenceParams(StageParams):
    source: str = Field("", description="where the reference values come from (paper, lab)")
    values: list[ReferenceValue] = Field(default_factory=list, description="numbers to compare")
    relations: list[ReferenceRelation] = Field(
        default_factory=list, description="relations between numbers to check"
    )
    required: bool = Field(
        False, description="fail the run when a number is outside its range (else report it)"
    )

    @model_validator(mode="after")
    def _something(self) -> ReferenceParams:
        if not self.values and not self.relations:
            raise ValueError("give at least one [[stage.values]] or [[stage.relations]] entry")
        return self


def lookup_number(results: dict[str, Any], key: str) -> float:
    """The number at a dotted ``key`` (``stage.name.sub``) of a run's results.

    Raises ``ValueError`` naming the missing part and what is available there.
    """
    parts = key.split(".")
    node: Any = results
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:i]) or "the run"
            avail = sorted(node) if isinstance(node, dict) else []
            hint = f"; available: {', '.join(map(str, avail[:25]))}" if avail else ""
            raise ValueError(f"{key}: no {part!r} in {where}{hint}")
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ValueError(f"{key}: is not a number ({type(node).__name__})")
    return float(node)


def _status(value: float, low: float | None, high: float | None) -> str:
    if not math.isfinite(value):
        return "not a number"
    if (low is not None and value < low) or (high is not None and value > high):
        return "outside"
    return "within" if (low is not None or high is not None) else "compared"


def _fmt(v: float | None, scale: float = 1.0) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v * scale:.4g}"


@register
class ReferenceStage(Stage):
    name = "reference"
    summary = "compare the run's numbers with reference values and ranges (paper, measurement)"
    Params = ReferenceParams
    consumes = "any"
    produces = "none"

    def run(self, volume: Volume, params: ReferenceParams, ctx: StageContext) -> StageOutput:
        checks: list[dict[str, Any]] = []
        for item in params.values:
            value = lookup_number(ctx.results, item.key)
            dev = None
            if item.reference is not None and math.isfinite(value):
                dev = value - item.reference
            checks.append(
                {
                    "label": item.label or item.key,
                    "key": item.key,
                    "value": value,
                    "reference": item.reference,
                    "low": item.low,
                    "high": item.high,
                    "deviation": dev,
                    "relative_deviation": (
                        dev / item.reference if dev is not None and item.reference else None
                    ),
                    "status": _status(value, item.low, item.high),
                    "origin": item.origin,
                    "scale": item.scale,
                    "unit": item.unit,
                    "note": item.note,
                }
            )
        relations: list[dict[str, Any]] = []
        for rel in params.relations:
            a = lookup_number(ctx.results, rel.left)
            b = lookup_number(ctx.results, rel.right)
            ok = math.isfinite(a) and math.isfinite(b) and _OPS[rel.op](a, b)
            relations.append(
                {
                    "label": rel.label or f"{rel.left} {rel.op} {rel.right}",
                    "left": rel.left,
                    "left_value": a,
                    "op": rel.op,
                    "right": rel.right,
                    "right_value": b,
                    "holds": bool(ok),
                    "note": rel.note,
                }
            )
        outside = [c["label"] for c in checks if c["status"] in ("outside", "not a number")]
        failed = [r["label"] for r in relations if not r["holds"]]
        summary = {
            c["label"]: (
                f"{_fmt(c['value'], c['scale'])} {c['unit']} (reference "
                f"{_fmt(c['reference'], c['scale'])}; range {_fmt(c['low'], c['scale'])}"
                f"..{_fmt(c['high'], c['scale'])}): {c['status']}"
            ).replace("  ", " ")
            for c in checks
        }
        summary.update({r["label"]: "holds" if r["holds"] else "does not hold" for r in relations})
        numbers: dict[str, Any] = {
            "source": params.source,
            "n_values": len(checks),
            "n_within": sum(c["status"] in ("within", "compared") for c in checks),
            "n_results_within": sum(
                c["status"] in ("within", "compared") and c["origin"] == "twin" for c in checks
            ),
            "n_results": sum(c["origin"] == "twin" for c in checks),
            "n_inputs": sum(c["origin"] != "twin" for c in checks),
            "n_relations": len(relations),
            "n_relations_holding": sum(r["holds"] for r in relations),
            "all_within": not outside and not failed,
            "summary": summary,
            "checks": checks,
            "relations": relations,
        }
        from microstructure.io.tables import atomic_write_text

        origins = _origins(ctx.results)
        text = _markdown(params.source, checks, relations, origins)
        section = _calibration_markdown(ctx.results)
        atomic_write_text(ctx.work_dir / "reference.md", text + ("\n" + section if section else ""))
        figures = []
        if checks:
            _figure(ctx.work_dir / "reference.png", checks, params.source)
            figures.append("reference.png")
        if params.required and (outside or failed):
            raise ValueError(
                "outside the reference: " + "; ".join(outside + [f"not: {f}" for f in failed])
            )
        tables = {
            "reference_comparison": {
                "quantity": [c["label"] for c in checks],
                "value": [c["value"] * c["scale"] for c in checks],
                "reference": [_nan(c["reference"]) * c["scale"] for c in checks],
                "low": [_nan(c["low"]) * c["scale"] for c in checks],
                "high": [_nan(c["high"]) * c["scale"] for c in checks],
                "unit": [c["unit"] for c in checks],
                "status": [c["status"] for c in checks],
                "origin": [origins[c["origin"]] for c in checks],
            }
        }
        return StageOutput(volume=None, numbers=numbers, tables=tables, figures=figures)


_ORIGIN = {
    "twin": "measured on the twin",
    "recipe": "set by the recipe",
    "seed": "taken from the reference",
    "fitted": "fitted to the measured curve",
}


def _calibration_markdown(results: dict[str, Any]) -> str:
    """A section on every stage's CBD calibration (``numbers.calibration`` with ``fitted``):
    fitted values with their sensitivity and origin, and the misfit on the whole volume."""
    lines: list[str] = []
    for stage, numbers in results.items():
        cal = numbers.get("calibration") if isinstance(numbers, dict) else None
        if not isinstance(cal, dict) or "fitted" not in cal:
            continue
        m = cal.get("misfit", {})
        lines += [
            f"## CBD calibration (stage {stage}): fitted to the {cal.get('label', 'curve')}",
            "",
            f"Curve: `{cal.get('curve')}`; {cal.get('evaluations')} simulations, "
            f"{float(cal.get('seconds', math.nan)):.0f} s; search volume "
            f"{cal.get('settings', {}).get('search_shape')} of "
            f"{cal.get('settings', {}).get('shape')}.",
            "",
            "| parameter | value | sensitivity (+-) | origin |",
            "|---|---|---|---|",
        ]
        for name, f in cal["fitted"].items():
            sens = f.get("sensitivity")
            sens_text = "not determined" if sens is None else f"{sens:.3g}"
            lines.append(f"| {name} | {f['value']:.4g} | {sens_text} | {f['origin']} |")
        for name, origin in cal.get("origin", {}).items():
            if name not in cal["fitted"]:
                value = cal.get("parameters", {}).get(name, math.nan)
                lines.append(f"| {name} | {value:.4g} | - | {origin} |")
        lines += [
            "",
            "Whole volume against the curve (resolved range "
            f"{_fmt(cal.get('resolved_range_nm', [math.nan])[0])}-"
            f"{_fmt(cal.get('resolved_range_nm', [0, math.nan])[-1])} nm): largest difference "
            f"{_fmt(m.get('max_abs'))}, area {_fmt(m.get('area_decades'))} decades, D50 "
            f"{_fmt(m.get('d50_simulated_nm'))} vs {_fmt(m.get('d50_measured_nm'))} nm; "
            f"quality {'ok' if cal.get('quality', {}).get('ok') else 'flagged'}. Sensitivities "
            "from the search volume.",
            "",
        ]
        step = cal.get("stages", {}).get("whole_volume_d50")
        if step:
            trail = ", ".join(
                f"{t[step['parameter']]:.4g} (D50 {t['d50_simulated_nm']:.4g} nm)"
                for t in step["steps"]
            )
            lines += [
                f"D50 step on the whole volume: {step['parameter']} {trail}; kept "
                f"{step['selected']:.4g}.",
                "",
            ]
    return "\n".join(lines)


def _nan(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _origins(results: dict[str, Any]) -> dict[str, str]:
    """The origin texts; "fitted" names the curve of the run's CBD calibration when there
    is one (e.g. "fitted to the synthetic measured-like curve ...")."""
    labels = [
        r["calibration"]["label"]
        for r in results.values()
        if isinstance(r, dict)
        and isinstance(r.get("calibration"), dict)
        and "label" in r["calibration"]
    ]
    return {**_ORIGIN, **({"fitted": f"fitted to the {labels[-1]}"} if labels else {})}


def _markdown(
    source: str,
    checks: list[dict[str, Any]],
    relations: list[dict[str, Any]],
    origins: dict[str, str] = _ORIGIN,
) -> str:
    lines = ["# Comparison with the reference", ""]
    if source:
        lines += [f"Reference: {source}", ""]
    if checks:
        lines += [
            "Origin of each number of this run: *measured on the twin* (a result), *set by the "
            "recipe* (an input; agreement with the reference is by construction) or *taken from "
            "the reference* (the reference's own number used as an input). Reference values "
            "and accepted ranges are the reference's.",
            "",
            "| quantity | this run | origin | reference | accepted range | status | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in checks:
            s, u = c["scale"], f" {c['unit']}" if c["unit"] else ""
            lo, hi = _fmt(c["low"], s), _fmt(c["high"], s)
            rng = "" if lo == hi == "n/a" else f"{lo} .. {hi}".replace("n/a", "")
            ref = _fmt(c["reference"], s)
            ref = ref + u if ref != "n/a" else ""
            lines.append(
                f"| {c['label']} | {_fmt(c['value'], s)}{u} | {origins[c['origin']]} | {ref} | "
                f"{rng.strip()} | "
                f"{c['status']} | {c['note']} |"
            )
        lines.append("")
    if relations:
        lines += ["| relation | left | right | holds | note |", "|---|---|---|---|---|"]
        for r in relations:
            lines.append(
                f"| {r['label']} | {r['left_value']:.4g} | {r['right_value']:.4g} | "
                f"{'yes' if r['holds'] else 'no'} | {r['note']} |"
            )
        lines.append("")
    return "\n".join(lines)


def _figure(path: Any, checks: list[dict[str, Any]], source: str) -> None:
    """One row per number: accepted range (bar), reference (diamond), this run (circle).

    Each row has its own scale (the values are annotated in their units), so the x axis carries
    no common unit.
    """
    from matplotlib.figure import Figure

    from microstructure.plot import save_figure

    n = len(checks)
    fig = Figure(figsize=(7.5, 0.55 * n + 1.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for i, c in enumerate(checks):
        y = n - 1 - i
        vals = [v for v in (c["value"], c["reference"], c["low"], c["high"]) if v is not None]
        vals = [v for v in vals if math.isfinite(v)]
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        span = (hi - lo) or abs(hi) or 1.0
        x0 = lo - 0.25 * span

        def pos(v: float, x0: float = x0, span: float = span) -> float:
            return (v - x0) / (1.5 * span)

        if c["low"] is not None or c["high"] is not None:
            a = pos(c["low"] if c["low"] is not None else lo - 0.25 * span)
            b = pos(c["high"] if c["high"] is not None else hi + 0.25 * span)
            ax.barh(y, b - a, left=a, height=0.5, color="#cfe8cf", edgecolor="#5a9a5a")
        if c["reference"] is not None:
            ax.plot(pos(c["reference"]), y, "D", color="#444444", ms=7)
        if math.isfinite(c["value"]):
            colour = "#2a7ab9" if c["status"] in ("within", "compared") else "#c0392b"
            ax.plot(pos(c["value"]), y, "o", color=colour, ms=8)
            ax.annotate(
                f"{_fmt(c['value'], c['scale'])} {c['unit']}",
                (pos(c["value"]), y),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=7,
            )
    ax.set_yticks(range(n), [c["label"] for c in reversed(checks)], fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel("position within each row's range (values annotated in their units)", fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_title(
        "this run (circle; red = outside), reference (diamond), accepted range (bar)"
        + (f"\n{source}" if source else ""),
        fontsize=8,
    )
    save_figure(fig, path, dpi=110)
