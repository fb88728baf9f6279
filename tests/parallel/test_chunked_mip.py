"""Chunked execution equals the in-memory result: slice-wise denoising, the capped distance
transform and the all-pressure MIP invasion radius, on local threads and on a
dask.distributed LocalCluster with two worker processes."""

from __future__ import annotations

import itertools
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from microstructure.io import read_volume
from microstructure.parallel import (
    dask_scheduler,
    distance_capped_nm,
)
from microstructure.porosimetry import _core, invasion_radius

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
VS = (20.0, 25.0, 25.0)


def assert_same_invasion(got: np.ndarray, ref: np.ndarray) -> None:
    """Same intruded voxels; radii equal to float32 rounding. The distance transform of a chunk
    can differ from the whole volume's in the last bit (the edt library's floating-point
    order depends on the block), which the flood and the painting carry through."""
    np.testing.assert_array_equal(got > 0, ref > 0)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0)


def spheres(shape=(30, 44, 38), n=30, seed=1, r=(3.0, 8.0)) -> np.ndarray:
    """Pore mask around overlapping solid spheres (porosity ~0.5-0.8)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    solid = np.zeros(shape, bool)
    for _ in range(n):
        c = rng.uniform(0, shape)
        rad = rng.uniform(*r)
        solid |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= rad * rad
    return ~solid


@pytest.fixture(scope="module")
def sample_pore() -> np.ndarray:
    labels = read_volume(SAMPLE / "truth_labels.tif").data
    return labels[:32, :64, :56] == 0  # CBD counted as solid: porosity ~0.3, tortuous


@pytest.mark.parametrize("chunks", [(8, 16, 16), 11])
def test_capped_distance_transform_is_exact(chunks) -> None:
    pore = spheres()
    cap = 90.0
    ref = np.minimum(_core.distance_nm(pore, VS), np.float32(cap))
    got = distance_capped_nm(pore, voxel_size_nm=VS, max_radius_nm=cap, chunks=chunks)
    np.testing.assert_allclose(got.compute(), ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("inlet", ["all", "top"])
def test_chunked_invasion_equals_in_memory_on_the_phantom(sample_pore, inlet) -> None:
    vs = (60.0, 60.0, 60.0)
    ref = invasion_radius(sample_pore, voxel_size_nm=vs, inlet=inlet)
    r_max = float(_core.distance_nm(sample_pore, vs).max()) + 1.0
    got = invasion_radius(
        da.from_array(sample_pore),
        voxel_size_nm=vs,
        inlet=inlet,
        max_radius_nm=r_max,
        chunks=(12, 20, 24),
    )
    assert ref.any()
    assert_same_invasion(got, ref)


def test_chunked_invasion_on_a_local_cluster_with_two_workers(cluster, tmp_path) -> None:
    pore = spheres(seed=3)
    ref = invasion_radius(pore, voxel_size_nm=VS, inlet="z-")
    r_max = float(_core.distance_nm(pore, VS).max()) + 1.0
    got = invasion_radius(
        da.from_array(pore),
        voxel_size_nm=VS,
        inlet="z-",
        max_radius_nm=r_max,
        chunks=16,
        work_dir=tmp_path,
        out_zarr=tmp_path / "inv.zarr",
    )
    assert_same_invasion(np.asarray(got[...]), ref)


def test_capped_radius_caps_the_invasion_radius() -> None:
    pore = spheres(seed=5)
    free = invasion_radius(da.from_array(pore), voxel_size_nm=VS, max_radius_nm=1e4, chunks=16)
    capped = invasion_radius(da.from_array(pore), voxel_size_nm=VS, max_radius_nm=60.0, chunks=16)
    # pores wider than the cap enter at the cap's pressure; none enters at a larger radius
    assert capped.max() <= 60.0 + 1e-4 and free.max() > 60.0
    np.testing.assert_array_equal(capped > 0, free > 0)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"max_radius_nm": -1.0}, "max_radius_nm"),
        ({"max_radius_nm": 50.0, "chunks": 1}, "chunks"),
        ({"max_radius_nm": 50.0, "inlet": "q+"}, "inlet"),
    ],
)
def test_bad_chunked_input_is_a_clear_error(kwargs, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        invasion_radius(da.from_array(spheres()), voxel_size_nm=VS, **kwargs)


def test_no_pore_on_the_inlet_face_is_a_clear_error() -> None:
    pore = spheres()
    pore[:, :, 0] = False
    with pytest.raises(ValueError, match="inlet"):
        invasion_radius(da.from_array(pore), voxel_size_nm=VS, inlet="x-", max_radius_nm=50.0)


def test_unknown_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="scheduler"):
        with dask_scheduler("fast"):
            pass


class Interrupt(RuntimeError):
    """Raised by the test hook to interrupt a chunked run deliberately."""


@pytest.mark.parametrize("phase, after", [("dt", 5), ("flood/0", 4), ("paint-inv", 7)])
def test_interrupted_chunked_run_resumes_without_recomputing_finished_chunks(
    tmp_path, phase, after
) -> None:
    from microstructure.parallel import set_chunk_hook

    pore = spheres(seed=7)
    ref = invasion_radius(pore, voxel_size_nm=VS, inlet="all")
    kwargs = dict(voxel_size_nm=VS, inlet="all", max_radius_nm=400.0, chunks=16)
    resume = tmp_path / "work"
    first: list[tuple[str, tuple]] = []

    def interrupt(ph: str, block: tuple) -> None:
        first.append((ph, block))
        if sum(p == phase for p, _ in first) == after:
            raise Interrupt(f"interrupted after {after} chunks of {phase}")

    old = set_chunk_hook(interrupt)
    try:
        with dask_scheduler("synchronous"), pytest.raises(Interrupt):
            invasion_radius(da.from_array(pore), resume_dir=resume, **kwargs)
        assert (resume / "manifest.json").is_file()  # the work folder survives the failure
        second: list[tuple[str, tuple]] = []
        set_chunk_hook(lambda ph, block: second.append((ph, block)))
        with dask_scheduler("synchronous"):
            got = invasion_radius(da.from_array(pore), resume_dir=resume, **kwargs)
    finally:
        set_chunk_hook(old)
    assert_same_invasion(got, ref)
    assert not resume.exists()  # removed after success
    n_blocks = 2 * 3 * 3  # (30, 44, 38) in chunks of 16
    done_before = {b for p, b in first if p == phase}
    redone = {b for p, b in second if p == phase}
    assert len(done_before) == after
    # exactly the unfinished chunks of the interrupted phase are computed again
    if phase == "flood/0":
        assert redone and not (redone & done_before) and len(redone) == n_blocks - after
    else:
        assert redone == {b for b in itertools.product(range(2), range(3), range(3))} - done_before
    # phases finished before the interruption are not touched again
    earlier = {"dt": ["mask"], "flood/0": ["mask", "dt"], "paint-inv": ["mask", "dt", "flood/0"]}
    for p in earlier[phase]:
        assert not [b for q, b in second if q == p], p


def test_resume_folder_of_other_arguments_is_cleared(tmp_path) -> None:
    pore = spheres(seed=7)
    resume = tmp_path / "work"
    resume.mkdir()
    (resume / "manifest.json").write_text('{"function": "something else"}')
    (resume / "dt").mkdir()  # stale work of another call
    got = invasion_radius(
        da.from_array(pore), voxel_size_nm=VS, max_radius_nm=400.0, chunks=16, resume_dir=resume
    )
    assert_same_invasion(got, invasion_radius(pore, voxel_size_nm=VS))
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("not ours")
    with pytest.raises(ValueError, match="resume_dir"):
        invasion_radius(
            da.from_array(pore), voxel_size_nm=VS, max_radius_nm=400.0, chunks=16, resume_dir=other
        )
