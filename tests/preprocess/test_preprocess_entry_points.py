"""One public function per preprocessing algorithm: numpy in -> numpy out, Dask in -> lazy out
with the same numbers; what cannot run chunked is declared on the function and the stages
answer ``chunked_refusals`` from it; the stage models read their defaults from the functions."""

from __future__ import annotations

import inspect
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.parallel.support import chunked_refusals
from microstructure.pipeline.stages import get_stage
from microstructure.preprocess import (
    align_slices,
    correct_tilt,
    denoise_nl_means,
    normalize_intensity,
    remove_curtaining,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    return np.ascontiguousarray(read_volume(SAMPLE / "fibsem.tif").data[:10, :40, :48])


@pytest.mark.parametrize(
    ("func", "kwargs"),
    [
        (correct_tilt, {}),
        (normalize_intensity, {"background_sigma_px": 6.0}),
        (remove_curtaining, {"z_window": 3, "iterations": 2, "length_px": 16}),
        (denoise_nl_means, {"sigma": 5.0, "patch_distance": 2}),
    ],
)
def test_numpy_dask_and_numpy_with_chunks_give_the_same_numbers(stack, func, kwargs) -> None:
    ref = func(stack, **kwargs)
    lazy = func(da.from_array(stack, chunks=(3, -1, -1)), **kwargs)
    assert hasattr(lazy, "compute")
    np.testing.assert_array_equal(np.asarray(lazy.compute()), ref)
    eager = func(stack, chunks=4, **kwargs)
    assert isinstance(eager, np.ndarray)
    np.testing.assert_array_equal(eager, ref)


def test_align_slices_on_dask_is_lazy_and_equal(stack) -> None:
    ref, shifts = align_slices(stack, neighbors=2, refine=0)
    got, got_shifts = align_slices(da.from_array(stack), neighbors=2, refine=0, chunks=4)
    np.testing.assert_array_equal(got_shifts, shifts)
    np.testing.assert_array_equal(np.asarray(got.compute()), ref)


def test_refused_options_are_declared_once_and_raised_on_dask(stack) -> None:
    assert chunked_refusals(remove_curtaining, {"log_transform": False}) == []
    with pytest.raises(ValueError, match="log_transform: in-memory only") as err:
        remove_curtaining(da.from_array(stack), log_transform=True)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="mode: in-memory only"):
        denoise_nl_means(da.from_array(stack), mode="3d")
    curt, den = get_stage("curtaining"), get_stage("denoise")
    assert (
        curt()
        .chunked_refusals(curt.Params(log_transform=True))[0]
        .startswith("log_transform: in-memory only")
    )
    assert den().chunked_refusals(den.Params(mode="3d"))[0].startswith("mode: in-memory only")
    for name in ("geometry", "curtaining", "denoise", "align"):
        stage = get_stage(name)
        assert stage().chunked_refusals(stage.Params()) == [], name


@pytest.mark.parametrize(
    ("stage", "func"),
    [("align", align_slices), ("curtaining", remove_curtaining), ("denoise", denoise_nl_means)],
)
def test_stage_defaults_are_the_functions(stage, func) -> None:
    params = get_stage(stage).Params()
    sig = inspect.signature(func).parameters
    for key, value in params.model_dump().items():
        if key in sig:
            default = sig[key].default
            if isinstance(default, tuple):
                default = list(default)
            assert value == default, key
