"""Tests of the void-filling CBD distribution modes and of the CBD calibration to a MIP curve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from microstructure.cbd import insert_cbd
from microstructure.cbd.calibrate import calibrate_cbd, cbd_mip_curve, resolved_misfit
from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import washburn_pressure_mpa

VOXEL_NM = 37.2
RATIO = 11.46 / 88.54  # solid CBD / AM, Table 1 of doi:10.3390/batteries7040070


def _boolean_am(shape, radius_vox: float, pore_target: float, seed: int) -> np.ndarray:
    """Overlapping balls of one radius (AM, label 1) until the pore fraction is reached."""
    rng = np.random.default_rng(seed)
    n = 1
    while True:
        centres = np.ones(shape, dtype=bool)
        pts = (rng.random((n, 3)) * np.array(shape)).astype(int)
        centres[tuple(pts.T)] = False
        am = ndi.distance_transform_edt(centres) <= radius_vox
        if 1.0 - am.mean() <= pore_target:
            return am.astype(np.uint8)
        n = int(n * 1.15) + 1


@pytest.fixture(scope="module")
def voids():
    """AM with micrometre voids: 48^3 voxels, balls of 12 voxels, 40 % pore."""
    return _boolean_am((48, 48, 48), 12.0, 0.40, seed=3)


def _gas_thickness_nm(out: np.ndarray) -> float:
    """Diameter of the largest ball inside the gas (label 0), nm."""
    return 2.0 * float(ndi.distance_transform_edt(out == 0).max()) * VOXEL_NM


def test_void_filling_caps_the_gas_and_hits_the_target(voids):
    frac = 0.30  # CBD envelope: 3/4 of the pore space
    plain = insert_cbd(voids, voxel_size_nm=VOXEL_NM, volume_fraction=frac)
    cap = 8 * VOXEL_NM
    filled, info = insert_cbd(
        voids,
        voxel_size_nm=VOXEL_NM,
        volume_fraction=frac,
        max_void_diameter_nm=cap,
        return_info=True,
    )
    assert info["void_filling"] is True
    n = int(round(frac * voids.size))
    assert np.count_nonzero(filled == 2) == n == np.count_nonzero(plain == 2)
    # the equilibrium leaves wide voids; the capped CBD leaves none wider than the cap
    assert _gas_thickness_nm(plain) > 1.5 * cap
    # overlapping balls can hold a somewhat larger inscribed ball than one ball
    assert _gas_thickness_nm(filled) <= 1.5 * cap
    # AM untouched, input untouched
    assert np.array_equal(filled == 1, voids == 1)
    assert np.count_nonzero(voids == 2) == 0


def test_distribution_modes_order_the_gas_by_wall_distance(voids):
    wall = ndi.distance_transform_edt(voids != 1)
    means = {}
    for mode in ("contact", "random", "surface"):
        out = insert_cbd(
            voids,
            voxel_size_nm=VOXEL_NM,
            volume_fraction=0.30,
            max_void_diameter_nm=6 * VOXEL_NM,
            distribution=mode,
        )
        means[mode] = float(wall[out == 0].mean())
    # contact: gas along the particles; surface: CBD film, gas in the void centres
    assert means["contact"] < means["random"] < means["surface"]


def test_small_target_keeps_the_equilibrium(voids):
    """When the equilibrium balls fit under the cap, the cap changes nothing."""
    a = insert_cbd(voids, voxel_size_nm=VOXEL_NM, volume_fraction=0.05)
    b, info = insert_cbd(
        voids,
        voxel_size_nm=VOXEL_NM,
        volume_fraction=0.05,
        max_void_diameter_nm=40 * VOXEL_NM,
        return_info=True,
    )
    assert info["void_filling"] is False
    assert np.array_equal(a, b)


def test_bad_cap_and_mode(voids):
    with pytest.raises(ValueError, match="max_void_diameter_nm"):
        insert_cbd(voids, voxel_size_nm=VOXEL_NM, volume_fraction=0.2, max_void_diameter_nm=30)
    with pytest.raises(ValueError, match="distribution"):
        insert_cbd(voids, voxel_size_nm=VOXEL_NM, volume_fraction=0.2, distribution="clumped")


def _curve(d_nm: np.ndarray, sat: np.ndarray) -> MipCurve:
    return MipCurve(
        diameter_nm=d_nm,
        pressure_mpa=washburn_pressure_mpa(d_nm),
        saturation=sat,
        intruded_fraction=np.full(d_nm.size, np.nan),
        label="measured",
    )


def test_measured_curve_outside_the_resolved_range_is_refused(voids):
    d = np.geomspace(15.0, 3.7, 20)  # all below the 37.2 nm voxel
    with pytest.raises(ValueError, match=r"3\.7-15 nm do not overlap the resolved range"):
        calibrate_cbd(
            voids,
            _curve(d, np.linspace(0, 1, 20)),
            voxel_size_nm=VOXEL_NM,
            cbd_to_am_volume_ratio=RATIO,
        )


def test_cbd_larger_than_the_pore_space_is_refused():
    dense = _boolean_am((32, 32, 32), 9.0, 0.06, seed=1)
    d = np.geomspace(2000.0, 20.0, 30)
    with pytest.raises(ValueError, match="larger than the open pore space"):
        calibrate_cbd(
            dense,
            _curve(d, np.linspace(0, 1, 30)),
            voxel_size_nm=VOXEL_NM,
            cbd_to_am_volume_ratio=RATIO,
        )


def test_misfit_is_zero_for_identical_curves_and_sees_a_shift():
    d = np.geomspace(2000.0, 20.0, 60)
    s = 1.0 / (1.0 + (d / 200.0) ** 3)
    m0 = resolved_misfit(_curve(d, s), _curve(d, s), d_low_nm=37.2, d_high_nm=1500.0)
    assert m0["max_abs"] == 0.0 and m0["area_decades"] == 0.0
    shifted = 1.0 / (1.0 + (d / 100.0) ** 3)  # same shape, half the size: log10(2) decades
    m1 = resolved_misfit(_curve(d, s), _curve(d, shifted), d_low_nm=37.2, d_high_nm=1500.0)
    assert m1["d50_simulated_nm"] == pytest.approx(2 * m1["d50_measured_nm"], rel=0.03)
    assert m1["area_decades"] == pytest.approx(np.log10(2), rel=0.1)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known limitation (issue 22): on this 64^3 volume the fit stops in a local minimum "
    "(void 363 nm, nanopore mean 134 nm for hidden 330/130; max curve difference 0.052) - the "
    "void size moves the voxelised gas balls in jumps; strict: a pass reports the fix",
)
def test_calibration_recovers_hidden_parameters():
    labels = _boolean_am((64, 64, 64), 14.0, 0.27, seed=7)
    hidden = {"max_void_diameter_nm": 330.0, "nanopore_mean_nm": 130.0}
    measured = cbd_mip_curve(
        labels, voxel_size_nm=VOXEL_NM, cbd_to_am_volume_ratio=RATIO, parameters=hidden
    )
    res = calibrate_cbd(
        labels,
        measured,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        free=("max_void_diameter_nm", "nanopore_mean_nm"),
        start={"max_void_diameter_nm": 600.0, "nanopore_mean_nm": 90.0},
        max_evaluations=40,
    )
    assert res.start_misfit["max_abs"] > 0.05  # the start is visibly off
    assert res.misfit["max_abs"] <= 0.02  # fitted curve within 0.02 at every diameter
    for name, value in hidden.items():
        assert abs(res.parameters[name] - value) <= res.sensitivity[name], name


def test_cli_names_both_files_and_ranges(tmp_path, voids, capsys):
    import json

    from microstructure.cli import main
    from microstructure.io import write_volume
    from microstructure.volume import Volume

    labels = tmp_path / "labels.tif"
    write_volume(labels, Volume(voids, (VOXEL_NM,) * 3))
    d = np.geomspace(30.0, 2.5, 12)
    rows = "".join(
        f"{p:.6g}, {v:.6g}\n"
        for p, v in zip(washburn_pressure_mpa(d), np.linspace(0, 10, 12), strict=True)
    )
    measured = tmp_path / "small_pores.csv"
    measured.write_text("pressure (MPa), cumulative intruded volume (mm3/g)\n" + rows)
    code = main(
        ["cbd", "calibrate", str(labels), str(measured), "--out", str(tmp_path / "o"), "--json"]
    )
    assert code != 0
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "small_pores.csv" in err and "labels.tif" in err
    assert "2.5-30 nm do not overlap the resolved range" in err and "37.2-1500 nm" in err
