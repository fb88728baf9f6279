"""The whole-volume D50 step of the CBD calibration root-finds a smooth function.

The D50 of a bimodal curve whose 50 % level lies in the valley between the modes jumps from
one mode to the other as the parameter moves volume between them (seed-000 twin: CBD
porosity 0.484 -> 0.492 -> 0.506 gave D50 307 -> 213 -> 167 nm). The step root-finds the
simulated saturation at the measured D50 instead (``g = S_sim(D50_meas) - 0.5``), which moves
continuously; these tests use analytic curves with known roots (milliseconds each).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.cbd._calibrate_whole import (
    D50_STEP_TOLERANCE_DECADES,
    bracketed_root,
    refine_on_whole,
    saturation_gap,
)
from microstructure.cbd.calibrate import resolved_misfit
from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import washburn_pressure_mpa

D_NM = np.geomspace(2000.0, 20.0, 400)
RANGE = {"d_low_nm": 37.2, "d_high_nm": 2000.0}


def _curve(sat: np.ndarray) -> MipCurve:
    return MipCurve(
        diameter_nm=D_NM,
        pressure_mpa=washburn_pressure_mpa(D_NM),
        saturation=sat,
        intruded_fraction=np.full(D_NM.size, np.nan),
        label="curve",
    )


def _two_modes(porosity: float, curved: bool = False) -> MipCurve:
    """Narrow modes at 447 and 112 nm; the share of the 447 nm mode falls with the CBD
    porosity (linearly, or along an exponential when ``curved``), 0.5 at porosity 0.495
    (the root). The cumulative curve is flat (within 0.01) between about 250 and 200 nm, so
    its 50 % crossing jumps between the modes."""
    dp = porosity - 0.495
    w = 0.5 * math.exp(-24.0 * dp) if curved else 0.5 - 6.0 * dp
    step = lambda mode: 1.0 / (1.0 + (D_NM / mode) ** 8)  # noqa: E731
    return _curve(w * step(447.0) + (1.0 - w) * step(112.0))


MEASURED = _two_modes(0.495)


def _evaluate(calls: list, curved: bool = False):
    def evaluate(p):
        calls.append(p["cbd_porosity"])
        sim = _two_modes(p["cbd_porosity"], curved)
        m = resolved_misfit(sim, MEASURED, d50_weight=4.0, **RANGE)
        return m, None

    return evaluate


def test_saturation_at_the_measured_d50_is_half_for_equal_curves_and_known_when_shifted():
    s = 1.0 / (1.0 + (D_NM / 200.0) ** 3)
    same = resolved_misfit(_curve(s), _curve(s), **RANGE)
    assert same["saturation_at_d50_measured"] == pytest.approx(0.5, abs=1e-3)
    half = 1.0 / (1.0 + (D_NM / 100.0) ** 3)  # measured: half the size, D50 ~100 nm
    m = resolved_misfit(_curve(s), _curve(half), **RANGE)
    d = m["d50_measured_nm"]
    assert 95.0 < d < 105.0
    # the simulated curve at the measured D50: 1 / (1 + (d / 200)^3) ~ 0.89 (re-normalised)
    assert m["saturation_at_d50_measured"] == pytest.approx(
        1.0 / (1.0 + (d / 200.0) ** 3), abs=0.01
    )
    assert saturation_gap(m) == pytest.approx(m["saturation_at_d50_measured"] - 0.5)
    assert math.isnan(saturation_gap({}))


def test_step_converges_where_the_d50_jumps_between_two_modes():
    # the D50 itself jumps: a 0.004 porosity change moves it by more than 100 nm
    d50 = [
        resolved_misfit(_two_modes(p), MEASURED, **RANGE)["d50_simulated_nm"]
        for p in (0.493, 0.497)
    ]
    assert d50[0] - d50[1] > 100.0
    calls: list = []
    start = {"cbd_porosity": 0.484, "max_void_diameter_nm": 514.0}
    fitted, report = refine_on_whole(_evaluate(calls), start, (0.47, 0.58), 4, "cbd_porosity")
    assert report["converged"] and report["stop"] == "converged"
    assert fitted["cbd_porosity"] == pytest.approx(0.495, abs=0.002)
    assert fitted["max_void_diameter_nm"] == 514.0
    m = resolved_misfit(_two_modes(fitted["cbd_porosity"]), MEASURED, **RANGE)
    assert abs(saturation_gap(m)) <= report["saturation_tolerance"]
    # the former secant in log D50 spent all 5 simulations here (0.484 -> 0.494 -> 0.4992
    # -> 0.4956 -> 0.4939: D50 346 -> 260 -> 163 -> 201 -> 264 nm) without converging
    assert len(calls) <= 3 and report["selected"] == fitted["cbd_porosity"]
    assert [s["cbd_porosity"] for s in report["steps"]] == calls


def test_step_on_a_curved_saturation_meets_the_measured_d50_with_a_tight_tolerance():
    calls: list = []
    evaluate = _evaluate(calls, curved=True)
    fitted, report = refine_on_whole(
        evaluate, {"cbd_porosity": 0.55}, (0.47, 0.58), 9, "cbd_porosity", 5e-4
    )
    m = evaluate(fitted)[0]
    assert report["converged"] and len(calls) <= 10
    d50_off = abs(math.log10(m["d50_simulated_nm"] / m["d50_measured_nm"]))
    assert d50_off <= D50_STEP_TOLERANCE_DECADES or abs(saturation_gap(m)) <= 5e-4
    assert fitted["cbd_porosity"] == pytest.approx(0.495, abs=5e-4)


def test_bracketed_root_of_a_curved_function_bisects_when_false_position_stalls():
    calls: list = []

    def f(x):
        calls.append(x)
        return x**3 - 0.1, None  # root 0.1^(1/3) = 0.4642

    pts, why = bracketed_root(f, 0.95, -0.05, (0.0, 1.0), 12, lambda g, _: abs(g) <= 1e-5, 1e-6)
    assert why == "converged" and pts[-1][0] == pytest.approx(0.1 ** (1 / 3), abs=1e-4)
    assert len(calls) <= 10


def test_bracketed_root_stops_on_a_jump_and_at_the_band_edge():
    def jump(x):
        return (0.3 if x < 0.3 else -0.3), None  # changes sign without a root

    pts, why = bracketed_root(jump, 0.9, -0.1, (0.0, 1.0), 30, lambda g, _: abs(g) <= 0.01, 1e-3)
    assert why.startswith("g jumps across a bracket")
    xs = sorted(p[0] for p in pts)
    below = max(x for x in xs if x < 0.3)
    above = min(x for x in xs if x >= 0.3)
    assert above - below <= 1e-3 and len(pts) < 20

    def outside(x):
        return x + 1.0, None  # root at -1, outside the band

    pts, why = bracketed_root(outside, 0.5, 0.1, (0.0, 1.0), 10, lambda g, _: abs(g) <= 0.01, 1e-3)
    assert why.startswith("at the band's edge") and min(p[0] for p in pts) == 0.0


def test_not_converged_keeps_the_smallest_saturation_gap_and_says_so():
    calls: list = []
    start = {"cbd_porosity": 0.58}
    # the root 0.495 lies below the band 0.50-0.58: the low edge is the closest set
    fitted, report = refine_on_whole(_evaluate(calls), start, (0.50, 0.58), 4, "cbd_porosity")
    assert not report["converged"] and report["stop"].startswith("at the band's edge")
    assert fitted["cbd_porosity"] == pytest.approx(0.50)
    assert D50_STEP_TOLERANCE_DECADES == 0.01
