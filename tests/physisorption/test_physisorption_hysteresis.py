"""Hysteresis loops found, sized and classified (IUPAC H1-H4) on synthetic and real isotherms."""

from __future__ import annotations

import numpy as np
import pytest
from sorption_models import PHYSISORPTION, bet_isotherm, cylinder_isotherm, lognormal_pores

from microstructure.physisorption import Isotherm, hysteresis, read_isotherm


def _loop_isotherm(ads, gap, x_top=0.99):
    xa = np.concatenate([np.geomspace(0.01, 0.3, 10), np.linspace(0.32, x_top, 60)])
    xd = np.linspace(x_top - 0.005, 0.1, 80)
    na, nd = ads(xa), ads(xd) + gap(xd)
    x = np.concatenate([xa, xd])
    b = ["adsorption"] * xa.size + ["desorption"] * xd.size
    return Isotherm.from_arrays(x, np.concatenate([na, nd]), branch=b)


def _h3_gap(ads):
    def gap(x):
        rise = np.clip((x - 0.45) / 0.08, 0, 1)
        fall = np.clip((0.99 - x) / 0.04, 0, 1)
        return 0.12 * ads(x) * rise * fall

    return gap


def test_h3_loop_found_sized_and_classified():
    def ads(x):  # type II: unrestricted multilayer, no plateau
        return bet_isotherm(x, 2.0, 80.0)

    r = hysteresis(_loop_isotherm(ads, _h3_gap(ads)))
    assert r.found and r.iupac_type == "H3" and r.isotherm_type == "II"
    assert 0.40 <= r.closure_p_over_p0 <= 0.47 and r.closed
    assert r.upper_p_over_p0 > 0.9
    # the area between the branches, integrated here on a fine grid
    xs = np.linspace(0.1, 0.985, 20001)
    expected = np.trapezoid(_h3_gap(ads)(xs), xs)
    assert r.area_cm3_stp_per_g == pytest.approx(expected, rel=0.05)
    xg = np.linspace(0.45, 0.985, 2001)
    assert r.max_gap_cm3_stp_per_g == pytest.approx(_h3_gap(ads)(xg).max(), rel=0.05)


def test_h4_when_micropores_fill_first():
    def ads(x):  # type I + II composite
        return 300 * 1e4 * x / (1 + 1e4 * x) + bet_isotherm(x, 2.0, 80.0)

    r = hysteresis(_loop_isotherm(ads, _h3_gap(ads)))
    assert r.found and r.iupac_type == "H4"


def test_h1_from_open_cylinders_and_no_loop_when_reversible():
    radii, vols = lognormal_pores(8.0, 0.1, 0.6)
    xa = np.concatenate([np.geomspace(0.01, 0.3, 10), np.linspace(0.32, 0.99, 90)])
    xd = np.linspace(0.985, 0.3, 90)
    na = cylinder_isotherm(
        xa, radii_nm=radii, volumes_cm3_per_g=vols, desorption=False, external_area_m2_per_g=5.0
    )
    nd = cylinder_isotherm(
        xd, radii_nm=radii, volumes_cm3_per_g=vols, desorption=True, external_area_m2_per_g=5.0
    )
    b = ["adsorption"] * xa.size + ["desorption"] * xd.size
    iso = Isotherm.from_arrays(np.concatenate([xa, xd]), np.concatenate([na, nd]), branch=b)
    r = hysteresis(iso)
    assert r.found and r.iupac_type == "H1" and r.isotherm_type == "IV(a)"
    assert r.measures["width_ratio"] > 0.5
    flat = Isotherm.from_arrays(
        np.concatenate([xa, xd]),
        np.concatenate(
            [
                na,
                cylinder_isotherm(
                    xd,
                    radii_nm=radii,
                    volumes_cm3_per_g=vols,
                    desorption=False,
                    external_area_m2_per_g=5.0,
                ),
            ]
        ),
        branch=b,
    )
    none = hysteresis(flat)
    assert not none.found and none.iupac_type is None and none.area_cm3_stp_per_g == 0.0


def test_real_files_classified():
    a, q = PHYSISORPTION / "Sample_A.xls", PHYSISORPTION / "qnt_DUT-60_N2_raw.txt"
    if not (a.is_file() and q.is_file()):
        pytest.skip(f"validation files not available in {PHYSISORPTION}")
    mof = hysteresis(read_isotherm(q, manufacturer="qnt", fmt="txt-raw"))
    assert mof.isotherm_type == "I"  # DUT-60: micro/small mesopores filled below p/p0 0.3
    silica = hysteresis(read_isotherm(a, manufacturer="mic", fmt="xl"))
    assert silica.found and silica.isotherm_type == "IV(a)"
    assert silica.iupac_type in ("H1", "H2")
    assert 0.5 < silica.closure_p_over_p0 < 0.7
