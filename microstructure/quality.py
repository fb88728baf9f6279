"""Quality blocks: how well a stage's assumptions held, as measured numbers that can fail.

Every preprocessing and segmentation stage reports in ``numbers["quality"]``::

    {
        "ok": bool,                      # False when any check failed
        "checks": {"<name>": {"value": float, "limit": float, "passed": bool,
                              "meaning": "one line"}, ...},
        "flags": ["one-line human message", ...],   # failed checks and notes
    }

Build it with :func:`check` and :func:`quality_block`; the run report gathers the flags of all
stages with :func:`collect_flags` (shown at the top of ``report.html`` and in the last lines
of the console output, :func:`console_summary`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "check",
    "quality_block",
    "collect_flags",
    "collect_checks",
    "quality_summary",
    "console_summary",
    "key_results",
    "QUALITY_KEY",
]

#: the key of the quality block in a stage's numbers
QUALITY_KEY = "quality"


def check(value: Any, limit: Any, *, below: bool = True, meaning: str) -> dict[str, Any]:
    """One measured number and the limit it must respect.

    Parameters
    ----------
    value
        The measured number (anything ``float()`` accepts; ``None`` counts as NaN).
    limit
        The limit the value must not exceed (``below=True``) or must reach (``below=False``).
    below
        True: passed when ``value <= limit``; False: passed when ``value >= limit``.
    meaning
        One line saying what the number measures (shown in the report and in flags).

    Returns
    -------
    dict
        ``{"value": float, "limit": float, "passed": bool, "meaning": str}``. A NaN or
        infinite value never passes.

    Examples
    --------
    >>> check(0.2, 0.35, meaning="stripe energy left")["passed"]
    True
    >>> check(0.5, 1.0, below=False, meaning="alignment confidence")["passed"]
    False
    """
    v = _as_float(value)
    lim = _as_float(limit)
    if not math.isfinite(v) or math.isnan(lim):
        passed = False
    else:
        passed = v <= lim if below else v >= lim
    return {"value": v, "limit": lim, "passed": bool(passed), "meaning": str(meaning)}


def _as_float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _flag_text(name: str, c: Mapping[str, Any]) -> str:
    value = _as_float(c.get("value"))
    limit = _as_float(c.get("limit"))
    return f"{name}: {c.get('meaning', '')} = {value:.3g} (limit {limit:.3g})"


def quality_block(checks: Mapping[str, Mapping[str, Any]], notes: Iterable[str] = ()) -> dict:
    """A stage's quality block from its checks and notes.

    Parameters
    ----------
    checks
        ``{name: check(...)}``.
    notes
        Messages the user must know even when every check passed (e.g. "tilt correction
        skipped: geometry unknown"). They become flags but do not make the block fail.

    Returns
    -------
    dict
        ``{"ok": all checks passed, "checks": dict(checks), "flags": [...]}`` with one flag
        ``"<name>: <meaning> = <value> (limit <limit>)"`` per failed check, then the notes.

    Examples
    --------
    >>> q = quality_block({"residual": check(0.6, 0.35, meaning="stripe energy left")})
    >>> q["ok"], q["flags"]
    (False, ['residual: stripe energy left = 0.6 (limit 0.35)'])
    """
    checks = {str(k): dict(v) for k, v in checks.items()}
    failed = [name for name, c in checks.items() if not c.get("passed", False)]
    return {
        "ok": not failed,
        "checks": checks,
        "flags": [_flag_text(name, checks[name]) for name in failed] + [str(n) for n in notes],
    }


def _quality_blocks(numbers: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(stage, block)`` for every quality block, also nested one level deeper
    (``numbers[stage][part]["quality"]``, stage named ``"stage.part"``)."""
    for stage, nums in (numbers or {}).items():
        if not isinstance(nums, Mapping):
            continue
        block = nums.get(QUALITY_KEY)
        if isinstance(block, Mapping):
            yield str(stage), block
        for part, sub in nums.items():
            if part != QUALITY_KEY and isinstance(sub, Mapping):
                inner = sub.get(QUALITY_KEY)
                if isinstance(inner, Mapping):
                    yield f"{stage}.{part}", inner


def collect_flags(numbers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every flag of every stage's quality block.

    Parameters
    ----------
    numbers
        The run's numbers by stage name (``report["numbers"]``).

    Returns
    -------
    list of (str, str)
        ``(stage, flag)`` in stage order. A block nested one level deeper
        (``numbers["mip"]["top"]["quality"]``) is reported as stage ``"mip.top"``; a block at
        ``numbers["mip"]["quality"]`` as ``"mip"``.
    """
    return [
        (stage, str(flag))
        for stage, block in _quality_blocks(numbers)
        for flag in (block.get("flags") or [])
    ]


def collect_checks(numbers: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every check of every stage's quality block, as ``(stage, check name, check)``.

    Parameters
    ----------
    numbers
        The run's numbers by stage name (``report["numbers"]``).

    Returns
    -------
    list of (str, str, dict)
        Named as in :func:`collect_flags`.
    """
    out = []
    for stage, block in _quality_blocks(numbers):
        checks = block.get("checks") or {}
        if isinstance(checks, Mapping):
            for name, c in checks.items():
                if isinstance(c, Mapping):
                    out.append((stage, str(name), dict(c)))
    return out


def quality_summary(numbers: Mapping[str, Any]) -> dict[str, Any]:
    """The run's quality at a glance (``report.json["quality"]``).

    Parameters
    ----------
    numbers
        The run's numbers by stage name.

    Returns
    -------
    dict
        ``{"ok": bool, "flags": [{"stage", "message"}], "checks_passed": n,
        "checks_failed": m, "stages_checked": k}``; ``ok`` is False when any check failed
        or any block says ``"ok": false`` (flags that are only notes keep it True).
    """
    checks = collect_checks(numbers)
    failed = sum(1 for _, _, c in checks if not c.get("passed", False))
    blocks = list(_quality_blocks(numbers))
    return {
        "ok": failed == 0 and all(bool(b.get("ok", True)) for _, b in blocks),
        "flags": [{"stage": s, "message": m} for s, m in collect_flags(numbers)],
        "checks_passed": len(checks) - failed,
        "checks_failed": failed,
        "stages_checked": len(blocks),
    }


#: key result numbers shown at the end of a run: (label, stage, dotted key, unit, scale)
_KEY_RESULTS: tuple[tuple[str, tuple[str, ...], str, str, float], ...] = (
    ("AM volume fraction", ("segment",), "am_fraction", "", 1.0),
    ("porosity", ("porosity",), "total_porosity", "", 1.0),
    ("MIP D50", ("mip",), "d50_nm", " nm", 1.0),
    ("M-factor", ("m-factor", "transport", "mfactor", "m_factor"), "m_factor_mean", "", 1.0),
)


def _lookup(numbers: Mapping[str, Any], stages: tuple[str, ...], key: str) -> float | None:
    for stage in stages:
        node: Any = numbers.get(stage)
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, int | float) and not isinstance(node, bool):
            return float(node)
    return None


def key_results(numbers: Mapping[str, Any]) -> list[tuple[str, float, str]]:
    """The headline numbers of a run that are present: ``(label, value, unit)``.

    Parameters
    ----------
    numbers
        The run's numbers by stage name.

    Returns
    -------
    list of (str, float, str)
        AM volume fraction, porosity, MIP D50 and M-factor, those the run computed.
    """
    out = []
    for label, stages, key, unit, scale in _KEY_RESULTS:
        value = _lookup(numbers, stages, key)
        if value is None and label == "AM volume fraction":
            value = _am_fraction_from_porosity(numbers)
        if value is not None:
            out.append((label, value * scale, unit))
    return out


def _am_fraction_from_porosity(numbers: Mapping[str, Any]) -> float | None:
    """The AM volume fraction from the porosity stage's phase fractions, when present."""
    fractions = (numbers.get("porosity") or {}).get("phase_fractions")
    if isinstance(fractions, Mapping):
        am = fractions.get("am", fractions.get("AM"))
        if isinstance(am, int | float) and not isinstance(am, bool):
            return float(am)
    return None


def console_summary(
    report: Mapping[str, Any], *, out_dir: str | os.PathLike | None = None, max_flags: int = 5
) -> list[str]:
    """The last lines to print after a run: quality verdict, flags, key numbers, report path.

    Parameters
    ----------
    report
        The run report (``run_pipeline``'s return value or the content of ``report.json``);
        the summary is computed from its ``"numbers"`` (as the runner's ``"quality"``).
    out_dir
        The run folder, to name ``report.html`` in the last line.
    max_flags
        At most this many flag lines, the last one counting the rest when there are more
        (with the default the summary is at most 8 lines).

    Returns
    -------
    list of str
        ``"quality: N/M checks passed[, K flags]"``, one ``"warning: <stage>: <flag>"`` per
        flag, one line with the key numbers (AM fraction, porosity, MIP D50, M-factor, those
        present) and ``"report: <path>"``.
    """
    numbers = report.get("numbers", {}) or {}
    summary = quality_summary(numbers)
    flags = summary.get("flags", [])
    n_pass = int(summary.get("checks_passed", 0))
    n_fail = int(summary.get("checks_failed", 0))
    total = n_pass + n_fail
    head = f"quality: {n_pass}/{total} checks passed"
    if n_fail:
        head += f", {n_fail} FAILED"
    if flags:
        head += f", {len(flags)} warning{'s' if len(flags) != 1 else ''}"
    lines = [head]
    shown = flags if len(flags) <= max_flags else flags[: max(0, max_flags - 1)]
    for f in shown:
        lines.append(f"warning: {f.get('stage')}: {f.get('message')}")
    if len(shown) < len(flags):
        lines.append(f"warning: ... {len(flags) - len(shown)} more in report.html")
    results = key_results(numbers)
    if results:
        lines.append("result: " + ", ".join(f"{lab} {val:.4g}{unit}" for lab, val, unit in results))
    lines.append(f"report: {Path(out_dir) / 'report.html' if out_dir else 'report.html'}")
    return lines
