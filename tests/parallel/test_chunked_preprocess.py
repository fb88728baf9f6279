"""Chunked execution equals the in-memory result: slice-wise denoising, the capped distance
transform and the all-pressure MIP invasion radius, on local threads and on a
dask.distributed LocalCluster with two worker processes."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np

from microstructure.io import read_volume
from microstructure.parallel import map_slices
from microstructure.preprocess import curtaining_z_halo

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
VS = (20.0, 25.0, 25.0)


def test_slicewise_denoise_chunked_equals_in_memory() -> None:
    from microstructure.preprocess import denoise_nl_means
    from microstructure.preprocess.denoise import estimate_noise_sigma

    stack = read_volume(SAMPLE / "fibsem.tif").data[:9, :64, :64]
    sigma = estimate_noise_sigma(stack)  # a global parameter is fixed before chunking
    ref = denoise_nl_means(stack, mode="slices", sigma=sigma)
    got = denoise_nl_means(da.from_array(stack), chunks=4, mode="slices", sigma=sigma)
    np.testing.assert_array_equal(got.compute(), ref)


def test_curtaining_chunked_with_a_z_halo_equals_in_memory() -> None:
    from microstructure.preprocess import remove_curtaining

    stack = read_volume(SAMPLE / "fibsem.tif").data[:30, :64, :64]
    ref = remove_curtaining(stack, z_window=5, iterations=3)
    halo = curtaining_z_halo(5, 3)
    assert halo == 6
    got = remove_curtaining(da.from_array(stack), chunks=7, z_window=5, iterations=3)
    np.testing.assert_array_equal(got.compute(), ref)


def test_curtaining_z_halo_is_exact_at_the_default_passes_and_no_smaller_halo_is() -> None:
    """The helper's default number of passes is remove_curtaining's (4): with its halo the
    chunked result is bit-identical, with one slice less it is not (the halo is needed)."""
    import inspect

    from microstructure.preprocess import remove_curtaining

    default = inspect.signature(remove_curtaining).parameters["iterations"].default
    assert inspect.signature(curtaining_z_halo).parameters["iterations"].default == default
    stack = read_volume(SAMPLE / "fibsem.tif").data[:24, :48, :48]
    ref = remove_curtaining(stack, z_window=3)
    halo = curtaining_z_halo(3)
    assert halo == default * (3 // 2)
    for z_halo, exact in ((halo, True), (halo - 1, False)):
        got = map_slices(remove_curtaining, stack, slices_per_chunk=6, z_halo=z_halo, z_window=3)
        assert np.array_equal(got.compute(scheduler="synchronous"), ref) is exact, z_halo


def test_tilted_curtains_chunked_equals_in_memory_with_the_same_report() -> None:
    """The curtain tilt is estimated once (on the sample slices) and fixed before slabbing:
    the sheared estimate and the report are the same on both paths."""
    from microstructure.preprocess import remove_curtaining_report
    from microstructure.preprocess._curtain_synth import synthetic_curtains

    stack = synthetic_curtains((20, 96, 96), angle_deg=2.5, seed=4).image
    ref, info = remove_curtaining_report(stack, z_window=5, iterations=2)
    assert info["angle_deg"] != 0.0
    got, cinfo = remove_curtaining_report(
        da.from_array(stack, chunks=(5, 96, 96)), z_window=5, iterations=2
    )
    np.testing.assert_array_equal(got.compute(), ref)
    for key in ("angle_deg", "stripe_energy_left_fraction", "energy_changed_outside_wedge"):
        assert cinfo[key] == info[key], key
    assert cinfo["quality"] == info["quality"]
