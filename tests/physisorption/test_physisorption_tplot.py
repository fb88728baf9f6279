"""t-plot on synthetic isotherms of known external area and micropore volume, and real data."""

from __future__ import annotations

import numpy as np
import pytest
from sorption_models import D_LIQ, PHYSISORPTION, t_halsey_nm, t_harkins_jura_nm

from microstructure.physisorption import Isotherm, read_isotherm, tplot


def _micro_plus_external(x, thickness, s_ext=150.0, n_micro=100.0):
    """Micropores full above p/p0 ~0.01 (Langmuir) + multilayer on s_ext m2/g."""
    micro = n_micro * 1e5 * x / (1 + 1e5 * x)
    return micro + s_ext * thickness(x) * 1e-3 / D_LIQ


@pytest.mark.parametrize(
    ("curve", "thickness"), [("harkins-jura", t_harkins_jura_nm), ("halsey", t_halsey_nm)]
)
def test_external_area_and_micropore_volume_recovered(curve, thickness):
    x = np.concatenate([np.geomspace(1e-5, 0.05, 12), np.linspace(0.06, 0.4, 20)])
    iso = Isotherm.from_arrays(x, _micro_plus_external(x, thickness))
    r = tplot(iso, thickness=curve)
    assert r.external_area_m2_per_g == pytest.approx(150.0, rel=0.01)
    assert r.micropore_volume_cm3_per_g == pytest.approx(100.0 * D_LIQ, rel=0.01)
    assert r.micropore_area_m2_per_g == pytest.approx(
        r.bet_area_m2_per_g - r.external_area_m2_per_g, rel=1e-9
    )
    lo, hi = r.t_range_nm
    assert 0.35 <= lo < hi <= 0.5 and r.n_points >= 3 and r.quality["ok"]


def test_nonporous_surface_has_no_micropores_and_wrong_curve_is_flagged():
    x = np.linspace(0.05, 0.6, 30)
    n = 20.0 * t_harkins_jura_nm(x) * 1e-3 / D_LIQ  # 20 m2/g, no micropores
    r = tplot(Isotherm.from_arrays(x, n), bet_area_m2_per_g=20.0)
    assert r.external_area_m2_per_g == pytest.approx(20.0, rel=0.01)
    assert r.micropore_volume_cm3_per_g == pytest.approx(0.0, abs=1e-4)
    # the same data read through a different thickness curve: external area off, and the
    # quality block notices the negative intercept or the external area above BET
    off = tplot(Isotherm.from_arrays(x, n), thickness="halsey", bet_area_m2_per_g=20.0)
    assert abs(off.external_area_m2_per_g / 20.0 - 1) > 0.05
    assert off.quality["ok"] is False


def test_window_override_and_errors():
    x = np.linspace(0.05, 0.6, 30)
    iso = Isotherm.from_arrays(x, 5 + 100 * t_harkins_jura_nm(x), source="e.csv")
    r = tplot(iso, p_over_p0_range=(0.2, 0.5), bet_area_m2_per_g=100.0)
    assert r.p_over_p0_range[0] >= 0.2 and r.p_over_p0_range[1] <= 0.5
    with pytest.raises(ValueError, match="e.csv: t-plot: fewer than 3"):
        tplot(iso, p_over_p0_range=(0.9, 0.95), bet_area_m2_per_g=100.0)
    with pytest.raises(ValueError, match="not Ar"):
        tplot(Isotherm.from_arrays(x, 5 + x, adsorbate="Ar"))
    with pytest.raises(ValueError, match="unknown curve"):
        tplot(iso, thickness="nope")


def test_micromeritics_file_sane():
    path = PHYSISORPTION / "Sample_A.xls"
    if not path.is_file():
        pytest.skip(f"validation file {path} not available")
    iso = read_isotherm(path, manufacturer="mic", fmt="xl")
    r = tplot(iso)
    # mesoporous silica-alumina: external area close to BET, tiny micropore volume (the
    # report, with its own reference curve SIO2OH, states 139.7 m2/g and 0.0030 cm3/g)
    assert 0.6 * r.bet_area_m2_per_g < r.external_area_m2_per_g <= 1.05 * r.bet_area_m2_per_g
    assert 0.0 <= r.micropore_volume_cm3_per_g < 0.01
    assert r.r2 > 0.999
