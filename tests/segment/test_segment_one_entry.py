"""One public function per algorithm: numpy in -> numpy out, Dask in -> lazy, same numbers;
what cannot run chunked is declared on the function and read by the ``segment`` stage."""

from __future__ import annotations

import inspect

import dask
import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from microstructure.parallel.support import chunked_memory, chunked_refusals, is_lazy
from microstructure.segment import (
    closed_pore_stats,
    closed_pores,
    segment_am,
    segment_am_report,
    segmentation,
)


def _stack(shape=(12, 24, 24), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
    return (100 + 400 * field + rng.normal(0, 5, shape)).astype(np.float32)


def test_segment_am_on_a_dask_array_is_lazy_and_equal() -> None:
    img = _stack()
    ref, info = segment_am_report(img, method="otsu")
    with dask.config.set(scheduler="synchronous"):
        lazy, got_info = segment_am_report(da.from_array(img, chunks=(5, -1, -1)), method="otsu")
        assert is_lazy(lazy)
        np.testing.assert_array_equal(lazy.compute(), ref)
        assert got_info == info
        # a numpy input with ``chunks`` runs chunked too
        np.testing.assert_array_equal(segment_am(img, method="otsu", chunks=4).compute(), ref)
    assert isinstance(segment_am(img, method="otsu"), np.ndarray)


def test_closed_pore_stats_of_a_dask_mask_equal_in_memory() -> None:
    am = _stack() > 100
    closed = closed_pores(am)
    with dask.config.set(scheduler="synchronous"):
        lazy = closed_pores(da.from_array(am, chunks=(4, -1, -1)))
        np.testing.assert_array_equal(lazy.compute(), closed)
        got = closed_pore_stats(lazy, voxel_size_nm=(20.0, 10.0, 10.0))
    assert got == closed_pore_stats(closed, voxel_size_nm=(20.0, 10.0, 10.0))


def test_options_that_cannot_run_chunked_are_declared_and_refused_with_their_value() -> None:
    img = da.from_array(_stack(), chunks=(4, -1, -1))
    assert chunked_refusals(segmentation, {"method": "auto", "refine": "none"}) == []
    refused = chunked_refusals(segmentation, {"method": "local", "separate_particles": True})
    assert [r.split(":")[0] for r in refused] == ["method"]
    # the particle watershed is a declared whole-mask step, sized per voxel
    steps = chunked_memory(segmentation, {"separate_particles": True}, 1000)
    assert [(k, n) for k, n, _ in steps] == [("separate_particles", 40_000)]
    assert chunked_memory(segmentation, {"separate_particles": False}, 1000) == []
    with pytest.raises(ValueError, match="refine: 'local-means' is in-memory only"):
        segment_am(img, refine="local-means")
    with pytest.raises(ValueError, match="particles: in-memory only"):
        closed_pores(img > 0, particles=np.ones(img.shape, np.int32))


def test_stage_refusals_and_defaults_come_from_segmentation() -> None:
    from microstructure.pipeline.builtin.segment import SegmentStage

    stage = SegmentStage()
    assert stage.chunked_refusals(SegmentStage.Params()) == []
    params = SegmentStage.Params(method="local", refine="local-means")
    keys = [r.split(":")[0] for r in stage.chunked_refusals(params)]
    assert keys == ["method", "refine"]
    defaults = inspect.signature(segmentation).parameters
    for name, field in SegmentStage.Params.model_fields.items():
        if name in defaults:
            assert field.default == defaults[name].default, name


def _grains(shape=(20, 40, 40), seed=3) -> np.ndarray:
    """Touching bright balls with small dark holes: particles for the watershed, closed pores."""
    rng = np.random.default_rng(seed)
    img = np.zeros(shape, np.float32)
    zz, yy, xx = np.indices(shape)
    for _ in range(14):
        c = rng.uniform(0, 1, 3) * np.array(shape)
        img[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < rng.uniform(25, 64)] = 1.0
    holes = rng.random(shape) < 0.002
    img[ndimage.binary_dilation(holes) & (img > 0)] = 0.0
    return img + rng.normal(0, 0.05, shape).astype(np.float32)


@pytest.mark.parametrize("per_particle", [False, True])
def test_chunked_particle_separation_equals_in_memory(per_particle) -> None:
    img, vs = _grains(), (30.0, 20.0, 20.0)
    kw = dict(voxel_size_nm=vs, method="otsu", separate_particles=True)
    kw.update(closed_pores_per_particle=per_particle)
    ref = segmentation(img, **kw)
    with dask.config.set(scheduler="synchronous"):
        got = segmentation(da.from_array(img, chunks=(6, -1, -1)), **kw)
    assert ref.particles.max() >= 3
    np.testing.assert_array_equal(got.particles, ref.particles)
    for key, col in ref.particle_table.items():
        np.testing.assert_array_equal(got.particle_table[key], col, err_msg=key)
    np.testing.assert_array_equal(np.asarray(got.am), ref.am)
    np.testing.assert_array_equal(np.asarray(got.closed), ref.closed)
    np.testing.assert_array_equal(got.closed_pore_voxels, ref.closed_pore_voxels)
    assert got.closed_pore_stats(vs) == ref.closed_pore_stats(vs)
    assert got.info == ref.info


def test_chunked_particle_separation_is_refused_before_work_when_it_cannot_fit(
    monkeypatch,
) -> None:
    calls = []
    monkeypatch.setattr("microstructure.parallel.support.memory_budget_bytes", lambda: 1000)
    monkeypatch.setattr(
        "microstructure.segment._chunked.segmentation_chunked",
        lambda *a, **k: calls.append(1),
    )
    img = da.from_array(_grains(), chunks=(6, -1, -1))
    with pytest.raises(ValueError, match="separate_particles: the particle watershed") as err:
        segmentation(img, voxel_size_nm=(30.0, 20.0, 20.0), separate_particles=True)
    assert "\n" not in str(err.value) and not calls
