"""BET with the Rouquerol criteria: synthetic isotherms of known area and the real files."""

from __future__ import annotations

import numpy as np
import pytest
from sorption_models import PHYSISORPTION, bet_area, bet_isotherm

from microstructure.physisorption import Isotherm, bet, read_isotherm


def _iso(x, n, **kw):
    return Isotherm.from_arrays(x, n, **kw)


def test_bet_equation_isotherm_gives_its_area():
    x = np.concatenate([np.geomspace(0.005, 0.04, 5), np.linspace(0.05, 0.35, 16), [0.5, 0.7]])
    nm, c = 47.3, 85.0
    r = bet(_iso(x, bet_isotherm(x, nm, c)))
    assert r.bet_area_m2_per_g == pytest.approx(bet_area(nm), rel=0.005)
    assert r.c_constant == pytest.approx(c, rel=0.005)
    assert r.monolayer_cm3_per_g == pytest.approx(nm, rel=0.005)
    assert r.monolayer_mmol_per_g == pytest.approx(nm / 22.414, rel=0.005)
    assert r.window == "rouquerol" and all(r.criteria.values()) and r.quality["ok"]
    lo, hi = r.p_over_p0_range
    assert lo <= r.p_over_p0_monolayer <= hi
    assert r.p_over_p0_monolayer == pytest.approx(1 / (np.sqrt(c) + 1), rel=1e-6)


def test_noisy_bet_isotherm_within_two_percent_and_window_reported():
    rng = np.random.default_rng(0)
    x = np.linspace(0.02, 0.4, 25)
    nm, c = 2.1, 70.0  # an electrode: about 9 m2/g
    n = bet_isotherm(x, nm, c) * (1 + 0.003 * rng.standard_normal(x.size))
    r = bet(_iso(x, n))
    assert r.bet_area_m2_per_g == pytest.approx(bet_area(nm), rel=0.02)
    assert r.n_points >= 4 and r.r2 >= 0.999
    assert 0.0 < r.p_over_p0_range[0] < r.p_over_p0_range[1] <= 0.4


def test_given_window_and_cross_section():
    x = np.linspace(0.03, 0.3, 12)
    n = bet_isotherm(x, 10.0, 100.0)
    r = bet(_iso(x, n), p_over_p0_range=(0.05, 0.15))
    assert r.window == "given"
    assert 0.05 <= r.p_over_p0_range[0] and r.p_over_p0_range[1] <= 0.15
    ar = bet(_iso(x, n, adsorbate="Ar"))  # argon: 0.142 nm2 by default
    assert ar.bet_area_m2_per_g == pytest.approx(bet_area(10.0, 0.142), rel=0.005)
    big = bet(_iso(x, n), cross_section_nm2=0.2)
    assert big.bet_area_m2_per_g == pytest.approx(bet_area(10.0, 0.2), rel=0.005)


def test_criteria_fail_on_a_microporous_isotherm_in_the_classic_window():
    # Langmuir (type I): n(1 - x) falls over 0.05-0.30, so criterion 1 must fail there
    x = np.concatenate([np.geomspace(1e-4, 0.04, 15), np.linspace(0.05, 0.3, 11)])
    n = 300.0 * 2000 * x / (1 + 2000 * x)
    r = bet(_iso(x, n), p_over_p0_range=(0.05, 0.3))
    assert r.criteria["n_one_minus_x_increasing"] is False
    assert r.quality["ok"] is False
    assert any("criterion 1" in f for f in r.quality["flags"])
    auto = bet(_iso(x, n))  # the automatic window moves below the knee
    assert auto.criteria["n_one_minus_x_increasing"] and auto.p_over_p0_range[1] < 0.05


def test_too_few_points_is_one_line_error():
    x = np.linspace(0.05, 0.3, 6)
    with pytest.raises(ValueError, match="fewer than 3 points") as e:
        bet(_iso(x, bet_isotherm(x, 5, 50), source="s.csv"), p_over_p0_range=(0.5, 0.6))
    assert "\n" not in str(e.value) and "s.csv" in str(e.value)


# ------------------------------------------------------------------------------ real files
def _real(name):
    path = PHYSISORPTION / name
    if not path.is_file():
        pytest.skip(f"validation file {path} not available")
    return path


def test_micromeritics_report_area_reproduced():
    iso = read_isotherm(_real("Sample_A.xls"), manufacturer="mic", fmt="xl")
    stated = iso.stated
    assert stated["bet_area_m2_per_g"] == pytest.approx(194.7493)
    # the report's own window (its BET table lists p/p0 0.052-0.300)
    same = bet(iso, p_over_p0_range=(0.05, 0.301))
    assert same.bet_area_m2_per_g == pytest.approx(stated["bet_area_m2_per_g"], rel=1e-3)
    assert same.c_constant == pytest.approx(stated["c_constant"], rel=2e-3)
    assert same.monolayer_cm3_per_g == pytest.approx(stated["monolayer_cm3_per_g"], rel=1e-3)
    auto = bet(iso)  # the Rouquerol window, reported
    assert auto.window == "rouquerol" and all(auto.criteria.values())
    assert auto.bet_area_m2_per_g == pytest.approx(stated["bet_area_m2_per_g"], rel=0.02)
    assert auto.p_over_p0_range[1] <= 0.31


def test_quantachrome_mof_area_matches_an_independent_fit():
    path = _real("qnt_DUT-60_N2_raw.txt")
    iso = read_isotherm(path, manufacturer="qnt", fmt="txt-raw")
    r = bet(iso)
    # independent: parse the columns of the raw file here and fit the same window
    rows = []
    for line in path.read_text(encoding="cp1252").splitlines():
        parts = line.split()
        if len(parts) == 6:
            try:
                rows.append([float(v) for v in parts])
            except ValueError:
                pass
    data = np.array(rows)
    top = int(np.argmax(data[:, 0] / data[:, 1]))
    x = data[: top + 1, 0] / data[: top + 1, 1]
    n = data[: top + 1, 2] / 0.0081  # cc STP absolute / sample mass (g)
    lo, hi = r.p_over_p0_range
    sel = (x >= lo) & (x <= hi)
    slope, intercept = np.polyfit(x[sel], x[sel] / (n[sel] * (1 - x[sel])), 1)
    assert r.bet_area_m2_per_g == pytest.approx(bet_area(1 / (slope + intercept)), rel=1e-6)
    assert r.c_constant == pytest.approx(1 + slope / intercept, rel=1e-6)
    assert r.bet_area_m2_per_g > 3000  # a MOF: very high area
    assert r.criteria["c_positive"] and r.criteria["monolayer_in_window"]
