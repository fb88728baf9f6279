"""The realistic acquisition model of the phantom: each effect on its own switch, the preset."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import ndimage

from microstructure.phantom import PhantomParams, generate_phantom, save_phantom
from microstructure.phantom.params import PRESETS

VOX = 60.0
SHAPE = (32, 64, 64)
SMALL = dict(mean_diameter_um=1.2, sigma_log=0.3, min_diameter_um=0.5, max_diameter_um=2.5)
# an ideal rendering whose grey values are exactly the phase values (for exact expectations)
FLAT = dict(
    psf_sigma_px=0.0,
    edge_brightness=0.0,
    texture_strength=0.0,
    am_particle_contrast=0.0,
    shine_through=0.0,
)
QUIET = dict(curtain_strength=0.0, noise_sigma=0.0, poisson_counts=0.0, drift_step_px=0.0)


def make(seed: int = 0, shape=SHAPE, **kw):
    return generate_phantom(shape, voxel_size_nm=VOX, seed=seed, **{**SMALL, **kw})


def tilt_of(field: np.ndarray) -> float:
    """Angle (deg, x growing with y) that makes the stripes of a 2D field vertical."""
    ny = field.shape[0]
    yy = np.arange(ny) - ny / 2
    best, arg = -1.0, 0.0
    for ang in np.arange(-6.0, 6.001, 0.05):
        sh = np.tan(np.radians(ang)) * yy
        rows = np.array([ndimage.shift(field[i], -sh[i], order=1, mode="wrap") for i in range(ny)])
        v = rows.mean(axis=0).var()
        if v > best:
            best, arg = v, float(ang)
    return arg


# --------------------------------------------------------------------------- presets


def test_presets_and_unknown_names() -> None:
    assert set(PRESETS) >= {"default", "realistic"}
    assert PhantomParams.preset("default") == PhantomParams()
    real = PhantomParams.realistic()
    assert real == PhantomParams(**PRESETS["realistic"])
    assert real.noise_psf_px == PRESETS["realistic"]["noise_psf_px"] > 0
    sw = real.switches()
    for name in (
        "shine_through",
        "pore_back_brightness",
        "rim_brightness",
        "shading",
        "band_limited_noise",
        "dense_curtains",
        "charging",
        "slice_jitter",
        "drift_random_walk",
        "drift_jumps",
    ):
        assert sw[name], name
    # every new switch is off by default
    default = PhantomParams().switches()
    for name in ("pore_back_brightness", "rim_brightness", "shading", "band_limited_noise"):
        assert not default[name]
    for name in ("dense_curtains", "charging", "slice_jitter", "drift_jumps"):
        assert not default[name]
    with pytest.raises(ValueError, match=r"^preset: .*'nope'.*default, realistic"):
        generate_phantom((16, 16, 16), preset="nope")
    with pytest.raises(ValueError, match="^preset: give either"):
        generate_phantom((16, 16, 16), params=PhantomParams(), preset="realistic")


def test_default_preset_is_todays_phantom() -> None:
    a = make(seed=4)
    b = make(seed=4, preset="default")
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert a.truth["preset"] == "default"
    assert np.array_equal(a.slice_positions_px, np.arange(SHAPE[0]))
    assert a.shading is None and a.charging is None


def test_realistic_preset_is_deterministic_and_keeps_geometry() -> None:
    # a fixed canvas margin: otherwise a drift larger than the automatic margin widens the
    # canvas (and so changes the packing) to keep real structure at the drifted edges
    a = make(seed=5, preset="realistic", canvas_margin_px=32)
    b = make(seed=5, preset="realistic", canvas_margin_px=32)
    assert np.array_equal(a.image, b.image)
    assert json.dumps(a.truth) == json.dumps(b.truth)
    plain = make(seed=5, canvas_margin_px=32)
    assert np.array_equal(a.labels, plain.labels)
    assert not np.array_equal(a.image, plain.image)
    assert a.truth["preset"] == "realistic" and a.truth["switches"]["dense_curtains"]


@pytest.mark.parametrize(
    "switch",
    [
        dict(pore_back_brightness=0.2),
        dict(rim_brightness=0.2),
        dict(shading_amplitude=0.1),
        dict(noise_psf_px=1.0),
        dict(dense_curtain_strength=0.05),
        dict(charging_strength=0.2),
        dict(slice_jitter=0.2),
        dict(drift_jump_probability=0.3),
    ],
)
def test_each_switch_alone_changes_the_image_not_the_truth(switch) -> None:
    base = make(seed=6, shape=(16, 48, 48), canvas_margin_px=40)
    on = make(seed=6, shape=(16, 48, 48), canvas_margin_px=40, **switch)
    assert np.array_equal(base.labels, on.labels)
    assert not np.array_equal(base.image, on.image)


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("back", [0.0, 0.15])
def test_shine_through_follows_exp_depth_with_bright_pore_backs(back) -> None:
    depth_nm = 150.0
    # big pores (no CBD, little AM) so that regions of one depth are wider than the blur
    kw = {**FLAT, "pore_back_brightness": back, "cbd_fraction": 0.0, "target_am_fraction": 0.3}
    off = make(seed=7, **kw)
    on = make(seed=7, **{**kw, "shine_through": 1.0, "shine_depth_nm": depth_nm})
    lab = on.labels
    diff = (on.clean - off.clean).astype(np.float64)
    p = PhantomParams()
    nz = lab.shape[0]
    # depth (slices) to the first solid behind each voxel (-1: none inside the volume)
    depth = np.full(lab.shape, -1)
    for z in range(nz - 2, -1, -1):
        d_next = np.where(depth[z + 1] >= 0, depth[z + 1] + 1, -1)
        depth[z] = np.where(lab[z + 1] > 0, 1, d_next)
    pore = lab == 0
    # only pore voxels see through: a solid voxel lends its neighbours nothing
    weight = np.where((depth > 0) & pore, np.exp(-depth * VOX / depth_nm), 0.0)
    # the model: pore voxel += G_1px * [pore * exp(-d / lambda) (I_behind + back - I_pore)]
    expect = ndimage.gaussian_filter(weight * (p.intensity_am + back - p.intensity_pore), (0, 1, 1))
    inner = np.zeros(lab.shape, bool)
    inner[: nz - 10, 5:-5, 5:-5] = True  # away from the canvas beyond the field of view
    sel = pore & inner
    assert np.abs(diff[sel] - expect[sel]).max() < 0.01
    assert np.allclose(diff[lab > 0], 0.0)
    # brighter the closer the solid behind, by exp(-d / lambda), read where the blur sees one
    # depth (its in-plane 5 x 5 neighbourhood is pore at the same depth)
    fp = (1, 5, 5)
    d_pore = np.where(pore, depth, -2)
    same = ndimage.minimum_filter(d_pore, fp) == ndimage.maximum_filter(d_pore, fp)
    med = [np.median(diff[sel & same & (depth == d)]) for d in (1, 2, 3, 4)]
    assert med[0] > med[1] > med[2] > med[3] > 0
    ratios = np.array(med[1:]) / np.array(med[:-1])
    assert ratios == pytest.approx(math.exp(-VOX / depth_nm), abs=0.12)


def test_rim_brightening_only_on_solid_pore_rims() -> None:
    off = make(seed=8, **FLAT)
    on = make(seed=8, **FLAT, rim_brightness=0.2, rim_width_px=0.7)
    lab = on.labels
    diff = on.clean - off.clean
    pore = lab == 0
    plane = np.zeros((3, 3, 3), bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)
    rim = ~pore & ndimage.binary_dilation(pore, plane)
    square = np.zeros((3, 3, 3), bool)
    square[1] = True
    deep = ~ndimage.binary_dilation(pore, square, iterations=4)
    assert np.allclose(diff[pore], 0.0)
    deep[:, :4] = deep[:, -4:] = deep[:, :, :4] = deep[:, :, -4:] = False  # pores beyond the FOV
    assert np.allclose(diff[deep], 0.0, atol=1e-6)
    assert diff[rim].mean() > 0.1 and diff[rim].max() <= 0.2 + 1e-6


# --------------------------------------------------------------------------- acquisition


def test_shading_and_depth_gradient() -> None:
    off = make(seed=9, **QUIET)
    grad = make(seed=9, **QUIET, depth_gradient=0.2)
    ratio = grad.stripe_free / np.maximum(off.stripe_free, 1e-3)
    ok = (off.stripe_free > 0.05) & (grad.stripe_free < 0.999)
    rows = np.array([ratio[:, y][ok[:, y]].mean() for y in range(SHAPE[1])])
    slope = np.polyfit(np.linspace(0, 1, SHAPE[1]), rows, 1)[0]
    assert slope == pytest.approx(-0.2, rel=0.05)
    np.testing.assert_allclose(
        grad.shading[:, 0], 1.0 - 0.2 * (np.linspace(0, 1, 64) - 0.5), rtol=1e-6
    )
    low = make(seed=9, **QUIET, shading_amplitude=0.1)
    s = low.shading.astype(np.float64)
    assert s.std() == pytest.approx(0.1, rel=0.1)
    # low frequency: almost no power in the upper half of the spectrum
    spec = np.abs(np.fft.rfft2(s - s.mean())) ** 2
    assert spec[:, 16:].sum() < 1e-3 * spec.sum()


def _radial_power(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.fft.fftfreq(x.shape[-1])
    fr = np.hypot(f[:, None], f[None, :])
    psd = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0)
    return fr, psd


def test_band_limited_noise_has_less_power_near_nyquist() -> None:
    kw = dict(curtain_strength=0.0, noise_sigma=0.05, poisson_counts=0.0, drift_step_px=0.0)
    white = make(seed=10, **kw)
    band = make(seed=10, **kw, noise_psf_px=0.9)
    rw = white.image / 255.0 - white.noise_free
    rb = band.image / 255.0 - band.noise_free
    ok = (white.noise_free > 0.2) & (white.noise_free < 0.8)
    assert rb[ok].std() == pytest.approx(rw[ok].std(), rel=0.1)  # same variance
    fr, pw = _radial_power(rw)
    _, pb = _radial_power(rb)
    hi = fr > 0.4
    assert pb[hi].mean() < 0.1 * pw[hi].mean()
    low = (fr > 0.02) & (fr < 0.1)
    assert pb[low].mean() > pw[low].mean()  # the power moved to low frequencies


@pytest.mark.parametrize("tilt", [2.0, -1.5])
def test_dense_curtains_are_narrow_tilted_and_fade_down(tilt) -> None:
    p = make(
        seed=11, shape=(8, 96, 96), **QUIET, dense_curtain_strength=0.05, curtain_tilt_deg=tilt
    )
    c = p.curtain
    assert np.abs(c).max() > 0.02
    assert tilt_of(c[4]) == pytest.approx(tilt, abs=0.5)
    stripes = p.truth["dense_curtain"]["stripes"]
    assert len(stripes) >= 10  # dense: ~25 per 100 px
    assert all(1.0 <= s["width_px"] <= 3.0 for s in stripes)
    top, bottom = np.abs(c[:, :32]).mean(), np.abs(c[:, -32:]).mean()
    assert top > bottom  # start near the top, fade down
    assert len({s["amplitude"] for s in stripes}) == len(stripes)  # varying strength
    # they start at pores/edges of the face: darker or steeper there than on average
    ref = ndimage.gaussian_filter(p.stripe_free[4].astype(float), 1.0)
    g = np.hypot(ndimage.sobel(ref, 0), ndimage.sobel(ref, 1))
    at = [(int(s["y0_px"]), int(s["x0_px"])) for s in stripes if s["y0_px"] > 0]
    score = np.mean([g[y, x] / g.mean() + (ref[y, x] < np.percentile(ref, 30)) for y, x in at])
    assert score > 1.2


def _stripe_profile(c: np.ndarray) -> np.ndarray:
    p = c[8:40].mean(axis=0)
    return (p - ndimage.uniform_filter1d(p, 9))[12:-12]


def test_curtains_in_the_sample_frame_drift_with_the_structure() -> None:
    """``curtain_frame="sample"``: the same curtains, moved slice by slice with the drift, so
    undoing the true drift lines them up (as it lines up the structure); in the image frame
    they line up without it."""
    kw = dict(**{**QUIET, "drift_step_px": 2.0}, dense_curtain_strength=0.05, curtain_tilt_deg=0.0)
    img = make(seed=13, shape=(24, 96, 96), **kw)
    smp = make(seed=13, shape=(24, 96, 96), curtain_frame="sample", **kw)
    assert np.array_equal(img.labels, smp.labels) and np.allclose(img.shifts_px, smp.shifts_px)
    assert np.array_equal(img.stripe_free, smp.stripe_free)
    sh = smp.shifts_px
    a, b = 2, 21
    d = sh[b] - sh[a]
    assert abs(d[1]) > 3.0  # the drift moved the content by pixels between them (-6.9)

    def corr(c: np.ndarray, undo: bool) -> float:
        pa, pb = c[a], c[b]
        if undo:
            pa = ndimage.shift(pa, -sh[a], order=3, mode="nearest")
            pb = ndimage.shift(pb, -sh[b], order=3, mode="nearest")
        return float(np.corrcoef(_stripe_profile(pa), _stripe_profile(pb))[0, 1])

    # measured 0.95, 0.90, 0.14, -0.01
    assert corr(img.curtain, undo=False) > 0.85  # image frame: static
    assert corr(smp.curtain, undo=True) > 0.8  # sample frame: static once aligned
    assert corr(smp.curtain, undo=False) < 0.4  # and not before
    assert corr(img.curtain, undo=True) < 0.4  # (the image-frame ones then wander)
    # the curtain field is the image's: image minus the stripe-free rendering (no noise)
    assert np.allclose(
        smp.image.astype(np.float32) / 255.0, smp.stripe_free + smp.curtain, atol=0.01
    )


def test_charging_streaks_trail_bright_features_along_x() -> None:
    p = make(seed=12, **QUIET, charging_strength=0.3, charging_length_px=8.0)
    ch = p.charging
    assert ch.min() >= 0 and ch.max() > 0.05
    assert np.all(ch[:, :, 0] == 0)  # nothing before the first pixel of a line
    base = p.stripe_free - ch
    bright = base > np.percentile(base, 95)
    right = np.roll(bright, 3, axis=2)
    left = np.roll(bright, -3, axis=2)
    right[:, :, :3] = False
    left[:, :, -3:] = False
    assert ch[right & ~bright].mean() > 2 * ch[left & ~bright].mean()


def test_slice_jitter_positions_are_true() -> None:
    p = make(seed=13, shape=(48, 48, 48), **QUIET, psf_sigma_px=0.0, slice_jitter=0.2)
    pos = p.slice_positions_px
    t = np.diff(pos)
    assert pos[0] == 0 and np.all(t > 0)
    assert t.std() == pytest.approx(0.2, rel=0.35)
    assert p.truth["slice_positions_nm"] == pytest.approx(list(pos * VOX), abs=1e-2)
    # each acquired slice is the geometry at its true position (linear in z between slices)
    for k in range(1, 40, 5):
        i = int(np.floor(pos[k]))
        f = pos[k] - i
        expect = (1 - f) * p.clean[i] + f * p.clean[i + 1]
        np.testing.assert_allclose(p.stripe_free[k], expect, atol=1e-5)
        np.testing.assert_array_equal(p.labels_sectioned[k], p.labels[int(np.rint(pos[k]))])
    assert p.labels_sectioned.shape == p.labels.shape


def test_drift_with_jumps_matches_phase_correlation() -> None:
    from skimage.registration import phase_cross_correlation

    p = make(
        seed=14,
        **{**QUIET, "drift_step_px": 1.0},
        drift_jump_probability=0.2,
        drift_jump_px=6.0,
    )
    assert p.truth["drift_jumps_at"]
    assert not p.truth["drift_exceeds_canvas"]
    steps = np.linalg.norm(np.diff(p.shifts_px, axis=0), axis=1)
    assert steps[np.array(p.truth["drift_jumps_at"]) - 1].mean() > 2 * np.median(steps)
    for z in range(SHAPE[0]):
        found, _, _ = phase_cross_correlation(p.clean[z], p.stripe_free[z], upsample_factor=20)
        assert np.abs(-np.asarray(found) - p.shifts_px[z]).max() < 0.5, z


def test_save_writes_the_truth_fields(tmp_path) -> None:
    p = make(seed=15, shape=(16, 48, 48), preset="realistic")
    paths = save_phantom(tmp_path / "r", p)
    names = ("fibsem", "truth_labels", "truth", "noise_free", "curtain", "shading", "charging")
    for name in (*names, "truth_labels_sectioned"):
        assert paths[name].exists(), name
    truth = json.loads(paths["truth"].read_text())
    assert truth["switches"] == p.params.switches() and truth["preset"] == "realistic"
    lines = paths["drift_shifts"].read_text().splitlines()
    assert lines[0] == "slice,z_px,z_nm,dy_px,dx_px" and len(lines) == 17
    row = [float(v) for v in lines[6].split(",")]  # slice 5
    assert row[1] == pytest.approx(p.slice_positions_px[5], abs=1e-5)
    assert row[3:] == pytest.approx(list(p.shifts_px[5]), abs=1e-5)
    from microstructure.io import read_volume

    curtain = read_volume(paths["curtain"]).data
    assert np.allclose(curtain, p.curtain)
    assert truth["curtain_energy"] == pytest.approx(np.mean(p.curtain.astype(float) ** 2), rel=1e-4)
    plain = save_phantom(tmp_path / "d", make(seed=15, shape=(16, 48, 48)))
    assert set(plain) == {"fibsem", "truth_labels", "truth"}


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(noise_psf_px=-1), "noise_psf_px"),
        (dict(slice_jitter=0.9), "slice_jitter"),
        (dict(dense_curtain_width_px=(3, 1)), "dense_curtain_width_px"),
        (dict(drift_jump_probability=2), "drift_jump_probability"),
        (dict(curtain_tilt_deg="x"), "curtain_tilt_deg"),
        (dict(curtain_frame="detector"), "curtain_frame"),
    ],
)
def test_bad_realistic_parameters(kwargs, name) -> None:
    with pytest.raises(ValueError, match=f"^{name}:"):
        dataclasses.replace(PhantomParams(), **kwargs)


def test_recipe_file_is_the_realistic_preset() -> None:
    from pathlib import Path

    from microstructure.pipeline.phantom_input import load_phantom_params

    path = Path(__file__).resolve().parents[1] / "pipelines" / "realistic_phantom.toml"
    params = load_phantom_params(path)
    gen = {k: v for k, v in params.items() if k not in ("shape", "voxel_size_nm", "seed")}
    assert PhantomParams(**gen) == PhantomParams.realistic()


# --------------------------------------------------------------------------- fiducial cap


def test_fiducial_cap_moves_with_the_sample_and_does_not_change_with_depth() -> None:
    from microstructure.phantom.acquisition import FIDUCIAL_CAP, with_fiducial

    p = make(seed=16, shape=(16, 96, 96), preset="realistic", canvas_margin_px=40)
    rows = 20 + math.ceil(max(0.0, -float(p.shifts_px[:, 0].min())))
    cap = with_fiducial(p, rows, seed=2)
    assert np.array_equal(cap.labels, p.labels) and cap.truth["fiducial"]["rows"] == rows
    assert len(cap.truth["fiducial"]["marks"]) == 2  # max(2, 96 // 40)
    assert not np.array_equal(cap.image, p.image)
    # moved back by the true drift, the cap face is the same in every slice (marks, edges;
    # only the Pt grains change), the structure below it is not
    back = [ndimage.shift(cap.stripe_free[z], -p.shifts_px[z], order=1) for z in range(16)]
    face = [b[rows - 18 : rows - 2, 8:-8] for b in back]
    below = [b[rows + 4 : rows + 40, 8:-8] for b in back]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert min(corr(face[0], f) for f in face[1:]) > 0.9
    assert corr(below[0], below[-1]) < 0.7
    # the interface lies at ``rows`` in the cap's frame: cap grey above, structure below
    z = int(np.argmax(p.shifts_px[:, 0]))
    edge = rows + p.shifts_px[z, 0]
    assert abs(float(np.median(cap.stripe_free[z, math.floor(edge) - 3])) - FIDUCIAL_CAP) < 0.1
    with pytest.raises(ValueError, match="^rows:"):
        with_fiducial(p, 60)
    with pytest.raises(ValueError, match="^rows:"):
        with_fiducial(p, 2.5)
