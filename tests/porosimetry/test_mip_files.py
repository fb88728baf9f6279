"""Measured MIP files: reading, units, windows, errors; comparison and figures."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.porosimetry import (
    area_between_curves,
    compare_mip_curves,
    plot_mip_comparison,
    plot_mip_curve,
    simulate_mip,
    washburn_diameter_nm,
)
from microstructure.porosimetry.measured import load_mip_curve, read_mip_file

PSI_TO_MPA = 0.00689475729


def test_micropy_real_file(validation_file, tmp_path):
    path = validation_file("micropy_input_mip.txt")
    raw = np.loadtxt(path)
    curve = read_mip_file(path, pressure_unit="psi", sample_mass_g=0.3016)
    assert len(curve) == raw.shape[0]
    assert np.all(np.diff(curve.pressure_mpa) >= 0)  # decreasing file, sorted ascending
    assert np.all(np.diff(curve.specific_volume_mm3_per_g) >= 0)  # monotonic cumulative
    assert np.all(np.diff(curve.diameter_nm) <= 0)
    # total: 0.106484 mL for 0.3016 g -> 353 mm3/g (re-zeroed at the lowest pressure: 0 there)
    assert curve.specific_volume_mm3_per_g[-1] == pytest.approx(0.106484e3 / 0.3016)
    assert curve.pressure_mpa[-1] == pytest.approx(59681.06641 * PSI_TO_MPA)
    assert curve.diameter_nm[-1] == pytest.approx(washburn_diameter_nm(59681.06641 * PSI_TO_MPA))
    d = curve.d_values()
    assert d["d10_nm"] < d["d50_nm"] < d["d90_nm"]
    fig = plot_mip_curve(curve, tmp_path / "psd.png")
    assert fig.stat().st_size > 10_000
    # high-pressure window only (seed 000 used 0.1-400 MPa)
    window = read_mip_file(path, sample_mass_g=0.3016, min_pressure_mpa=0.1)
    assert window.pressure_mpa[0] >= 0.1
    assert window.specific_volume_mm3_per_g[0] == 0.0
    assert window.specific_volume_mm3_per_g[-1] < curve.specific_volume_mm3_per_g[-1]


def test_compare_simulated_with_measured(validation_file, tmp_path):
    measured = read_mip_file(validation_file("micropy_input_mip.txt"), sample_mass_g=0.3016)
    rng = np.random.default_rng(5)
    from scipy import ndimage as ndi

    noise = ndi.gaussian_filter(rng.random((30, 30, 30)), 2.0)
    labels = np.where(noise > np.quantile(noise, 0.6), 0, 1).astype(np.uint8)
    sim = simulate_mip(labels, voxel_size_nm=37.2, inlet="all-but-bottom").curve
    sim_path = sim.to_csv(tmp_path / "sim.csv")
    sim_back = load_mip_curve(sim_path)
    cmp = compare_mip_curves(sim_back, measured)
    out = cmp.to_dict()
    assert out["d50_simulated_nm"] == pytest.approx(sim.d_values()["d50_nm"])
    assert out["d50_measured_nm"] == pytest.approx(measured.d_values()["d50_nm"])
    assert out["intruded_porosity_simulated"] == pytest.approx(sim.total_intruded_fraction)
    assert out["intruded_porosity_measured"] is None  # no bulk density given
    assert 0 < out["area_between_normalized_decades"] < 5
    assert "D50" in cmp.text()
    fig = plot_mip_comparison(sim_back, measured, tmp_path / "cmp.png")
    assert fig.stat().st_size > 10_000


def test_area_between_curves_properties(tmp_path):
    path = tmp_path / "m.txt"
    p = np.linspace(1, 400, 50)
    path.write_text("\n".join(f"{a} {b}" for a, b in zip(p, np.sqrt(p), strict=True)))
    a = read_mip_file(path, pressure_unit="mpa", volume_unit="mm3")
    assert area_between_curves(a, a)[0] == pytest.approx(0.0)
    # the same shape shifted by 0.1 decade in diameter: area ~ 0.1 decade (less at the edges
    # of the overlap, never more)
    c = read_mip_file(path, pressure_unit="mpa", volume_unit="mm3")
    c.diameter_nm = c.diameter_nm * 10**0.1
    area, (lo, hi) = area_between_curves(a, c)
    assert 0.06 < area <= 0.1 + 1e-3
    assert lo == pytest.approx(c.diameter_nm.min()) and hi == pytest.approx(a.diameter_nm.max())
    # no overlap -> NaN
    c.diameter_nm = c.diameter_nm * 1e4
    assert np.isnan(area_between_curves(a, c)[0])


def test_header_units_and_branches(tmp_path):
    path = tmp_path / "export.csv"
    rows = ["Sample: synthetic", "Pressure (MPa);Cumulative volume (mL/g);Other"]
    pressures = [0.5, 1.0, 10.0, 100.0, 50.0, 5.0]  # intrusion then extrusion
    volumes = [0.0, 0.01, 0.05, 0.08, 0.07, 0.06]
    rows += [f"{p};{v};9" for p, v in zip(pressures, volumes, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    curve = read_mip_file(path, bulk_density_g_per_cm3=2.0)
    assert curve.metadata["pressure_unit"] == "mpa"
    assert curve.metadata["volume_unit"] == "ml"
    np.testing.assert_allclose(curve.pressure_mpa, [0.5, 1.0, 10.0, 100.0])
    np.testing.assert_allclose(curve.specific_volume_mm3_per_g, [0.0, 10.0, 50.0, 80.0])
    # 80 mm3/g x 2 g/cm3 = 160 mm3/cm3 = 0.16 of the bulk volume
    assert curve.intruded_fraction[-1] == pytest.approx(0.16)
    kpa = read_mip_file(path, pressure_unit="kpa")
    np.testing.assert_allclose(kpa.pressure_mpa, [0.5e-3, 1e-3, 1e-2, 0.1])


def test_bad_files(tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("1\n2\n3\n")
    with pytest.raises(ValueError, match="one column"):
        read_mip_file(one)
    bad = tmp_path / "bad.txt"
    bad.write_text("psi mL\n1 0\n2 0.1\nabc def\n3 0.2\n")
    with pytest.raises(ValueError, match="line 4"):
        read_mip_file(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("just a header\n")
    with pytest.raises(ValueError, match="no numeric rows"):
        read_mip_file(empty)
    ok = tmp_path / "ok.txt"
    ok.write_text("1 0\n2 0.1\n3 0.2\n")
    with pytest.raises(ValueError, match="pressure_unit"):
        read_mip_file(ok, pressure_unit="torr")
    with pytest.raises(ValueError, match="min_pressure_mpa"):
        read_mip_file(ok, pressure_unit="mpa", min_pressure_mpa=10)
    with pytest.raises(ValueError, match="volume_column"):
        read_mip_file(ok, volume_column=5)
    with pytest.raises(ValueError, match="contact_angle_deg"):
        read_mip_file(ok, contact_angle_deg=45)
    with pytest.raises(ValueError, match="cannot read"):
        read_mip_file(tmp_path / "missing.txt")
