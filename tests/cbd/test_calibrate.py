"""Tests of the void-filling CBD distribution modes and of the CBD calibration to a MIP curve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from microstructure.cbd import insert_cbd
from microstructure.cbd._calibrate_search import (
    profile_sensitivity,
    representative_crop,
    spread_of_equivalent,
)
from microstructure.cbd.calibrate import calibrate_cbd, cbd_mip_curve, resolved_misfit
from microstructure.porosimetry.distribution import MipCurve
from microstructure.porosimetry.washburn import washburn_pressure_mpa

VOXEL_NM = 37.2
RATIO = 11.46 / 88.54  # solid CBD / AM, Table 1 of doi:10.3390/batteries7040070


def _known_limit(reason: str) -> list:
    """A documented limit: a strict xfail that runs minutes to fail, so opt-in
    (``pytest -m stress``) to keep the default suite within its time budget."""
    return [pytest.mark.stress, pytest.mark.xfail(strict=True, reason=reason)]


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
    with pytest.raises(ValueError, match=r"3\.7-15 nm do not overlap the resolved range") as e:
        calibrate_cbd(
            voids,
            _curve(d, np.linspace(0, 1, 20)),
            voxel_size_nm=VOXEL_NM,
            cbd_to_am_volume_ratio=RATIO,
        )
    # both ranges named, on one line
    assert "simulation 37.2-2000 nm" in str(e.value) and "\n" not in str(e.value)


def test_cbd_larger_than_the_pore_space_is_refused():
    dense = _boolean_am((32, 32, 32), 9.0, 0.06, seed=1)
    d = np.geomspace(2000.0, 20.0, 30)
    with pytest.raises(ValueError, match="larger than the open pore space") as e:
        calibrate_cbd(
            dense,
            _curve(d, np.linspace(0, 1, 30)),
            voxel_size_nm=VOXEL_NM,
            cbd_to_am_volume_ratio=RATIO,
        )
    assert "\n" not in str(e.value) and "cbd_porosity: at 0.580" in str(e.value)


def test_bad_names_bounds_and_budgets_are_refused(voids):
    d = np.geomspace(2000.0, 20.0, 30)
    kw = {"voxel_size_nm": VOXEL_NM, "cbd_to_am_volume_ratio": RATIO}
    cases = [
        ({"free": ("wetting",)}, "free: unknown parameter 'wetting'"),
        ({"bounds": {"cbd_porosity": (0.4, 1.2)}}, r"cbd_porosity must lie in \[0, 1\)"),
        ({"bounds": {"nanopore_mean_nm": (200, 100)}}, "needs low < high"),
        ({"max_evaluations": -1}, "max_evaluations: must be >= 0"),
        ({"max_voxels": 100}, "max_voxels: must be at least 4096"),
        ({"whole_steps": -1}, "whole_steps: must be >= 0"),
        ({"d50_weight": -1.0}, "d50_weight: must be finite and >= 0"),
    ]
    for extra, message in cases:
        with pytest.raises(ValueError, match=message):
            calibrate_cbd(voids, _curve(d, np.linspace(0, 1, 30)), **kw, **extra)


def test_misfit_is_zero_for_identical_curves_and_sees_a_shift():
    d = np.geomspace(2000.0, 20.0, 60)
    s = 1.0 / (1.0 + (d / 200.0) ** 3)
    m0 = resolved_misfit(_curve(d, s), _curve(d, s), d_low_nm=37.2, d_high_nm=1500.0)
    assert m0["max_abs"] == 0.0 and m0["area_decades"] == 0.0
    shifted = 1.0 / (1.0 + (d / 100.0) ** 3)  # same shape, half the size: log10(2) decades
    m1 = resolved_misfit(_curve(d, s), _curve(d, shifted), d_low_nm=37.2, d_high_nm=1500.0)
    assert m1["d50_simulated_nm"] == pytest.approx(2 * m1["d50_measured_nm"], rel=0.03)
    assert m1["area_decades"] == pytest.approx(np.log10(2), rel=0.1)


def test_d50_term_adds_the_log_ratio_and_is_off_by_default():
    d = np.geomspace(2000.0, 20.0, 400)
    s = 1.0 / (1.0 + (d / 200.0) ** 3)
    half = 1.0 / (1.0 + (d / 100.0) ** 3)  # same shape, half the size
    kw = {"d_low_nm": 37.2, "d_high_nm": 2000.0}
    off = resolved_misfit(_curve(d, s), _curve(d, half), **kw)
    on = resolved_misfit(_curve(d, s), _curve(d, half), d50_weight=2.0, **kw)
    ratio = on["d50_simulated_nm"] / on["d50_measured_nm"]
    assert on["d50_log_ratio"] == pytest.approx(abs(np.log10(ratio)))
    assert 0.27 < on["d50_log_ratio"] < 0.31  # about log10(2) inside the range
    assert on["objective"] - off["objective"] == pytest.approx(2.0 * on["d50_log_ratio"])
    same = resolved_misfit(_curve(d, s), _curve(d, s), d50_weight=2.0, **kw)
    assert same["objective"] == 0.0


def test_psd_term_counts_the_volume_in_other_bins():
    d = np.geomspace(2000.0, 20.0, 400)
    big = (d <= 300.0).astype(float)  # all the volume enters at 300 nm
    small = (d <= 100.0).astype(float)  # ... at 100 nm: another bin
    m = resolved_misfit(_curve(d, big), _curve(d, small), d_low_nm=37.2, d_high_nm=2000.0)
    assert m["psd_difference"] == pytest.approx(1.0, abs=0.02)
    width = np.log10(2000.0 / 37.2)
    # objective = area / width + 0.5 * PSD term; the area is the log distance of the steps
    assert m["area_decades"] == pytest.approx(np.log10(3.0), rel=0.05)
    assert m["objective"] == pytest.approx(m["area_decades"] / width + 0.5, rel=1e-9)
    same = resolved_misfit(_curve(d, big), _curve(d, big), d_low_nm=37.2, d_high_nm=2000.0)
    assert same["objective"] == 0.0 and same["psd_difference"] == 0.0


def _linear_effects(fitted, slopes, shapes, jumps=None):
    """Curve differences of a linear model: sum_i slope_i * dp_i * shape_i (+ a jump)."""

    def difference(p):
        out = np.zeros(shapes[0].size)
        for i, name in enumerate(slopes):
            dp = p[name] - fitted[name]
            out += slopes[name] * dp * shapes[i]
            if jumps and name in jumps and dp != 0:
                out += jumps[name]
        return out

    return difference


def test_profile_sensitivity_of_independent_effects_is_tolerance_over_slope():
    x = np.linspace(0, 1, 64)
    shapes = [np.sin(np.pi * x), np.sin(2 * np.pi * x)]  # orthogonal effects
    shapes = [v / np.abs(v).max() for v in shapes]  # largest change 1 per unit
    fitted = {"a": 50.0, "b": 0.5}
    bounds = {"a": (0.0, 100.0), "b": (0.0, 1.0)}
    slopes = {"a": 0.004, "b": 0.5}  # saturation per unit
    sens, detail = profile_sensitivity(
        fitted, ("a", "b"), bounds, _linear_effects(fitted, slopes, shapes), 0.02
    )
    assert sens["a"] == pytest.approx(0.02 / 0.004, rel=1e-6)
    assert sens["b"] == pytest.approx(0.02 / 0.5, rel=1e-6)
    assert detail["a"]["inflation"] == pytest.approx(1.0, abs=1e-9)


def test_profile_sensitivity_widens_for_alike_effects_and_ignores_jumps():
    x = np.linspace(0, 1, 64)
    u = np.sin(np.pi * x) / np.sin(np.pi * x).max()
    w = np.sin(2 * np.pi * x) / np.sin(2 * np.pi * x).max()  # orthogonal to u (symmetry)
    c = 0.9  # the two effects have cosine 0.9: VIF = 1 / (1 - c^2)
    shapes = [u, c * u + np.sqrt(1 - c**2) * w * (np.linalg.norm(u) / np.linalg.norm(w))]
    fitted = {"a": 50.0, "b": 50.0}
    bounds = {"a": (0.0, 100.0), "b": (0.0, 100.0)}
    slopes = {"a": 0.004, "b": 0.004}
    sens, detail = profile_sensitivity(
        fitted, ("a", "b"), bounds, _linear_effects(fitted, slopes, shapes), 0.02
    )
    assert detail["a"]["inflation"] == pytest.approx(1 / (1 - c**2), rel=1e-6)
    assert sens["a"] == pytest.approx(detail["a"]["alone"] * np.sqrt(1 / (1 - c**2)), rel=1e-9)
    # a parameter that only makes the voxel configuration jump (no systematic effect):
    # the curve does not determine it
    rng = np.random.default_rng(0)
    noise = {"b": 0.05 * np.sign(rng.standard_normal(64))}
    jumpy = _linear_effects(fitted, {"a": 0.004, "b": 0.0}, [u, w], jumps=noise)
    sens, detail = profile_sensitivity(fitted, ("a", "b"), bounds, jumpy, 0.02)
    assert sens["b"] == float("inf")
    assert detail["b"]["jump_saturation"] == pytest.approx(0.05)
    # a jump of b (a re-drawn configuration) can hide a systematic change of a up to its
    # size: a is determined to (tolerance + jump) / slope, not tolerance / slope
    assert detail["a"]["alone"] == pytest.approx(0.02 / 0.004, rel=1e-6)
    assert sens["a"] == pytest.approx((0.02 + 0.05) / 0.004, rel=1e-6)


def test_valley_extent_follows_compensating_parameters():
    """Two parameters with the same effect: each alone is determined to tolerance / slope,
    but along the valley (the other compensating) the curve does not change at all, so the
    reach is the largest step inside the band; with independent effects there is no valley."""
    from microstructure.cbd._calibrate_search import VALLEY_STEPS, valley_extent

    x = np.linspace(0, 1, 64)
    u = np.sin(np.pi * x) / np.sin(np.pi * x).max()
    w = np.sin(2 * np.pi * x) / np.sin(2 * np.pi * x).max()
    fitted = {"a": 50.0, "b": 50.0}
    bounds = {"a": (0.0, 100.0), "b": (0.0, 100.0)}
    slopes = {"a": 0.004, "b": 0.004}
    for shapes, expected in (([u, u], 100.0 * max(VALLEY_STEPS)), ([u, w], 0.0)):
        diff = _linear_effects(fitted, slopes, shapes)
        sens, detail = profile_sensitivity(fitted, ("a", "b"), bounds, diff, 0.02)
        reach = valley_extent(fitted, ("a", "b"), bounds, diff, 0.02, detail)
        # independent: every step (6 % of the band and more) is beyond 0.02 / 0.004 = 5
        assert reach["a"] == pytest.approx(expected), shapes


def test_profile_polish_leaves_a_step_the_simplex_stops_on():
    """A staircase parameter (x0) and a smooth one (x1): the simplex stops on the step it
    starts on; the profile over x0 with x1 re-fitted finds the lower step and re-fits x1."""
    from microstructure.cbd._calibrate_search import local_stage, profile_polish

    def score(x):
        step = 0.2 if not 0.65 <= x[0] <= 0.72 else 0.0
        return step + (x[1] - 0.3) ** 2  # flat in x0 but for the one narrow step

    x0 = np.array([0.5, 0.6])
    stuck = local_stage(score, x0, 0.01, 60)
    assert score(stuck) >= 0.2  # the simplex alone does not find the narrow step
    best = profile_polish(score, stuck, [0], [1], 200)
    assert 0.65 <= best[0] <= 0.72
    assert best[1] == pytest.approx(0.3, abs=0.02)


def test_equivalent_spread_and_crop():
    fitted = {"a": 1.0, "b": 10.0}
    samples = [
        ({"a": 1.5, "b": 10.0}, 0.01),
        ({"a": 3.0, "b": 14.0}, 0.05),
        ({"a": 0.2, "b": 7.0}, 0.02),
    ]
    assert spread_of_equivalent(fitted, ("a", "b"), samples, 0.02) == pytest.approx(
        {"a": 0.8, "b": 3.0}
    )
    # left half dense (10 % pore) and right half open (50 %), except the upper half in z
    # (50 % everywhere): 40 % overall; a corner crop could have 10 % or 50 %
    lab = np.ones((40, 60, 80), dtype=np.uint8)
    rng = np.random.default_rng(0)
    lab[:, :, :40][rng.random((40, 60, 40)) < 0.1] = 0
    lab[:, :, 40:][rng.random((40, 60, 40)) < 0.5] = 0
    lab[:20] = np.where(rng.random((20, 60, 80)) < 0.5, 0, 1)  # top half in z: 50 % too
    sl = representative_crop(lab, 40 * 60 * 80 // 4, keep_axis=1)
    sizes = [len(range(*s.indices(n))) for s, n in zip(sl, lab.shape, strict=True)]
    assert sizes == [20, 60, 40]  # thickness kept, the other two halved
    whole = float((lab == 0).mean())
    crop = float((lab[sl] == 0).mean())
    assert abs(crop - whole) < 0.02
    corner = float((lab[20:, :, :40] == 0).mean())
    assert abs(corner - whole) > 0.25  # what an unlucky crop would have given
    assert representative_crop(lab, None, keep_axis=1) == (slice(None),) * 3


def test_tolerance_set_range_and_band():
    """The range over the members of the tolerance set (the fit always counts); a range
    across the whole band marks the parameter as not determined; a value far outside the
    members is outside the range."""
    from microstructure.cbd._calibrate_search import tolerance_set_range

    fitted = {"a": 1.0, "b": 10.0}
    bounds = {"a": (0.0, 4.0), "b": (0.0, 20.0)}
    samples = [
        ({"a": 1.5, "b": 8.0}, True),
        ({"a": 3.9, "b": 12.0}, False),  # not a member: ignored
        ({"a": 0.1, "b": 19.5}, True),
        ({"a": 3.95, "b": 0.5}, True),
    ]
    r = tolerance_set_range(fitted, ("a", "b"), bounds, samples)
    assert (r["a"]["low"], r["a"]["high"]) == (0.1, 3.95) and r["a"]["members"] == 3
    assert r["a"]["spans_band"] and r["b"]["spans_band"]
    r = tolerance_set_range(fitted, ("a", "b"), bounds, samples[:2])
    assert (r["a"]["low"], r["a"]["high"]) == (1.0, 1.5) and not r["a"]["spans_band"]
    assert (r["b"]["low"], r["b"]["high"]) == (8.0, 10.0)
    assert not r["b"]["low"] <= 16.0 <= r["b"]["high"]  # far outside: not covered


def test_walk_follows_a_curved_valley_and_stops_at_its_end():
    """A narrow curved valley y = 0.3 + 1.5 (x - 0.3)^2 (width 0.01) that ends at x = 0.75:
    straight extrapolation from the fit through a member leaves the valley within a step; the
    profile step (x held, y re-fitted) follows the bend to the valley's end and no further."""
    from microstructure.cbd._calibrate_search import walk_tolerance_set

    def valley(x):
        return 0.3 + 1.5 * (x - 0.3) ** 2

    def inside(z):
        return abs(z[1] - valley(z[0])) <= 0.01 and z[0] <= 0.75

    def correct(z, i):
        assert i == 0  # the walked coordinate is held
        return np.array([z[0], valley(z[0])])

    x_fit = np.array([0.3, 0.3])
    member = np.array([0.4, valley(0.4)])
    straight = walk_tolerance_set(inside, x_fit, [member], coordinates=[0])
    assert all(inside(z) for z in straight)
    reach_straight = max([0.4] + [z[0] for z in straight])
    assert reach_straight < 0.45
    steps = (1.5, 2.0, 3.0, 4.0, 5.0)
    bent = walk_tolerance_set(
        inside, x_fit, [member], multiples=steps, correct=correct, coordinates=[0]
    )
    assert all(inside(z) for z in bent)
    reach = max(z[0] for z in bent)
    assert 0.65 <= reach <= 0.75  # along the bend, up to the end of the valley
    # a parameter set far from the valley is not a member and lies outside the reach
    assert not inside(np.array([0.9, valley(0.9)])) and 0.9 > reach


def test_profile_edges_follow_a_jagged_valley_that_straight_steps_leave():
    """A narrow curved valley y = 0.3 + 1.5 (x - 0.3)^2 (width 0.01) for 0.1 <= x <= 0.75:
    from members near the fit, the profile (x stepped, y re-fitted, continuation) reaches
    both ends of the valley and stops there; a budget that says no ends it early."""
    from microstructure.cbd._calibrate_search import profile_edges

    def valley(x):
        return 0.3 + 1.5 * (x - 0.3) ** 2

    def inside(z):
        return abs(z[1] - valley(z[0])) <= 0.01 and 0.1 <= z[0] <= 0.75

    calls = []

    def refit(z, i):
        assert i == 0  # the profiled coordinate is held
        calls.append(z[0])
        return np.array([z[0], valley(z[0])])

    members = [np.array([0.3, 0.3]), np.array([0.35, valley(0.35)])]
    found = profile_edges(inside, refit, members, coordinates=[0], step=0.06)
    assert all(inside(z) for z in found)
    xs = [z[0] for z in found]
    assert 0.69 <= max(xs) <= 0.75 and 0.1 <= min(xs) <= 0.16
    # the straight chord from the fit through the farthest member leaves the valley
    chord = np.array([0.3, 0.3]) + 3.0 * (members[1] - np.array([0.3, 0.3]))
    assert not inside(chord)
    # a point beyond the valley's end is outside the reach
    assert not inside(np.array([0.9, valley(0.9)])) and 0.9 > max(xs)
    calls.clear()
    few = profile_edges(inside, refit, members, [0], step=0.06, budget=lambda: len(calls) < 3)
    assert len(calls) == 3 and len(few) <= 3


def test_fit_is_chosen_among_the_sets_that_meet_the_tolerance():
    """The search's best by the objective misses the tolerance (0.025) while another
    simulated set meets it: that set is the fit; when none meets it the search's best stays,
    and a best that meets it is kept even when another set has a smaller difference."""
    from microstructure.cbd.calibrate import CALIBRATION_PARAMETERS, _accepted_best

    def key(p):
        return tuple(round(float(p[n]), 9) for n in CALIBRATION_PARAMETERS)

    class Prob:
        def __init__(self, rows):
            self.cache = {key(p): ({"objective": o, "max_abs": m}, None) for p, o, m in rows}

        def evaluate(self, p):
            return self.cache[key(p)]

    base = dict(CALIBRATION_PARAMETERS)
    best = {**base, "cbd_porosity": 0.52}
    near = {**base, "cbd_porosity": 0.53}
    nearer = {**base, "cbd_porosity": 0.54}
    far = {**base, "cbd_porosity": 0.50}
    rows = [(best, 0.010, 0.025), (near, 0.013, 0.018), (nearer, 0.015, 0.012), (far, 0.05, 0.03)]
    stages: dict = {}
    chosen = _accepted_best(Prob(rows), best, 0.02, stages)
    assert chosen["cbd_porosity"] == 0.53  # the smallest objective among those within 0.02
    assert stages["search_best_max_abs"] == 0.025 and "within the tolerance" in stages["selected"]
    assert _accepted_best(Prob([rows[0], rows[3]]), best, 0.02, {}) == best
    ok = [(best, 0.010, 0.019), rows[2]]
    assert _accepted_best(Prob(ok), best, 0.02, {}) == best


def test_quality_block_fails_on_a_poor_fit():
    from microstructure.cbd.calibrate import CbdCalibration

    def res(max_abs, sens):
        return CbdCalibration(
            parameters={"nanopore_mean_nm": 100.0},
            free=("nanopore_mean_nm",),
            bounds={"nanopore_mean_nm": (60.0, 300.0)},
            sensitivity={"nanopore_mean_nm": sens},
            misfit={"max_abs": max_abs},
            start_misfit={},
            evaluations=1,
            seconds=0.0,
            range_nm=(37.2, 2000.0),
            simulated=None,
            measured=None,
            settings={"tolerance": 0.02},
            fit_misfit={"max_abs": max_abs},
            realisation_misfit={"max_abs": 0.01},
        )

    assert res(0.01, 5.0).quality()["ok"] is True
    # determined means a sensitivity below a quarter of the band (240 nm here)
    assert res(0.01, 59.0).quality()["ok"] is True
    assert res(0.01, 61.0).quality()["checks"]["determined_nanopore_mean_nm"]["passed"] is False
    q = res(0.05, float("inf")).quality()
    assert q["ok"] is False
    assert not q["checks"]["fit_max_difference"]["passed"]
    assert not q["checks"]["determined_nanopore_mean_nm"]["passed"]
    assert res(0.05, float("inf")).to_dict()["sensitivity"]["nanopore_mean_nm"] is None
    # a value far outside the stated sensitivity is reported as not covered
    assert res(0.01, 5.0).covers({"nanopore_mean_nm": 104.0}) == {"nanopore_mean_nm": True}
    assert res(0.01, 5.0).covers({"nanopore_mean_nm": 140.0}) == {"nanopore_mean_nm": False}


@pytest.mark.slow
@pytest.mark.parametrize(
    "hidden",
    [
        pytest.param(
            {"cbd_porosity": 0.53, "nanopore_mean_nm": 140.0, "nanopore_std_nm": 45.0},
            marks=_known_limit(
                "measured 2026-12-07 19:32 (508 simulations): the curve fits (0.0180, D50 "
                "166.0 vs 164.7 nm) and every hidden value is within its sensitivity, but the "
                "CBD porosity 0.523 +- 0.0351 is not determined to a quarter of its band "
                "(0.0325): the profile of the tolerance set (profile_edges) found simulated sets "
                "up to 0.558 within 0.02 of the measurement (0.0194 at 0.558); the earlier "
                "+- 0.028 came from an inner estimate that did not reach them",
            ),
            id="wider-pores",
        ),
        pytest.param(
            {"cbd_porosity": 0.49, "nanopore_mean_nm": 110.0, "nanopore_std_nm": 25.0},
            id="narrower-pores",
        ),
    ],
)
def test_calibration_recovers_hidden_parameters(hidden):
    """Hidden CBD porosity and nanopore mean/std (void and contact angle known): the fitted
    curve within 0.02 at every diameter, each parameter within its stated sensitivity."""
    labels = _boolean_am((64, 64, 64), 14.0, 0.27, seed=7)
    known = {"max_void_diameter_nm": 330.0}
    measured = cbd_mip_curve(
        labels,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        parameters={**known, **hidden},
    )
    res = calibrate_cbd(
        labels,
        measured,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        free=tuple(hidden),
        start=known,  # the others start at the defaults: 50.2 %, 100 +- 30 nm
        max_evaluations=160,
    )
    assert res.start_misfit["max_abs"] > 0.04  # the start is visibly off
    assert res.misfit["max_abs"] <= 0.02  # fitted curve within 0.02 at every diameter
    assert abs(res.misfit["d50_difference_nm"]) < 0.05 * res.misfit["d50_measured_nm"]
    for name, value in hidden.items():
        assert abs(res.parameters[name] - value) <= res.sensitivity[name], name
        # and the sensitivity says something: well inside the band
        lo, hi = res.bounds[name]
        assert res.sensitivity[name] < 0.25 * (hi - lo), name


_WIDER = {"cbd_porosity": 0.53, "nanopore_mean_nm": 140.0, "nanopore_std_nm": 45.0}
_NARROWER = {"cbd_porosity": 0.49, "nanopore_mean_nm": 110.0, "nanopore_std_nm": 25.0}
_ANGLE = {"contact_angle_deg": 37.0}  # off the profile grid (10, 20, ... 70 deg)
_VOID = {"max_void_diameter_nm": 330.0}


@pytest.mark.slow
@pytest.mark.parametrize(
    "hidden",
    [
        pytest.param({**_WIDER, **_ANGLE}, id="wider-angle"),
        pytest.param({**_NARROWER, **_ANGLE}, id="narrower-angle", marks=pytest.mark.extended),
        pytest.param(
            {**_NARROWER, **_ANGLE, **_VOID},
            marks=_known_limit(
                "measured 2026-12-07 19:36 (150 evaluations, 657 simulations): largest "
                "difference 0.0352 > 0.02 and no simulated set within 0.02; fitted void 345.8 nm "
                "and angle 40.8 deg (hidden 330, 37) on the compensating line rho cos(theta), "
                "porosity 0.511 (0.49), mean 106.9 (110), std 33.5 (25) nm; every hidden value "
                "is within its sensitivity. The hidden stencil and angle (void 327-335 nm, angle "
                "37.1-37.3 deg) give 0 with the hidden smooth values but rank 15th of the scan's "
                "96 distinct configurations by the objective with a fit's smooth values held, "
                "and re-fits from there reached 0.018-0.024 in separate trials (one in four "
                "within 0.02): the search does not find the needle",
            ),
            id="narrower-angle-void",
        ),
        pytest.param({**_WIDER, **_VOID}, id="wider-void", marks=pytest.mark.extended),
    ],
)
def test_calibration_recovers_with_the_gas_parameters_free(hidden):
    """The issue's full set: the contact angle (and the largest gas void) free too, the angle
    starting at 25 deg. Both act on the gas balls in jumps: with the other parameters at
    their hidden values only the hidden ball stencil (void 327-335 nm) and an angle within
    about 1 deg of 37 give a curve within 0.02 (every other configuration nearby 0.022-0.05),
    so the curve tells them apart but as a needle; the search profiles them with the smooth
    parameters re-fitted, then scans every stencil and centre condition near the best (the
    gas scan); the fit is the best simulated set that meets the tolerance (if any does), and
    the sensitivities cover the tolerance set (every simulated set within 0.02, walked and
    profiled outwards) and allow for the jumps. Asserted: fitted
    curve within 0.02 at every diameter; every parameter within its stated sensitivity of the
    hidden value, and either determined (sensitivity below a quarter of its band) or reported
    as not determined by the quality block; the nanopore mean and std determined."""
    labels = _boolean_am((64, 64, 64), 14.0, 0.27, seed=7)
    known = {k: v for k, v in {**_ANGLE, **_VOID}.items() if k not in hidden}
    measured = cbd_mip_curve(
        labels,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        parameters={**known, **hidden},
    )
    start = {**known, **({"contact_angle_deg": 25.0} if "contact_angle_deg" in hidden else {})}
    res = calibrate_cbd(
        labels,
        measured,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        free=tuple(hidden),
        start=start,  # the rest at the defaults: 50.2 %, 100 +- 30 nm, void 500 nm
        max_evaluations=150,  # 50-85 s per case on 2 shared cores
    )
    assert res.start_misfit["max_abs"] > 0.04
    assert res.misfit["max_abs"] <= 0.02
    checks = res.quality()["checks"]
    for name, value in hidden.items():
        assert abs(res.parameters[name] - value) <= res.sensitivity[name], name
        # determined (sensitivity below a quarter of the band) or reported as not determined
        lo, hi = res.bounds[name]
        narrow = res.sensitivity[name] < 0.25 * (hi - lo)
        assert checks[f"determined_{name}"]["passed"] is narrow, name
    for name in ("nanopore_mean_nm", "nanopore_std_nm"):
        assert checks[f"determined_{name}"]["passed"], name


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
    # the default radii are the MIP stage's capped run: half a voxel to 2 um
    assert "2.5-30 nm do not overlap the resolved range" in err and "37.2-2000 nm" in err


def test_void_filling_is_a_prefix_of_one_fixed_order(voids):
    """Common random numbers in the void filling: the gas is the first balls of one order
    fixed by each voxel's own random number, the last ball in part. Removing an allowed
    centre behind them changes nothing; removing the first one changes about two balls (a
    tie-break drawn from a generator re-drew every number and moved the whole gas)."""
    from microstructure.cbd._void_fill import _centre_order, void_filling_gas
    from microstructure.cbd._voxels import _edt, _voxel_uniform

    vs = (VOXEL_NM,) * 3
    half = 0.5 * VOXEL_NM
    pore = voids == 0
    flat = np.flatnonzero(pore)
    w = _edt(pore, vs).ravel()[flat] - half
    allowed = w >= 2 * VOXEL_NM
    rho = 3 * VOXEL_NM
    n_gas = int(0.3 * flat.size)
    kw = dict(flat_pore=flat, w_pore=w, rho_nm=rho, half_nm=half, n_gas=n_gas)
    kw.update(n_all=flat.size, distribution="contact", tie_key=11)
    gas, info = void_filling_gas(pore, vs, allowed=allowed, **kw)
    assert gas.size == n_gas and np.all(pore.ravel()[gas])
    k = info["void_centres"]
    idx = np.flatnonzero(allowed)
    order = idx[_centre_order(w[idx], flat[idx], "contact", 11, 2 * half)]
    for position, most in ((k + 5, 0), (0, 2 * 4 / 3 * np.pi * (rho / VOXEL_NM + 0.5) ** 3)):
        fewer = allowed.copy()
        fewer[order[position]] = False
        other, _ = void_filling_gas(pore, vs, allowed=fewer, **kw)
        changed = np.setxor1d(gas, other).size / 2
        assert changed <= most, (position, changed)
    # each voxel's number does not depend on the others drawn
    assert np.array_equal(_voxel_uniform(flat[5:9], 3), _voxel_uniform(flat, 3)[5:9])


def test_void_stencil_levels_give_each_ball_stencil_once():
    """One void per interval of equal ball stencil: consecutive levels paint different
    balls, and any void between two interval edges paints the same ball as its level."""
    from microstructure.cbd._void_fill import _ball_offsets, void_stencil_levels

    vs = (VOXEL_NM,) * 3
    half = 0.5 * VOXEL_NM
    levels = void_stencil_levels(vs, 300.0, 360.0)
    sizes = [len(_ball_offsets(vs, 0.5 * d + half)[0]) for d in levels]
    assert all(a < b for a, b in zip(sizes[:-1], sizes[1:], strict=True)), sizes
    # lattice shells sqrt(24), sqrt(25), sqrt(26) voxels: edges 2 (sqrt(n) a - a / 2)
    edges = [2.0 * (np.sqrt(n) * VOXEL_NM - half) for n in (24, 25, 26)]
    inside = [d for d in levels if edges[0] < d < edges[1]]
    assert len(inside) == 1
    for d in np.linspace(edges[0] + 0.01, edges[1] - 0.01, 7):
        assert len(_ball_offsets(vs, 0.5 * d + half)[0]) == len(
            _ball_offsets(vs, 0.5 * inside[0] + half)[0]
        )
    assert len(_ball_offsets(vs, 0.5 * (edges[1] + 0.01) + half)[0]) > len(
        _ball_offsets(vs, 0.5 * (edges[1] - 0.01) + half)[0]
    )
    with pytest.raises(ValueError, match="d_low_nm"):
        void_stencil_levels(vs, 400.0, 300.0)


def test_gas_candidates_follow_the_centre_condition():
    """Both gas parameters free: one void per stencil, the angles centred on the one that
    keeps rho cos(theta) of the start (the compensating direction)."""
    from microstructure.cbd._calibrate_gas import _gas_candidates
    from microstructure.cbd.calibrate import DEFAULT_BOUNDS

    p = {"max_void_diameter_nm": 330.0, "contact_angle_deg": 37.0}
    both = _gas_candidates(
        p, ("max_void_diameter_nm", "contact_angle_deg"), DEFAULT_BOUNDS, (37.2,) * 3
    )
    voids = sorted({v for v, _ in both})
    assert 4 <= len(voids) <= 20
    t0 = 165.0 * np.cos(np.radians(37.0))
    for v in voids:
        angles = np.array([a for w, a in both if w == v])
        centre = np.degrees(np.arccos(t0 / (0.5 * v)))
        assert angles.min() <= centre <= angles.max()
    # the angle alone: the void stays, the angle is stepped
    alone = _gas_candidates(p, ("contact_angle_deg",), DEFAULT_BOUNDS, (37.2,) * 3)
    assert {v for v, _ in alone} == {330.0} and len(alone) > 10


def test_geometry_cache_gives_the_same_cbd(voids):
    """The calibration computes the wall distances and curvatures once per pore space; the
    CBD is the same as without the cache, and a different pore space is not mixed up."""
    cache: dict = {}
    kw = {"voxel_size_nm": VOXEL_NM, "volume_fraction": 0.30, "max_void_diameter_nm": 6 * VOXEL_NM}
    for angle in (30.0, 45.0):
        fresh = insert_cbd(voids, contact_angle_deg=angle, **kw)
        cached = insert_cbd(voids, contact_angle_deg=angle, _geometry_cache=cache, **kw)
        assert np.array_equal(fresh, cached), angle
    key = cache["key"]
    other = voids.copy()
    other[:4] = 1  # another pore space: recomputed
    assert np.array_equal(
        insert_cbd(other, contact_angle_deg=30.0, **kw),
        insert_cbd(other, contact_angle_deg=30.0, _geometry_cache=cache, **kw),
    )
    assert cache["key"] != key
