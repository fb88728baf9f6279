"""Tilt foreshortening correction against the phantom's tilted acquisition; crop and
normalisation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu

from microstructure.io import read_volume
from microstructure.phantom import generate_phantom
from microstructure.pipeline.builtin.preprocess_geometry import (
    UNKNOWN_GEOMETRY,
    GeometryParams,
    GeometryStage,
)
from microstructure.pipeline.stages import StageContext
from microstructure.preprocess import correct_tilt, crop_stack, normalize_intensity
from microstructure.preprocess.geometry import (
    SHADING_THRESHOLD,
    correct_geometry,
    correct_tilt_report,
    tilt_factor,
)
from microstructure.volume import Volume


def test_tilt_factor():
    assert tilt_factor(52.0) == pytest.approx(1.0 / math.sin(math.radians(52.0)))
    assert tilt_factor(52.0) == pytest.approx(1.2690, abs=1e-4)
    assert tilt_factor(90.0) == 1.0
    for bad in (0.0, -5.0, 95.0, float("nan")):
        with pytest.raises(ValueError, match="angle_deg"):
            tilt_factor(bad)


def test_correct_tilt_undoes_phantom_foreshortening():
    kw = dict(
        voxel_size_nm=60.0,
        seed=3,
        curtain_strength=0.0,
        noise_sigma=0.0,
        poisson_counts=0.0,
        drift_step_px=0.0,
    )
    ph = generate_phantom((8, 96, 64), tilt=True, **kw)
    assert ph.stripe_free.shape[1] == round(96 * math.sin(math.radians(52.0)))
    out, info = correct_tilt_report(ph.stripe_free, angle_deg=52.0, order=3)
    assert out.shape == ph.clean.shape  # 76 rows back to 96
    assert info["actual_factor"] == pytest.approx(96 / 76)
    err = float(np.sqrt(np.mean((out - ph.clean)[:, 2:-2] ** 2)))
    naive = float(np.sqrt(np.mean((ph.stripe_free[:, :76] - ph.clean[:, :76]) ** 2)))
    assert err < 0.05  # interpolation error of a band-limited image
    assert err < 0.25 * naive


def test_correct_tilt_linear_ramp_exact_and_no_input_change():
    ramp = np.tile(np.arange(50, dtype=np.float32)[None, :, None], (2, 1, 3))
    before = ramp.copy()
    out = correct_tilt(ramp, angle_deg=30.0)  # factor 2
    assert out.shape == (2, 100, 3)
    assert np.allclose(out[0, 1:-1, 0], (np.arange(1, 99) + 0.5) / 2 - 0.5, atol=1e-5)
    assert np.array_equal(ramp, before)


def test_crop_and_normalize():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65535, (5, 20, 30), dtype=np.uint16)
    c = crop_stack(stack, z=(1, 4), y=(-10, 20), x=None)
    assert c.shape == (3, 10, 30) and np.array_equal(c, stack[1:4, 10:])
    with pytest.raises(ValueError, match="crop y"):
        crop_stack(stack, y=(15, 12))
    n = normalize_intensity(stack)
    assert n.dtype == np.float32 and n.min() == 0.0 and n.max() == 1.0
    lo, hi = np.percentile(stack, [0.5, 99.5])
    mid = stack[2, 5, 5]
    if lo < mid < hi:
        assert n[2, 5, 5] == pytest.approx((mid - lo) / (hi - lo), rel=1e-5)
    with pytest.raises(ValueError, match="constant"):
        normalize_intensity(np.full((2, 8, 8), 3.0))


def test_background_removal_flattens_shading():
    yy, xx = np.mgrid[0:64, 0:64]
    shading = 1.0 + 0.5 * xx / 63.0
    checker = ((yy // 4) + (xx // 4)) % 2 == 1
    stack = np.stack([shading * (1.0 + 0.1 * checker)] * 2).astype(np.float32)

    def shading_over_texture(img: np.ndarray) -> float:
        left, right = np.s_[:, 16:24], np.s_[:, 40:48]
        step = (
            img[8:56, 8:56][checker[8:56, 8:56]].mean()
            - img[8:56, 8:56][~checker[8:56, 8:56]].mean()
        )
        return abs(float(img[right].mean() - img[left].mean())) / float(step)

    kw = dict(low_percentile=0.0, high_percentile=100.0, clip=False)
    raw = shading_over_texture(normalize_intensity(stack, **kw)[0])
    flat = shading_over_texture(normalize_intensity(stack, background_sigma_px=16.0, **kw)[0])
    assert raw > 1.5
    assert flat < 0.25 * raw


# --------------------------------------------------------------------------- tilt geometry and
# shading (issue 19): tilt only with a known imaging angle, shading corrected when detected

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom" / "fibsem.tif"


def _porous(shape=(48, 96, 96), seed=1):
    """Two-phase random structure (40 % pores at 60, solid at 180) and its pore mask."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 3)
    pores = field < np.percentile(field, 40)
    return np.where(pores, 60.0, 180.0), pores


def _shaded(gain_z=1.2, gain_y=-0.3, noise=10.0, shape=(48, 96, 96)):
    img, pores = _porous(shape)
    z, y = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    gain = (1.0 + gain_z * z + gain_y * y)[:, :, None]
    rng = np.random.default_rng(2)
    return (img * gain + rng.normal(0, noise, shape)).astype(np.float32), pores


def _run_stage(data, metadata=None, **params):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ctx = StageContext(work_dir=Path(tmp), progress=False)
        vol = Volume(data, (20.0, 10.0, 10.0), dict(metadata or {}))
        out = GeometryStage().run(vol, GeometryParams(**params), ctx)
    return out.volume, out.numbers


def _thirds(mask):
    n = mask.shape[0] // 3
    return [float(mask[i * n : (i + 1) * n].mean()) for i in range(3)]


def test_auto_tilt_without_geometry_is_a_noted_no_op():
    data, _ = _porous((6, 40, 32))
    vol, numbers = _run_stage(data)  # no metadata, no angle_deg
    assert vol.shape == data.shape and numbers["tilt"]["applied"] is False
    assert numbers["tilt"]["reason"] == "unknown geometry"
    assert UNKNOWN_GEOMETRY in numbers["quality"]["flags"]
    assert "imaging geometry is unknown" in UNKNOWN_GEOMETRY
    assert vol.voxel_size_nm == (20.0, 10.0, 10.0)


def test_always_tilt_without_geometry_is_a_one_line_error():
    data, _ = _porous((6, 40, 32))
    with pytest.raises(ValueError, match="geometry: tilt_correction") as info:
        _run_stage(data, tilt_correction="always")
    assert "angle_deg" in str(info.value) and "\n" not in str(info.value)


def test_tilt_angle_from_instrument_metadata_or_recipe():
    data, _ = _porous((6, 40, 32))
    inst = {"vendor": "Thermo Fisher/FEI", "imaging_angle_deg": 52.0, "source": "a.tif: tag"}
    vol, numbers = _run_stage(data, {"instrument": inst})
    assert numbers["tilt"]["applied"] is True and numbers["tilt"]["angle_deg"] == 52.0
    assert "instrument metadata" in numbers["tilt"]["angle_from"]
    assert vol.shape[1] == round(40 / math.sin(math.radians(52)))
    assert vol.metadata["tilt_corrected"] is True
    assert UNKNOWN_GEOMETRY not in numbers["quality"]["flags"]
    # the recipe's angle wins over the metadata; a corrected stack is left alone on auto
    _, numbers = _run_stage(data, {"instrument": inst}, angle_deg=30.0)
    assert numbers["tilt"]["angle_deg"] == 30.0 and numbers["tilt"]["angle_from"] == "angle_deg"
    _, numbers = _run_stage(data, {"instrument": inst, "tilt_corrected": True}, angle_deg=52.0)
    assert numbers["tilt"] == {"applied": False, "reason": "metadata says tilt_corrected"}


def test_shading_gradient_detected_corrected_and_segmentation_even():
    data, pores = _shaded()
    before = data < threshold_otsu(data)
    spread_before = np.ptp(_thirds(before))
    vol, numbers = _run_stage(data, tilt_correction="never")
    sh = numbers["shading"]
    assert sh["detected"] and sh["corrected"] and sh["relative"] > 3 * SHADING_THRESHOLD
    assert sh["significant_after"] < SHADING_THRESHOLD
    q = numbers["quality"]
    assert q["ok"] and q["checks"]["shading_left"]["passed"]
    assert any("shading detected" in f for f in q["flags"])
    out = np.asarray(vol.data)
    seg = out < threshold_otsu(out)
    thirds = _thirds(seg)
    assert spread_before > 0.1  # the gradient really spoils a global threshold
    assert np.ptp(thirds) <= 0.03, thirds
    assert np.allclose(thirds, _thirds(pores), atol=0.03)


def test_flat_stack_is_not_shaded_and_untouched():
    data, _ = _porous()
    data = (data + np.random.default_rng(3).normal(0, 10, data.shape)).astype(np.float32)
    out, info = correct_geometry(data, angle_deg=None)
    ref, _ = correct_geometry(data, angle_deg=None, background_sigma_px=None)
    assert info["shading"]["detected"] is False and info["shading"]["corrected"] is False
    assert info["shading"]["relative"] < 0.02
    np.testing.assert_array_equal(out, ref)


def test_shading_check_fails_when_shading_is_left():
    data, _ = _shaded()
    _, numbers = _run_stage(data, tilt_correction="never", background_sigma_px=False)
    sh = numbers["shading"]
    assert sh["detected"] and not sh["corrected"]
    assert numbers["quality"]["ok"] is False
    assert not numbers["quality"]["checks"]["shading_left"]["passed"]
    assert any(f.startswith("shading_left") for f in numbers["quality"]["flags"])


def test_shading_chunked_is_bit_identical():
    data, _ = _shaded(shape=(20, 64, 48))
    ref, info = correct_geometry(data, angle_deg=52.0)
    got, info_c = correct_geometry(data, angle_deg=52.0, chunks=6)
    assert info["shading"]["corrected"] and info_c["shading"] == info["shading"]
    np.testing.assert_array_equal(np.asarray(got), ref)


def test_bundled_phantom_is_not_detected_as_shaded():
    if not SAMPLE.is_file():
        pytest.skip("bundled sample absent")
    vol = read_volume(SAMPLE)
    out, info = correct_geometry(vol.data, angle_deg=None)
    sh = info["shading"]
    assert sh["detected"] is False and sh["significant"] < SHADING_THRESHOLD
    ref, _ = correct_geometry(vol.data, angle_deg=None, background_sigma_px=None)
    np.testing.assert_array_equal(out, ref)


def test_real_nanopore_volume_shading_is_detected_and_reduced():
    """The nanopore volume's depth gradient (segmented porosity 0.43 -> 0.59 over the thirds
    along y with one global threshold) is detected and the spread is reduced."""
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
    path = path / "nanomesh_nanopores3d.npy"
    if not path.is_file():
        pytest.skip("validation data nanomesh_nanopores3d.npy not available")
    data = np.load(path)
    out, info = correct_geometry(data, angle_deg=None)
    sh = info["shading"]
    assert sh["detected"] and sh["corrected"] and sh["significant_after"] < SHADING_THRESHOLD

    def spread_y(a):
        seg = a < threshold_otsu(a)
        return float(np.ptp(_thirds(np.moveaxis(seg, 1, 0))))

    before, after = spread_y(data.astype(np.float32)), spread_y(out)
    assert before > 0.15 and after < 0.7 * before, (before, after)
