"""Tests of the synthetic FIB/SEM phantom against its own exact ground truth and known physics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import ndimage, special, stats

from microstructure.phantom import Phantom, PhantomParams, generate_phantom, save_phantom

VOX = 60.0
SHAPE = (32, 64, 64)
# particles ~20 voxels across so a 64^2 slice shows several
SMALL = dict(mean_diameter_um=1.2, sigma_log=0.3, min_diameter_um=0.5, max_diameter_um=2.5)


def make(seed: int = 0, shape=SHAPE, **kw) -> Phantom:
    opts = {**SMALL, **kw}
    return generate_phantom(shape, voxel_size_nm=VOX, seed=seed, **opts)


@pytest.fixture(scope="module")
def ph() -> Phantom:
    return make(seed=1, closed_porosity_am=0.05, closed_pore_diameter_um=0.3)


def mean_chord(mask: np.ndarray, axis: int) -> float:
    """Mean length (voxels) of runs of True along ``axis``."""
    m = np.moveaxis(mask, axis, -1)
    starts = np.count_nonzero(m[..., 1:] & ~m[..., :-1]) + np.count_nonzero(m[..., 0])
    return float(np.count_nonzero(m)) / max(starts, 1)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_phantom_and_other_seed_differs(ph: Phantom) -> None:
    again = make(seed=1, closed_porosity_am=0.05, closed_pore_diameter_um=0.3)
    assert np.array_equal(again.image, ph.image)
    assert np.array_equal(again.labels, ph.labels)
    assert np.array_equal(again.clean, ph.clean)
    assert json.dumps(again.truth) == json.dumps(ph.truth)
    other = make(seed=2, closed_porosity_am=0.05, closed_pore_diameter_um=0.3)
    assert np.mean(other.labels != ph.labels) > 0.2
    assert not np.array_equal(other.image, ph.image)


def test_switching_artefacts_off_keeps_geometry(ph: Phantom) -> None:
    plain = make(
        seed=1,
        closed_porosity_am=0.05,
        closed_pore_diameter_um=0.3,
        curtain_strength=0.0,
        noise_sigma=0.0,
        poisson_counts=0.0,
        drift_step_px=0.0,
    )
    assert np.array_equal(plain.labels, ph.labels)
    assert np.array_equal(plain.clean, ph.clean)
    assert not plain.curtain.any()
    assert not plain.shifts_px.any()
    # no drift, no tilt: the acquired stripe-free image is the ideal rendering
    assert np.array_equal(plain.stripe_free, plain.clean)
    assert np.array_equal(plain.image, np.rint(plain.clean * 255).astype(np.uint8))


# --------------------------------------------------------------------------- ground truth


def test_truth_fractions_equal_counted_labels_in_files(ph: Phantom, tmp_path) -> None:
    from microstructure.io import read_volume

    paths = save_phantom(tmp_path, ph)
    assert {p.name for p in paths.values()} == {"fibsem.tif", "truth_labels.tif", "truth.json"}
    truth = json.loads(paths["truth"].read_text())
    labels = read_volume(paths["truth_labels"])
    image = read_volume(paths["fibsem"])
    assert np.array_equal(labels.data, ph.labels)
    assert np.array_equal(image.data, ph.image)
    assert labels.voxel_size_nm == pytest.approx((VOX, VOX, VOX))
    n = labels.data.size
    counted = {
        name: np.count_nonzero(labels.data == v) / n for v, name in enumerate(["pore", "am", "cbd"])
    }
    assert truth["phase_fractions"] == pytest.approx(counted, abs=1e-12)
    assert sum(counted.values()) == pytest.approx(1.0)
    assert truth["closed_porosity"] == pytest.approx(np.count_nonzero(ph.closed_pores) / n)
    assert truth["seed"] == 1 and truth["shape"] == list(SHAPE)
    assert truth["voxel_size_nm"] == [VOX, VOX, VOX]
    assert np.allclose(truth["shifts_px"], ph.shifts_px, atol=1e-6)
    assert truth["params"]["mean_diameter_um"] == SMALL["mean_diameter_um"]
    # every listed particle exists in the labels with the stated number of voxels
    ids = np.bincount(ph.particle_ids.ravel())
    for part in truth["particles"]:
        assert ids[part["id"]] == part["voxels"] > 0
    assert np.all((ph.particle_ids > 0) == (ph.labels == 1))


def test_closed_pores_are_enclosed_by_am_and_off_the_faces(ph: Phantom) -> None:
    closed = ph.closed_pores
    assert closed.any()
    assert np.all(ph.labels[closed] == 0)
    for face in (
        closed[0],
        closed[-1],
        closed[:, 0],
        closed[:, -1],
        closed[:, :, 0],
        closed[:, :, -1],
    ):
        assert not face.any()
    # the 26-neighbourhood shell around the closed pores is AM only
    shell = ndimage.binary_dilation(closed, np.ones((3, 3, 3), bool)) & ~closed
    assert np.all(ph.labels[shell] == 1)
    # independent check: 6-connected pore space flooded from the faces never reaches them
    lab, _ = ndimage.label(ph.labels != 1)
    faces = np.unique(
        np.concatenate(
            [
                f.ravel()
                for f in (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1])
            ]
        )
    )
    assert not np.isin(lab[closed], faces[faces > 0]).any()
    # magnitude: the requested 5 % of AM volume as internal voids (cut ones at faces, cracks
    # and the sub-voxel rounding lose part of it)
    frac = np.count_nonzero(closed) / np.count_nonzero((ph.labels == 1) | closed)
    assert 0.01 < frac < 0.08


def test_cracks_are_pore_inside_particles() -> None:
    kw = dict(seed=5, closed_porosity_am=0.0, crack_width_nm=150.0, target_am_fraction=None)
    p = make(crack_fraction=1.0, **kw)
    none = make(crack_fraction=0.0, **kw)
    assert p.cracks.any() and not none.cracks.any()
    assert np.all(p.labels[p.cracks] == 0)
    assert p.truth["n_cracked"] > 0
    # a crack is a thin sheet: it removes AM compared with the uncracked twin, and most
    # crack voxels have AM on both sides along some axis
    assert np.count_nonzero(p.labels == 1) < np.count_nonzero(none.labels == 1)
    am = p.labels == 1
    sandwiched = np.zeros_like(am)
    for ax in range(3):
        plus = np.zeros_like(am)
        minus = np.zeros_like(am)
        for w in (1, 2, 3):
            plus |= np.roll(am, -w, ax)
            minus |= np.roll(am, w, ax)
        sandwiched |= plus & minus
    assert np.mean(sandwiched[p.cracks]) > 0.6
    # and the sheet is thin: few crack voxels are 2 voxels away from any AM
    dist = ndimage.distance_transform_edt(~am)
    assert np.mean(dist[p.cracks] <= 2.0) > 0.9


def test_calendering_flattens_particles_and_lowers_porosity() -> None:
    kw = dict(
        cbd_fraction=0.0,
        crack_fraction=0.0,
        closed_porosity_am=0.0,
        particle_roughness=0.0,
        target_am_fraction=None,
    )
    loose = make(seed=3, calender_ratio=1.0, **kw)
    dense = make(seed=3, calender_ratio=0.6, flatten_exponent=0.6, **kw)
    am0, am1 = loose.labels == 1, dense.labels == 1
    ratio0 = mean_chord(am0, 1) / mean_chord(am0, 2)
    ratio1 = mean_chord(am1, 1) / mean_chord(am1, 2)
    assert 0.85 < ratio0 < 1.15
    assert ratio1 < 0.85 * ratio0
    # the particles themselves: y radius / x radius = f^1.5 for volume-conserving flattening
    f = 0.6**0.6
    for part in dense.particles:
        rz, ry, rx = part["radii_um"]
        assert ry / rx == pytest.approx(f**1.5, rel=1e-3)
        assert rz * ry * rx == pytest.approx(
            (part["diameter_um"] / 2 * dense.truth["radius_scale"]) ** 3, rel=1e-3
        )
    assert dense.truth["porosity"] < loose.truth["porosity"] - 0.1


def test_particle_sizes_follow_requested_lognormal() -> None:
    kw = dict(mean_diameter_um=0.5, sigma_log=0.35, min_diameter_um=0.25, max_diameter_um=1.5)
    p = generate_phantom(
        (40, 96, 96),
        voxel_size_nm=VOX,
        seed=11,
        packing_fraction=0.25,
        cbd_fraction=0.0,
        target_am_fraction=None,
        **kw,
    )
    size = np.array(p.labels.shape) * VOX / 1000
    d = np.array(
        [
            q["diameter_um"]
            for q in p.particles
            if np.all((np.array(q["center_um"]) > 0) & (np.array(q["center_um"]) < size))
        ]
    )
    assert d.size > 100
    s = kw["sigma_log"]
    mu = math.log(kw["mean_diameter_um"]) - s * s / 2
    lo, hi = (
        special.ndtr((math.log(v) - mu) / s) for v in (kw["min_diameter_um"], kw["max_diameter_um"])
    )

    def cdf(x):
        return (special.ndtr((np.log(x) - mu) / s) - lo) / (hi - lo)

    assert stats.kstest(d, cdf).pvalue > 0.01
    # a wrong sigma is detected by the same test
    wrong = special.ndtr((np.log(d) - mu) / (2 * s))
    assert stats.kstest(wrong, "uniform").pvalue < 0.01


def test_isolated_particle_volumes_match_their_diameters() -> None:
    p = make(
        seed=4,
        shape=(48, 64, 64),
        mean_diameter_um=0.7,
        min_diameter_um=0.4,
        max_diameter_um=1.2,
        packing_fraction=0.06,
        target_am_fraction=None,
        max_overlap=0.0,
        calender_ratio=0.8,
        particle_roughness=0.0,
        crack_fraction=0.0,
        closed_porosity_am=0.0,
        cbd_fraction=0.0,
    )
    ids = p.particle_ids
    objs = ndimage.find_objects(ids)
    checked = 0
    for q in p.particles:
        sl = objs[q["id"] - 1]
        if any(s.start == 0 or s.stop == n for s, n in zip(sl, ids.shape, strict=True)):
            continue  # cut by the volume boundary
        vol = q["voxels"] * (VOX / 1000) ** 3
        expect = math.pi / 6 * q["diameter_um"] ** 3
        assert vol == pytest.approx(expect, rel=0.08)
        checked += 1
    assert checked >= 3


# --------------------------------------------------------------------------- targets, CBD


def test_target_am_fraction_and_cbd_fraction_are_met() -> None:
    p = make(seed=6, target_am_fraction=0.55, cbd_fraction=0.12)
    fr = p.truth["phase_fractions"]
    n = p.labels.size
    assert fr["am"] == pytest.approx(0.55, abs=2 / n)
    assert fr["cbd"] == pytest.approx(0.12, abs=2 / n)
    assert p.truth["am_fraction_achieved"] == fr["am"]
    # a target the initial packing cannot reach is met with gap-filling particles
    q = make(seed=6, target_am_fraction=0.7, packing_fraction=0.2, cbd_fraction=0.05)
    assert q.truth["phase_fractions"]["am"] == pytest.approx(0.7, abs=2 / n)
    assert q.truth["packing"]["n_filler"] > 0


def test_cbd_sits_in_necks_next_to_am(ph: Phantom) -> None:
    am = ph.labels == 1
    dist = ndimage.distance_transform_edt(~am)
    cbd = ph.labels == 2
    pore = (ph.labels == 0) & ~ph.closed_pores & ~ph.cracks
    assert dist[cbd].mean() < 0.6 * dist[pore].mean()
    # necks: CBD voxels see more AM around them than a pore voxel at the same distance
    density = ndimage.uniform_filter(am.astype(float), 7)
    near = dist <= 2
    assert density[cbd & near].mean() > density[pore & near].mean()


# --------------------------------------------------------------------------- rendering


def test_phase_intensities_ordered_with_overlap(ph: Phantom) -> None:
    c = ph.clean
    m = [c[ph.labels == v].mean() for v in (0, 1, 2)]
    assert m[1] > m[2] > m[0]
    strong = make(seed=1, shine_through=1.5, closed_porosity_am=0.05, closed_pore_diameter_um=0.3)
    img = strong.image.astype(float)  # no drift at slice 0
    pore0 = img[0][strong.labels[0] == 0]
    cbd0 = img[0][strong.labels[0] == 2]
    # realistic overlap: some pores shine brighter than the typical CBD
    assert np.mean(pore0 > np.median(cbd0)) > 0.02


def test_shine_through_brightens_pores_with_solid_behind() -> None:
    kw = dict(seed=7, psf_sigma_px=0.0, edge_brightness=0.0, texture_strength=0.0)
    off = make(shine_through=0.0, **kw)
    on = make(shine_through=1.0, shine_depth_nm=200.0, **kw)
    assert np.array_equal(off.labels, on.labels)
    lab = on.labels
    solid = lab > 0
    pore = lab == 0
    diff = on.clean - off.clean
    assert np.allclose(diff[solid], 0.0)
    # without shine-through every pore pixel has the pore grey value
    assert np.allclose(off.clean[pore], PhantomParams().intensity_pore)
    just_behind = pore[:-1] & solid[1:]
    far = pore.copy()
    for k in range(1, 12):
        far[:-k] &= ~solid[k:]
    far[-12:] = False
    # (0.20: the 1-px blur also spreads it onto the pore's rim, which sees nothing behind)
    assert diff[:-1][just_behind].mean() > 0.15
    assert abs(diff[far].mean()) < 0.05  # only the in-plane blur of neighbours leaks in
    # attenuation with depth: one voxel of pore before the solid shines less than none
    two_behind = pore[:-2] & pore[1:-1] & solid[2:]
    assert diff[:-2][two_behind].mean() < diff[:-1][just_behind].mean()


def test_noise_statistics_match_parameters() -> None:
    p = make(seed=8, noise_sigma=0.03, poisson_counts=100.0, curtain_strength=0.0)
    nf = p.noise_free.astype(float)
    resid = p.image.astype(float) / 255 - nf
    ok = (nf > 0.05) & (nf < 0.95)
    expect = np.sqrt(0.03**2 + nf[ok] / 100.0 + 1 / (12 * 255**2)).mean()
    assert resid[ok].std() == pytest.approx(expect, rel=0.1)
    assert abs(resid[ok].mean()) < 0.005


# --------------------------------------------------------------------------- artefacts


def test_drift_shifts_are_recoverable() -> None:
    from skimage.registration import phase_cross_correlation

    p = make(
        seed=9,
        drift_step_px=0.8,
        drift_trend_px=(0.15, -0.1),
        noise_sigma=0.0,
        poisson_counts=0.0,
        curtain_strength=0.0,
    )
    sh = p.shifts_px
    assert sh.shape == (SHAPE[0], 2) and np.all(sh[0] == 0)
    assert np.abs(sh).max() > 2
    m = int(np.abs(sh).max()) + 3  # compare away from the edges
    for z in range(0, SHAPE[0], 4):
        found, _, _ = phase_cross_correlation(p.clean[z], p.stripe_free[z], upsample_factor=20)
        # the shift that registers the acquired slice back is minus the applied drift
        assert np.allclose(-np.asarray(found), sh[z], atol=0.35)
        # exact convention: shifting the acquired slice by minus the drift restores it
        back = ndimage.shift(p.stripe_free[z].astype(float), -sh[z], order=3, mode="nearest")
        assert np.abs(back - p.clean[z])[m:-m, m:-m].mean() < 0.01
        wrong = ndimage.shift(p.stripe_free[z].astype(float), sh[z], order=3, mode="nearest")
        if np.abs(sh[z]).max() > 1:
            assert np.abs(wrong - p.clean[z])[m:-m, m:-m].mean() > 0.03


def test_linear_drift_trend_and_large_walks() -> None:
    p = make(seed=10, shape=(100, 16, 16), drift_step_px=0.0, drift_trend_px=(0.2, -0.05))
    assert np.allclose(p.shifts_px, np.arange(100)[:, None] * [0.2, -0.05])
    big = make(seed=10, shape=(100, 16, 16), drift_step_px=3.0)
    assert np.ptp(big.shifts_px, axis=0).max() >= 20


def test_curtain_field_is_stripes_fading_down() -> None:
    p = make(
        seed=12,
        shape=(24, 64, 96),
        curtain_strength=0.1,
        curtain_fade_fraction=1.0,
        curtain_density=8.0,
    )
    c = p.curtain.astype(float)
    assert np.abs(c).max() > 0.02
    power = np.abs(np.fft.fft2(c - c.mean(axis=(1, 2), keepdims=True))) ** 2
    ky = np.abs(np.fft.fftfreq(c.shape[1]))[:, None] * c.shape[1]
    kx = np.abs(np.fft.fftfreq(c.shape[2]))[None, :] * c.shape[2]
    total = power.sum()
    assert power[:, (ky <= 3)[:, 0], :].sum() / total > 0.6  # varies slowly down the image
    # anisotropic spectrum: stripes (fine in x) dominate over any structure fine in y
    across = power[:, (ky <= 3)[:, 0], :][:, :, (kx > 3)[0, :]].sum()
    down = power[:, (ky > 3)[:, 0], :][:, :, (kx <= 3)[0, :]].sum()
    assert across > 5 * down
    rows = (c**2).mean(axis=(0, 2))
    q = c.shape[1] // 4
    assert rows[:q].mean() > 4 * rows[-q:].mean()  # curtains start at the top and fade
    # slow variation from slice to slice
    corr = [np.corrcoef(c[z].ravel(), c[z + 1].ravel())[0, 1] for z in range(c.shape[0] - 1)]
    assert np.median(corr) > 0.9
    assert np.allclose(p.noise_free, np.clip(p.stripe_free + p.curtain, 0, 1))


def test_tilt_foreshortens_y() -> None:
    p = make(
        seed=13,
        tilt=True,
        drift_step_px=0.0,
        noise_sigma=0.0,
        poisson_counts=0.0,
        curtain_strength=0.0,
    )
    s = math.sin(math.radians(52.0))
    assert p.image.shape == (SHAPE[0], round(SHAPE[1] * s), SHAPE[2])
    assert p.truth["tilt"] == {
        "enabled": True,
        "angle_deg": 52.0,
        "y_scale": pytest.approx(s),
        "corrected": False,
    }
    # stretching y back by 1/sin recovers the ideal rendering
    back = ndimage.zoom(
        p.stripe_free, (1, SHAPE[1] / p.image.shape[1], 1), order=1, grid_mode=True, mode="nearest"
    )
    r = np.corrcoef(back[:, 4:-4].ravel(), p.clean[:, 4:-4].ravel())[0, 1]
    assert r > 0.95


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"shape": (4, 64, 64)}, "shape"),
        ({"shape": (8, 64)}, "shape"),
        ({"voxel_size_nm": -5}, "voxel_size_nm"),
        ({"seed": -1}, "seed"),
        ({"noise_sigma": -0.1}, "noise_sigma"),
        ({"curtain_strength": -1}, "curtain_strength"),
        ({"calender_ratio": 1.5}, "calender_ratio"),
        ({"min_diameter_um": 3.0, "max_diameter_um": 2.0}, "max_diameter_um"),
        ({"curtain_width_px": (5, 2)}, "curtain_width_px"),
        ({"drift_step_px": "a"}, "drift_step_px"),
        ({"target_am_fraction": 1.2}, "target_am_fraction"),
        ({"tilt": "yes"}, "tilt"),
        ({"bogus": 1}, "bogus"),
        ({"cbd_fraction": 0.6, "packing_fraction": 0.6, "calender_ratio": 0.5}, "cbd_fraction"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, name) -> None:
    kw = {"shape": (16, 16, 16), "voxel_size_nm": VOX, **SMALL, **kwargs}
    shape = kw.pop("shape")
    with pytest.raises(ValueError, match=name):
        generate_phantom(shape, **kw)
