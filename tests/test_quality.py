"""Quality blocks: checks that can fail, flags gathered from every stage, the console summary."""

from __future__ import annotations

import math

import pytest

from microstructure.quality import (
    check,
    collect_checks,
    collect_flags,
    console_summary,
    key_results,
    quality_block,
    quality_summary,
)


def test_check_passes_below_and_above_the_limit() -> None:
    c = check(0.2, 0.35, meaning="stripe energy left")
    assert c == {"value": 0.2, "limit": 0.35, "passed": True, "meaning": "stripe energy left"}
    assert check(0.35, 0.35, meaning="m")["passed"]  # the limit itself passes
    assert not check(0.36, 0.35, meaning="m")["passed"]
    assert check(3, 2, below=False, meaning="m")["passed"]
    assert not check(1, 2, below=False, meaning="m")["passed"]
    assert isinstance(check(1, 2, meaning="m")["value"], float)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "x"])
@pytest.mark.parametrize("below", [True, False])
def test_non_finite_value_never_passes(bad, below) -> None:
    assert check(bad, 1.0, below=below, meaning="m")["passed"] is False


def test_quality_block_flags_failed_checks_then_notes() -> None:
    checks = {
        "residual": check(0.61, 0.35, meaning="stripe energy left"),
        "outside": check(0.01, 0.05, meaning="energy changed outside the wedge"),
    }
    q = quality_block(checks, notes=["tilt correction skipped: geometry unknown"])
    assert q["ok"] is False
    assert q["checks"] == checks and q["checks"] is not checks
    assert q["flags"] == [
        "residual: stripe energy left = 0.61 (limit 0.35)",
        "tilt correction skipped: geometry unknown",
    ]
    ok = quality_block({"outside": checks["outside"]})
    assert ok == {"ok": True, "checks": {"outside": checks["outside"]}, "flags": []}
    assert quality_block({}) == {"ok": True, "checks": {}, "flags": []}


def _numbers() -> dict:
    return {
        "curtaining": {
            "x": 1.0,
            "quality": quality_block({"residual": check(0.61, 0.35, meaning="stripe left")}),
        },
        "denoise": {"quality": quality_block({"sigma": check(0.01, 0.1, meaning="noise")})},
        "mip": {
            "d50_nm": 120.0,
            "subvoxel": {"quality": quality_block({}, notes=["few pores reach the inlet"])},
            "inlet_settings": {"top": {"quality": quality_block({}, notes=["too deep"])}},
        },
        "porosity": {"total_porosity": 0.43, "phase_fractions": {"pore": 0.43, "am": 0.57}},
        "mfactor": {"m_factor_mean": 5.5},
        "reference": "not a dict",
    }


def test_collect_flags_and_checks_find_top_level_and_nested_blocks() -> None:
    # numbers[stage]["quality"] and numbers[stage][part]["quality"]; deeper blocks are not read
    numbers = _numbers()
    assert collect_flags(numbers) == [
        ("curtaining", "residual: stripe left = 0.61 (limit 0.35)"),
        ("mip.subvoxel", "few pores reach the inlet"),
    ]
    assert [(s, n, c["passed"]) for s, n, c in collect_checks(numbers)] == [
        ("curtaining", "residual", False),
        ("denoise", "sigma", True),
    ]
    assert collect_flags({}) == [] and collect_flags({"a": {"b": 1}}) == []


def test_quality_summary_counts_checks_and_lists_flags() -> None:
    s = quality_summary(_numbers())
    assert s["ok"] is False
    assert (s["checks_passed"], s["checks_failed"], s["stages_checked"]) == (1, 1, 3)
    assert s["flags"][0] == {
        "stage": "curtaining",
        "message": "residual: stripe left = 0.61 (limit 0.35)",
    }
    # a note alone does not make the run fail
    only_note = {"a": {"quality": quality_block({}, notes=["n"])}}
    assert quality_summary(only_note)["ok"] is True


def test_key_results_and_console_summary() -> None:
    numbers = _numbers()
    assert key_results(numbers) == [
        ("AM volume fraction", 0.57, ""),
        ("porosity", 0.43, ""),
        ("MIP D50", 120.0, " nm"),
        ("M-factor", 5.5, ""),
    ]
    numbers["segment"] = {"am_fraction": 0.6}
    assert key_results(numbers)[0] == ("AM volume fraction", 0.6, "")
    lines = console_summary({"numbers": numbers}, out_dir="runs/a")
    assert lines == [
        "quality: 1/2 checks passed, 1 FAILED, 2 warnings",
        "warning: curtaining: residual: stripe left = 0.61 (limit 0.35)",
        "warning: mip.subvoxel: few pores reach the inlet",
        "result: AM volume fraction 0.6, porosity 0.43, MIP D50 120 nm, M-factor 5.5",
        "report: runs/a/report.html",
    ]


def test_console_summary_stays_short_with_many_flags() -> None:
    notes = [f"note {i}" for i in range(20)]
    report = {"numbers": {"s": {"quality": quality_block({}, notes=notes)}}}
    lines = console_summary(report)
    assert len(lines) <= 8
    assert lines[-2] == "warning: ... 16 more in report.html"
    assert lines[-1] == "report: report.html"
    clean = console_summary({"numbers": {"s": {"quality": quality_block({})}}})
    assert clean == ["quality: 0/0 checks passed", "report: report.html"]
