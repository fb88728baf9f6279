"""Extrusion with entrapment, hybrid CBD nanopore curve, resolution correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from porosimetry_shapes import ball_mask

from microstructure.porosimetry import (
    MipCurve,
    nanopore_survival,
    resolution_correction,
    simulate_extrusion,
    simulate_mip,
    washburn_diameter_nm,
    washburn_pressure_mpa,
)


def test_cylinder_extrudes_completely():
    zz, yy, xx = np.indices((20, 15, 15), dtype=float)
    pore = (yy - 7) ** 2 + (xx - 7) ** 2 < 16.0
    ext = simulate_extrusion(pore, voxel_size_nm=10.0, inlet="z-")
    assert ext.entrapped_fraction == 0.0
    np.testing.assert_allclose(ext.extrusion_radius_nm[pore], 40.0, rtol=1e-6)
    # rows by decreasing pressure, mercury content non-increasing, empty at the end
    assert np.all(np.diff(ext.curve.pressure_mpa) <= 0)
    assert np.all(np.diff(ext.curve.saturation) <= 0)
    assert ext.curve.saturation[-1] == 0.0
    assert ext.curve.saturation[0] == pytest.approx(1.0)


def test_ink_bottle_traps_the_body():
    shape = (21, 21, 30)
    body = ball_mask(shape, (10, 10, 18), 7.0)
    zz, yy, xx = np.indices(shape, dtype=float)
    throat = ((zz - 10) ** 2 + (yy - 10) ** 2 < 4.0) & (xx <= 12)
    pore = throat | body
    labels = np.where(pore, 0, 1).astype(np.uint8)
    res = simulate_mip(labels, voxel_size_nm=10.0, inlet="x-", extrusion=True)
    ext = res.extrusion
    # the body is cut off when the throat (radius 20 nm) empties: entrapped
    assert np.all(ext.entrapped[body & ~throat])
    # the throat part outside the body drains
    assert not np.any(ext.entrapped[throat & ~ball_mask(shape, (10, 10, 18), 9.0)])
    frac = np.count_nonzero(ext.entrapped) / pore.sum()
    assert ext.entrapped_fraction == pytest.approx(frac)
    assert ext.entrapped_fraction > 0.8
    # hysteresis: at zero pressure the entrapped mercury is what remains
    assert ext.curve.saturation[-1] == pytest.approx(ext.entrapped_pore_fraction)
    # an opening at x+ narrower than the body still traps it (it empties first) ...
    wide = ball_mask(shape, (10, 10, 29), 6.0)
    labels2 = np.where(pore | wide, 0, 1).astype(np.uint8)
    res2 = simulate_mip(labels2, voxel_size_nm=10.0, inlet="x-,x+", extrusion=True)
    assert np.all(res2.extrusion.entrapped[body & ~wide])
    # ... an opening wider than the body lets it drain completely
    wide = ball_mask(shape, (10, 10, 29), 8.0)
    labels2 = np.where(pore | wide, 0, 1).astype(np.uint8)
    res2 = simulate_mip(labels2, voxel_size_nm=10.0, inlet="x-,x+", extrusion=True)
    assert res2.extrusion.entrapped_fraction < 0.05


def test_nanopore_survival():
    assert nanopore_survival(0.0, mean_diameter_nm=100.0, std_diameter_nm=30.0) == pytest.approx(1)
    norm = 0.5 * math.erfc(-100.0 / 30.0 / math.sqrt(2))
    assert nanopore_survival(100.0, mean_diameter_nm=100.0, std_diameter_nm=30.0) == (
        pytest.approx(0.5 / norm)
    )
    assert nanopore_survival(400.0, mean_diameter_nm=100.0, std_diameter_nm=30.0) < 1e-9


def test_hybrid_curve_adds_accessible_cbd_nanopores():
    labels = np.ones((12, 12, 12), dtype=np.uint8)
    labels[:, 4:8, 4:8] = 0  # channel through z, radius ~2 voxels
    labels[:, 4:8, 8:10] = 2  # CBD touching the channel
    labels[2:4, 0:2, 0:2] = 2  # isolated CBD: touches no pore and no inlet face z-/z+? (z 2..3)
    res = simulate_mip(
        labels,
        voxel_size_nm=37.2,
        inlet="z-",
        cbd_porosity=0.5,
        cbd_mean_diameter_nm=30.0,
        cbd_std_diameter_nm=5.0,
    )
    c = res.curve
    n_pore, n_cbd_acc, n_cbd = (labels == 0).sum(), 12 * 4 * 2, (labels == 2).sum()
    # highest pressure 400 MPa -> 3.7 nm: all accessible nanopores filled
    assert c.diameter_nm.min() == pytest.approx(washburn_diameter_nm(400.0))
    assert c.intruded_fraction[-1] == pytest.approx((n_pore + 0.5 * n_cbd_acc) / labels.size)
    assert c.saturation[-1] == pytest.approx((n_pore + 0.5 * n_cbd_acc) / (n_pore + 0.5 * n_cbd))
    # at the resolved step (above the nanopore sizes) only the channel is intruded
    i = np.argmin(abs(c.diameter_nm - 2 * res.resolved_curve.diameter_nm.min()))
    assert c.intruded_fraction[i] == pytest.approx(n_pore / labels.size, rel=1e-3)
    # at the mean nanopore diameter, half of the (truncated) distribution is filled
    j = np.argmin(abs(c.diameter_nm - 30.0))
    s = nanopore_survival(c.diameter_nm[j], mean_diameter_nm=30.0, std_diameter_nm=5.0)
    assert c.intruded_fraction[j] == pytest.approx((n_pore + 0.5 * s * n_cbd_acc) / labels.size)
    assert np.all(np.diff(c.intruded_fraction) >= 0)


def test_resolution_correction_reproduces_seed_numbers():
    """Seed 000: 3.7 % of the measured volume below 18.6 nm -> +0.6 points on 16.1 %."""
    d_meas = np.unique(np.concatenate((np.logspace(4, np.log10(3.7), 199), [18.6])))[::-1]
    # measured normalized cumulative: linear in log D, 96.3 % reached at 18.6 nm
    x = (4 - np.log10(d_meas)) / (4 - np.log10(3.7))
    x18 = (4 - np.log10(18.6)) / (4 - np.log10(3.7))
    s = np.where(x <= x18, 0.963 * x / x18, 0.963 + 0.037 * (x - x18) / (1 - x18))
    measured = MipCurve(
        diameter_nm=d_meas,
        pressure_mpa=washburn_pressure_mpa(d_meas),
        saturation=s,
        intruded_fraction=np.full(200, np.nan),
    )
    d_sim = np.array([1000.0, 200.0, 37.2])
    sim = MipCurve(
        diameter_nm=d_sim,
        pressure_mpa=washburn_pressure_mpa(d_sim),
        saturation=np.array([0.2, 0.6, 1.0]),
        intruded_fraction=np.array([0.2, 0.6, 1.0]) * 0.161,
        porosity=0.161,
    )
    out = resolution_correction(sim, measured, min_diameter_nm=18.6)
    added = out.total_intruded_fraction - 0.161
    assert added == pytest.approx(0.161 * 0.037 / 0.963, rel=1e-2)
    assert 0.005 < added < 0.007  # "0.6 percentage points"
    assert out.diameter_nm.min() == pytest.approx(3.7)
    assert np.all(np.diff(out.intruded_fraction) >= 0)
    assert out.saturation[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="measured"):
        resolution_correction(sim, measured, min_diameter_nm=1.0)


def test_subvoxel_correction_adds_the_seed_fraction():
    """Seed 000: 3.7 % of the accessible porosity below 18.6 nm, 16.1 % simulated -> +0.6 pt."""
    from microstructure.porosimetry import subvoxel_correction

    d_sim = np.array([1000.0, 200.0, 37.2])
    sim = MipCurve(
        diameter_nm=d_sim,
        pressure_mpa=washburn_pressure_mpa(d_sim),
        saturation=np.array([0.2, 0.6, 1.0]),
        intruded_fraction=np.array([0.2, 0.6, 1.0]) * 0.161,
        porosity=0.161,
    )
    out = subvoxel_correction(sim, fraction_below=0.037, min_diameter_nm=18.6)
    total = out.total_intruded_fraction
    assert (total - 0.161) / total == pytest.approx(0.037, rel=1e-9)
    assert 0.005 < total - 0.161 < 0.007
    assert out.diameter_nm.min() == pytest.approx(3.7)
    # the one-voxel class (reported at 37.2 nm) is spread down to 18.6 nm, then the
    # sub-voxel rows follow: the curve reaches 18.6 nm before any added volume
    at_limit = int(np.argmin(np.abs(out.diameter_nm - 18.6)))
    assert out.diameter_nm[at_limit] == pytest.approx(18.6)
    assert out.intruded_fraction[at_limit] == pytest.approx(0.161)
    assert out.diameter_nm[at_limit + 1 :].max() < 18.6
    assert np.all(np.diff(out.intruded_fraction) >= 0)
    # the D50 moves to smaller sizes (more volume at the small end), never to larger
    assert out.d_values()["d50_nm"] <= sim.d_values()["d50_nm"]
    same = subvoxel_correction(sim, fraction_below=0.0, min_diameter_nm=18.6)
    assert same.total_intruded_fraction == pytest.approx(0.161)
    assert same.diameter_nm.min() == pytest.approx(18.6)
    with pytest.raises(ValueError, match="fraction_below"):
        subvoxel_correction(sim, fraction_below=1.0, min_diameter_nm=18.6)
    with pytest.raises(ValueError, match="lowest_diameter_nm"):
        subvoxel_correction(sim, fraction_below=0.03, min_diameter_nm=3.0)


def test_resolved_curve_and_correction_meet_at_half_a_voxel():
    """No empty band between the one-voxel class (37.2 nm) and the limit (18.6 nm)."""
    from microstructure.porosimetry.hybrid import bridge_to_limit

    d_sim = np.array([1000.0, 200.0, 74.4, 37.2])
    sat = np.array([0.2, 0.6, 0.8, 1.0])
    sim = MipCurve(
        diameter_nm=d_sim,
        pressure_mpa=washburn_pressure_mpa(d_sim),
        saturation=sat,
        intruded_fraction=sat * 0.16,
        porosity=0.16,
    )
    out = bridge_to_limit(sim, min_diameter_nm=18.6)
    assert out.diameter_nm.min() == pytest.approx(18.6)
    assert out.total_intruded_fraction == pytest.approx(0.16)  # volume conserved
    # the one-voxel class (0.2 of the volume) is spread evenly in log D over 37.2 -> 18.6 nm
    psd = out.psd(quantity="saturation", edges_nm=np.geomspace(18.0, 40.0, 5))
    band = psd.dv_dlogd[(psd.diameter_nm > 19.0) & (psd.diameter_nm < 36.0)]
    assert band.size >= 2 and np.all(band > 0)
    mid = float(
        np.interp(
            np.log10(np.sqrt(37.2 * 18.6)), np.log10(out.diameter_nm[::-1]), out.saturation[::-1]
        )
    )
    assert mid == pytest.approx(0.9, abs=1e-6)
    # a curve already reaching the limit is returned as it is
    assert bridge_to_limit(out, min_diameter_nm=18.6) is out
