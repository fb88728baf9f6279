"""Washburn, D-values, PSD conservation, curve CSV round trip."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.porosimetry import (
    MipCurve,
    d_values,
    log_differential,
    washburn_diameter_nm,
    washburn_pressure_mpa,
)
from microstructure.porosimetry.measured import load_mip_curve, read_curve_csv


def test_washburn_reference_numbers():
    # seed 000: 400 MPa -> ~3.7 nm with 140 deg and 0.48 N/m
    assert washburn_diameter_nm(400.0) == pytest.approx(3.677, abs=1e-3)
    d = np.array([3.7, 37.2, 250.0, 1e4])
    np.testing.assert_allclose(washburn_diameter_nm(washburn_pressure_mpa(d)), d)
    # D = -4 gamma cos(theta) / P, SI check: 1 MPa, 130 deg, 0.485 N/m
    expected = -4 * 0.485 * np.cos(np.radians(130.0)) / 1e6 * 1e9
    assert washburn_diameter_nm(
        1.0, contact_angle_deg=130.0, surface_tension_n_per_m=0.485
    ) == pytest.approx(expected)
    assert washburn_diameter_nm(0.0) == np.inf


@pytest.mark.parametrize("angle", [30.0, 90.0, 200.0, float("nan")])
def test_washburn_rejects_wetting_angles(angle):
    with pytest.raises(ValueError, match="contact_angle_deg"):
        washburn_diameter_nm(1.0, contact_angle_deg=angle)


def test_washburn_rejects_negative_pressure():
    with pytest.raises(ValueError, match="pressure_mpa"):
        washburn_diameter_nm(-1.0)


def test_d_values_of_known_distribution():
    # volumes 1, 2, 1 at 1000, 100, 10 nm (cumulative from large diameters)
    d = np.array([1000.0, 100.0, 10.0])
    cum = np.array([1.0, 3.0, 4.0])
    dv = d_values(d, cum, percents=(25, 50, 75, 90))
    assert dv["d25_nm"] == pytest.approx(10.0)  # 25 % of the volume is at 10 nm
    assert dv["d50_nm"] == pytest.approx(10**1.5)  # halfway in log between 10 and 100
    assert dv["d75_nm"] == pytest.approx(100.0)
    assert 100.0 < dv["d90_nm"] < 1000.0
    assert np.isnan(d_values(d, np.zeros(3))["d50_nm"])
    with pytest.raises(ValueError, match="percents"):
        d_values(d, cum, percents=(0,))


def test_psd_integral_equals_total_volume():
    rng = np.random.default_rng(1)
    d = np.sort(10 ** rng.uniform(0.5, 3.5, 200))[::-1]
    cum = np.cumsum(rng.random(200))
    psd = log_differential(d, cum, bins_per_decade=7)
    integral = np.sum(psd.dv_dlogd * np.diff(np.log10(psd.edges_nm)))
    assert integral == pytest.approx(cum[-1])
    # a single step at 100 nm gives one non-zero bin containing 100 nm
    one = log_differential(np.array([100.0]), np.array([2.0]), bins_per_decade=10)
    nz = np.flatnonzero(one.dv_dlogd)
    assert nz.size == 1
    assert one.edges_nm[nz[0]] <= 100.0 < one.edges_nm[nz[0] + 1]
    assert one.dv_dlogd[nz[0]] == pytest.approx(2.0 / 0.1)


def test_curve_csv_round_trip(tmp_path):
    curve = MipCurve(
        diameter_nm=[200.0, 100.0, 50.0],
        pressure_mpa=washburn_pressure_mpa(np.array([200.0, 100.0, 50.0])),
        saturation=[0.1, 0.5, 0.9],
        intruded_fraction=[0.03, 0.15, 0.27],
        specific_volume_mm3_per_g=[10.0, 50.0, 90.0],
        porosity=0.3,
    )
    path = curve.to_csv(tmp_path / "curve.csv")
    header = path.read_text().splitlines()[0]
    assert header == (
        "diameter_nm,pressure_mpa,saturation,intruded_fraction,specific_volume_mm3_per_g"
    )
    back = read_curve_csv(path)
    for name, values in curve.columns().items():
        np.testing.assert_allclose(back.columns()[name], values)
    assert back.porosity == pytest.approx(0.3)
    assert load_mip_curve(path).d_values() == pytest.approx(curve.d_values())
    psd_path = curve.psd().to_csv(tmp_path / "psd.csv")
    assert psd_path.read_text().startswith("diameter_nm,dv_dlogd_specific_volume_mm3_per_g")


def test_curve_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("diameter_nm,pressure_mpa\n1,2\n")
    with pytest.raises(ValueError, match="saturation"):
        read_curve_csv(bad)
    bad.write_text("diameter_nm,pressure_mpa,saturation\n1,2,x\n")
    with pytest.raises(ValueError, match="line 2"):
        read_curve_csv(bad)
