"""Measured MIP analysis (SOLID-like): pore surface under pore-shape models against analytic
cylinders and slits, PSD modes, entrapment, eq. 2-3 densities and porosities, corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mip_exports import SAMPLE_MASS_G, TOTAL_MM3_PER_G, cumulative_mm3_per_g, write_pascal

from microstructure.porosimetry.measured import MipExport, read_mip_export
from microstructure.porosimetry.measured_analysis import (
    analyze_mip,
    blank_correction,
    compressibility_correction,
    pore_surface_m2_per_g,
)
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    washburn_pressure_mpa,
)
from microstructure.porosity.densities import apparent_density, porosity_from_intruded_volume

GAMMA_COS = SURFACE_TENSION_N_PER_M * abs(math.cos(math.radians(CONTACT_ANGLE_DEG)))


def _step_curve(p_step_mpa: float, volume_mm3_per_g: float) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative curve of pores all entered at one pressure (fine grid through the step)."""
    p = np.unique(np.concatenate([np.geomspace(0.5, 400, 4001), [p_step_mpa]]))
    return p, np.where(p >= p_step_mpa, volume_mm3_per_g, 0.0)


def test_bundle_of_equal_cylinders():
    d_nm, v = 200.0, 50.0  # cylinders of 200 nm, 50 mm3/g
    p, vol = _step_curve(float(washburn_pressure_mpa(d_nm)), v)
    # S = n pi D L, V = n pi D^2 L / 4 -> S = 4 V / D = 4 * 50e-9 m3/g / 200e-9 m = 1 m2/g
    exact = 4 * v * 1e-9 / (d_nm * 1e-9)
    s = pore_surface_m2_per_g(p, vol, pore_shape="cylindrical")
    assert s == pytest.approx(exact, rel=2e-3)
    assert exact == pytest.approx(1.0)
    # the other models scale the same integral: plate = cylinder, cone 1/cos(alpha), sphere 1.5
    assert pore_surface_m2_per_g(p, vol, pore_shape="plate") == pytest.approx(s)
    assert pore_surface_m2_per_g(p, vol, pore_shape="spherical") == pytest.approx(1.5 * s)
    cone = pore_surface_m2_per_g(p, vol, pore_shape="conical", cone_half_angle_deg=60)
    assert cone == pytest.approx(2 * s)
    # a different diameter moves the answer (the test can fail)
    p2, vol2 = _step_curve(float(washburn_pressure_mpa(100.0)), v)
    assert pore_surface_m2_per_g(p2, vol2) == pytest.approx(2 * exact, rel=2e-3)


def test_slits_are_the_plate_model():
    w_nm, v = 80.0, 30.0  # slits of width w: S/V = 2/w, entered at P = 2 gamma |cos| / w
    p_slit = 2 * GAMMA_COS / (w_nm * 1e-9) / 1e6
    p, vol = _step_curve(p_slit, v)
    assert pore_surface_m2_per_g(p, vol, pore_shape="plate") == pytest.approx(
        2 * v * 1e-9 / (w_nm * 1e-9), rel=2e-3
    )


def test_bad_pore_shape():
    with pytest.raises(ValueError, match="pore_shape"):
        pore_surface_m2_per_g(np.array([1.0, 2.0]), np.array([0.0, 1.0]), pore_shape="cubic")
    with pytest.raises(ValueError, match="cone_half_angle_deg"):
        pore_surface_m2_per_g(
            np.array([1.0, 2.0]), np.array([0.0, 1.0]), pore_shape="conical", cone_half_angle_deg=90
        )


def test_analysis_of_a_pascal_export(tmp_path):
    exp = read_mip_export(write_pascal(tmp_path / "pascal.txt"), runs="high")
    res = analyze_mip(
        exp,
        crystal_density_g_per_cm3=4.436,
        skeletal_density_g_per_cm3=4.31,
        skeletal_density_uncertainty_g_per_cm3=0.01,
        pore_shape="conical",
    )
    v_hp = TOTAL_MM3_PER_G - cumulative_mm3_per_g(np.array([0.1]))[0]
    assert res.intruded_volume_mm3_per_g == pytest.approx(v_hp, rel=1e-4)
    assert res.hg_entrapment_fraction == pytest.approx(0.5, abs=0.01)
    # the two log-normal modes (400 nm, 100 nm) within one PSD bin (10 per decade)
    assert len(res.modes_nm) == 2
    assert 400 / 1.3 < res.modes_nm[0] < 400 * 1.3
    assert 100 / 1.3 < res.modes_nm[1] < 100 * 1.3
    assert res.d10_nm < res.d50_nm < res.d90_nm
    # eq. 2 with the header's bulk volume and mass; eq. 3 with each density
    v_hg_mm3 = res.intruded_volume_mm3_per_g * SAMPLE_MASS_G
    rho_app = apparent_density(SAMPLE_MASS_G, 533.6e-3, v_hg_mm3 * 1e-3)
    assert res.bulk_density_hg_g_per_cm3 == pytest.approx(SAMPLE_MASS_G / 0.5336)
    assert res.apparent_density_g_per_cm3 == pytest.approx(rho_app)
    v = res.intruded_volume_mm3_per_g * 1e-3
    assert res.porosity_xtal == pytest.approx(porosity_from_intruded_volume(v, 4.436))
    assert res.porosity_skel == pytest.approx(porosity_from_intruded_volume(v, 4.31))
    # eps_app(Hg) is the intruded volume over the bulk volume (eq. 2 in eq. 3)
    assert res.porosity_app == pytest.approx(v_hg_mm3 / 533.6)
    # Table 2 order (and, by construction of the synthetic file, its 18 % row: 17.2, 16.8, 16.3)
    assert res.porosity_xtal > res.porosity_skel > res.porosity_app
    assert [
        round(100 * x, 1) for x in (res.porosity_xtal, res.porosity_skel, res.porosity_app)
    ] == [
        17.2,
        16.8,
        16.3,
    ]
    # uncertainties: +-2 mm3 on V_Hg and +-0.01 on rho_skel give a few 0.1 % points
    assert 0 < res.porosity_skel_uncertainty < 0.01
    sv = 2.0e-3 / SAMPLE_MASS_G  # cm3/g
    assert res.porosity_xtal_uncertainty == pytest.approx(4.436 / (v * 4.436 + 1) ** 2 * sv)
    assert res.porosity_skel_uncertainty == pytest.approx(
        math.hypot(4.31 / (v * 4.31 + 1) ** 2 * sv, v / (v * 4.31 + 1) ** 2 * 0.01)
    )
    # sigma_pore of the conical model: sqrt(2) x the cylinder integral
    cyl = analyze_mip(exp, pore_shape="cylindrical")
    assert res.pore_surface_m2_per_g == pytest.approx(math.sqrt(2) * cyl.pore_surface_m2_per_g)
    out = res.to_dict()
    assert out["pore_shape"] == "conical" and isinstance(out["psd_diameter_nm"], list)


def test_blank_and_compressibility_corrections():
    p = np.geomspace(0.1, 400, 50)
    v = cumulative_mm3_per_g(p)
    cell = 0.02 * (p - p[0])  # mm3: mercury and cell compression in an empty run
    back = blank_correction(p, v * 2.0 + cell, p, cell) / 2.0
    np.testing.assert_allclose(back, v, atol=1e-9)
    with pytest.raises(ValueError, match="blank run stops"):
        blank_correction(p, v, p[:10], cell[:10])
    beta, rho = 1e-5, 4.3
    squeezed = v + beta * (1000 / rho) * np.clip(p - 100, 0, None)
    fixed = compressibility_correction(
        p,
        squeezed,
        compressibility_per_mpa=beta,
        skeletal_density_g_per_cm3=rho,
        onset_pressure_mpa=100,
    )
    np.testing.assert_allclose(fixed, v, atol=1e-9)
    exp = MipExport(
        path="x",
        instrument="generic",
        intrusion_pressure_mpa=p,
        intrusion_volume_mm3_per_g=squeezed,
        sample_mass_g=1.0,
    )
    res = analyze_mip(exp, compressibility_per_mpa=beta, skeletal_density_g_per_cm3=rho)
    assert res.intruded_volume_mm3_per_g == pytest.approx(v[-1] - v[0])
    assert "compressibility" in res.corrections[0]
    with pytest.raises(ValueError, match="skeletal_density"):
        analyze_mip(exp, compressibility_per_mpa=beta)
