"""Closed-form M-factor relations and the seed 003 electrodes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from microstructure.transport import formulas as F
from microstructure.transport.presets import PRESETS, get_preset


# ---------------------------------------------------------------- classical relations
def test_bruggeman_values_and_exponent():
    assert F.bruggeman(0.4) == pytest.approx(0.4**1.5, rel=1e-12)
    assert F.bruggeman(0.4, exponent=2.0) == pytest.approx(0.16)
    out = F.bruggeman(np.array([0.0, 0.25, 1.0]))
    np.testing.assert_allclose(out, [0.0, 0.125, 1.0])
    # tortuosity factor of Bruggeman: eps^(1 - a)
    assert F.tortuosity_factor_from_m(0.25, F.bruggeman(0.25)) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [-0.1, 1.2, float("nan")])
def test_bruggeman_rejects_porosity_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="porosity"):
        F.bruggeman(bad)


def test_bruggeman_rejects_bad_exponent():
    with pytest.raises(ValueError, match="exponent"):
        F.bruggeman(0.3, exponent=0.5)


def test_hashin_shtrikman_two_phase_insulating_is_maxwell():
    for eps in (0.1, 0.3, 0.7):
        up = F.hashin_shtrikman_upper([eps, 1 - eps], [1.0, 0.0])
        assert up == pytest.approx(2 * eps / (3 - eps), rel=1e-12)
        assert up == pytest.approx(F.maxwell_insulating_spheres(eps), rel=1e-12)
        assert F.hashin_shtrikman_lower([eps, 1 - eps], [1.0, 0.0]) == 0.0


def test_hashin_shtrikman_two_conducting_phases_closed_form():
    # classical two-phase form: s1 + f2 / (1/(s2 - s1) + f1/(3 s1)), s1 the larger for the
    # upper bound and the smaller for the lower bound
    f1, s1, s2 = 0.35, 5.0, 0.4
    f2 = 1 - f1
    upper = s1 + f2 / (1 / (s2 - s1) + f1 / (3 * s1))
    lower = s2 + f1 / (1 / (s1 - s2) + f2 / (3 * s2))
    assert F.hashin_shtrikman_upper([f1, f2], [s1, s2]) == pytest.approx(upper, rel=1e-12)
    assert F.hashin_shtrikman_lower([f1, f2], [s1, s2]) == pytest.approx(lower, rel=1e-12)
    # bounds lie between the harmonic and arithmetic means
    arith = f1 * s1 + f2 * s2
    harm = 1 / (f1 / s1 + f2 / s2)
    assert harm < lower < upper < arith


def test_hashin_shtrikman_three_phases_ordering_and_errors():
    phi, sig = [0.2, 0.5, 0.3], [1.0, 0.3, 0.0]
    up = F.hashin_shtrikman_upper(phi, sig)
    assert 0 < up < 0.2 * 1.0 + 0.5 * 0.3
    assert F.hashin_shtrikman_lower(phi, sig) == 0.0
    with pytest.raises(ValueError, match="sum to 1"):
        F.hashin_shtrikman_upper([0.2, 0.5], [1.0, 0.0])
    with pytest.raises(ValueError, match="equal length"):
        F.hashin_shtrikman_upper([0.5, 0.5], [1.0])


# ---------------------------------------------------------------- seed 003, eq. 5-7
def test_contact_angle_cal2_cal3_match_seed003():
    # the text quotes about 18.6 deg and 23.7 deg
    assert F.packing_contact_angle_deg(0.760) == pytest.approx(18.5732, abs=1e-4)
    assert F.packing_contact_angle_deg(0.834) == pytest.approx(23.6679, abs=1e-4)
    assert round(F.packing_contact_angle_deg(0.760), 1) == 18.6
    assert round(F.packing_contact_angle_deg(0.834), 1) == 23.7


def test_contact_angle_undefined_for_loose_packings():
    assert math.isnan(F.packing_contact_angle_deg(0.628))  # Cal-1: log of a negative number
    assert math.isnan(F.packing_contact_angle_deg(0.487))
    assert F.packing_contact_angle_deg(0.645) < 0  # defined but negative


def test_m_particles_seed003_values():
    # eq. 5 with eq. 6, to 4 digits
    assert F.m_particles(0.760) == pytest.approx(0.5156, abs=5e-5)
    assert F.m_particles(0.834) == pytest.approx(0.7020, abs=5e-5)
    # no percolation: theta undefined (Cal-1, uncalendered) or negative
    assert F.m_particles(0.628) == 0.0
    assert F.m_particles(0.487) == 0.0
    assert F.m_particles(0.645) == 0.0
    # onset where theta crosses 0 (eps_s = 1 - 15.625 / 44.277)
    onset = 1 - 15.625 / 44.277
    assert F.m_particles(onset - 1e-4) == 0.0
    assert F.m_particles(onset + 1e-3) > 0.0


def test_m_particles_monotone_and_vectorised():
    eps = np.linspace(0.65, 0.86, 50)
    m = F.m_particles(eps)
    assert m.shape == eps.shape
    assert np.all(np.diff(m) > 0)


def test_m_particles_hashin_shtrikman_warning_above_27_deg():
    crossing = F.m_particles_hs_crossing_deg()
    assert 26.0 < crossing < 28.0  # "above about 27 deg"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.m_particles(0.834)  # 23.7 deg: below the bound, no warning
    with pytest.warns(F.HashinShtrikmanWarning, match="Hashin-Shtrikman"):
        F.m_particles(0.90)  # about 29 deg


def test_m_particles_rejects_out_of_range():
    with pytest.raises(ValueError, match="particle_fraction"):
        F.m_particles(1.0)
    with pytest.raises(ValueError, match="particle_fraction"):
        F.m_particles(-0.1)
    with pytest.raises(ValueError, match="fit"):
        F.m_particles(0.999)


def test_m_combined_eq7():
    assert F.m_combined(0.1, 0.5, 0.3) == pytest.approx(0.25)
    np.testing.assert_allclose(F.m_combined(np.array([0.1, 0.2]), 0.0, 0.3), [0.1, 0.2])
    with pytest.raises(ValueError, match="m_inter"):
        F.m_combined(1.5, 0.1, 0.1)


# ---------------------------------------------------------------- presets (Table 1)
def test_presets_table1_consistency():
    assert list(PRESETS) == ["uncalendered", "cal-1", "cal-2", "cal-3"]
    for p in PRESETS.values():
        p.check()  # total porosity = eps_inter + eps_s * 0.442 etc.
        assert p.total_porosity == pytest.approx(
            p.intergranular_porosity + p.particle_fraction * 0.442, abs=1.5e-3
        )
    cal3 = get_preset("Cal-3")
    assert (cal3.thickness_um, cal3.intergranular_porosity, cal3.particle_fraction) == (
        52.0,
        0.032,
        0.834,
    )
    assert get_preset("cal2") is PRESETS["cal-2"]
    with pytest.raises(ValueError, match="known"):
        get_preset("cal-9")


def test_preset_check_detects_inconsistency():
    from dataclasses import replace

    bad = replace(PRESETS["cal-1"], total_porosity=0.60)
    with pytest.raises(ValueError, match="total_porosity"):
        bad.check()


def test_cal1_has_no_particle_percolation_so_combined_equals_inter():
    mf = get_preset("cal-1").m_factors()
    assert mf.m_particles == 0.0
    assert mf.m_combined == mf.m_inter
    assert mf.m_inter == pytest.approx(0.271**1.5)


def test_cal2_cal3_combined_m_factors():
    for name, m_p in (("cal-2", 0.5156), ("cal-3", 0.7020)):
        p = get_preset(name)
        mf = p.m_factors(m_intragranular=0.25)
        assert mf.m_particles == pytest.approx(m_p, abs=5e-5)
        assert mf.m_combined == pytest.approx(p.intergranular_porosity**1.5 + m_p * 0.25, abs=5e-5)
        assert mf.m_combined <= mf.hs_upper  # below the three-phase bound
    # default M_II: Bruggeman of the intragranular porosity
    assert get_preset("cal-3").m_factors().m_intragranular == pytest.approx(0.442**1.5)


def test_seed003_full_compaction_m_about_019():
    # seed 003: with no intergranular pores left, M_combi = 0.19 remains, close to the
    # Hashin-Shtrikman upper bound. With the Table 1 additive/particle ratio (0.1606) and
    # M_II = 0.245 (tortuosity factor 1.8 of the 0.442 intragranular porosity):
    eps_s = 1 / 1.1606
    mf = F.hierarchical_m_factors(0.0, eps_s, m_intragranular=0.245)
    assert mf.m_combined == pytest.approx(0.19, abs=0.005)
    assert mf.m_combined <= mf.hs_upper
    assert mf.hs_upper == pytest.approx(0.19, abs=0.01)


def test_stenzel_prediction():
    assert F.stenzel_m_factor(0.3, 0.5, 1.2) == pytest.approx(
        0.3**1.15 * 0.5**0.37 / 1.2**4.39, rel=1e-12
    )
    assert F.stenzel_m_factor(0.3, 0.5, 1.2, form="simplified") == pytest.approx(
        0.3 * 0.5**0.36 / 1.2**5.17, rel=1e-12
    )
    with pytest.raises(ValueError, match="geodesic_tortuosity"):
        F.stenzel_m_factor(0.3, 0.5, 0.8)
