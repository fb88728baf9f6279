"""Chunked geometry, curtaining and granulometry on a dask.distributed LocalCluster (two worker
processes) equal the in-memory results on the phantom: bit-identical for the slice-wise
stages, local thickness to float32 rounding with the same pore voxels, the same PSD curve."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.porosimetry import granulometry, local_thickness

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
VS = (20.0, 25.0, 25.0)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return read_volume(SAMPLE / "truth_labels.tif").data[:32, :64, :56]


def test_chunked_granulometry_equals_in_memory_on_a_cluster(cluster, labels, tmp_path):
    ref = granulometry(labels, voxel_size_nm=VS)
    got = granulometry(
        da.from_array(labels),
        voxel_size_nm=VS,
        max_radius_nm=1e4,
        chunks=(12, 24, 20),
        out_zarr=tmp_path / "lt.zarr",
    )
    lt = np.asarray(got.local_thickness_nm[...])
    np.testing.assert_array_equal(lt > 0, ref.local_thickness_nm > 0)
    np.testing.assert_allclose(lt, ref.local_thickness_nm, rtol=1e-6, atol=0)
    assert got.porosity == ref.porosity
    for col in ("diameter_nm", "saturation", "intruded_fraction"):
        np.testing.assert_allclose(getattr(got.curve, col), getattr(ref.curve, col), rtol=1e-6)
    assert got.d_values() == pytest.approx(ref.d_values(), rel=1e-6)


def test_capped_local_thickness_never_exceeds_the_cap(labels):
    pore = (labels == 0) | (labels == 3)
    free = local_thickness(pore, voxel_size_nm=VS)
    cap = 0.5 * float(free.max())
    got = local_thickness(da.from_array(pore), voxel_size_nm=VS, max_radius_nm=cap, chunks=16)
    assert got.max() <= cap * (1 + 1e-6) and free.max() > cap
    np.testing.assert_array_equal(got > 0, pore)
    # where the pore is narrower than the cap, nothing changes
    narrow = free < 0.5 * cap
    np.testing.assert_allclose(got[narrow], free[narrow], rtol=1e-6)
