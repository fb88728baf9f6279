"""Chunked slice alignment (``align_slices_report`` on a Dask array and the ``align`` stage's
chunked path): on a
jittered crop of the phantom's FIB/SEM stack the registration tasks per slab and the slab-wise
shift application give exactly the in-memory shifts, report and aligned stack, also on a
two-worker dask.distributed cluster and through ``run_pipeline`` with Zarr in between."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from microstructure.io import read_volume, write_volume
from microstructure.pipeline import parse_recipe
from microstructure.pipeline.runner import run_pipeline
from microstructure.preprocess import align_slices_report
from microstructure.volume import Volume

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"
JITTER_PX = np.array([[0.0, 0.0]] + [[1.7, -2.3], [-0.6, 1.1], [2.4, 0.4], [-1.9, -1.2]] * 5)


def _crop() -> np.ndarray:
    vol = read_volume(SAMPLE / "fibsem.tif")
    return np.asarray(vol.data[8:29, 40:112, 30:110], dtype=np.float32)


@pytest.fixture(scope="module")
def jittered() -> np.ndarray:
    """21 x 72 x 80 float32 slices of the phantom stack, each moved by a known jitter."""
    crop = _crop()
    return np.stack(
        [ndimage.shift(crop[k], JITTER_PX[k], order=3, mode="nearest") for k in range(21)]
    ).astype(np.float32)


def _equal_reports(got: dict, ref: dict) -> None:
    assert list(got) == list(ref)
    assert got == ref


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"keep_trend": False, "neighbors": 3, "refine": 1, "order": 1},
        {"roi": (8.0, 60.0, 10.0, 70.0), "trend_degree": 2},
    ],
)
def test_align_chunked_equals_in_memory(jittered, options) -> None:
    """Slabs of 2, 5 and 64 slices (registration tasks of >= 4 x neighbors slices): the same
    positions, report and aligned stack, bit for bit; and the jitter is found."""
    ref_a, ref_p, ref_i = align_slices_report(jittered, voxel_size_nm=(20, 10, 10), **options)
    for spc in (2, 5, 64):
        got_a, got_p, got_i = align_slices_report(
            da.from_array(jittered), voxel_size_nm=(20, 10, 10), chunks=spc, **options
        )
        assert got_a.chunks[0][0] == min(spc, 21)
        np.testing.assert_array_equal(got_p, ref_p)
        _equal_reports(got_i, ref_i)
        np.testing.assert_array_equal(np.asarray(got_a.compute()), ref_a)
    # the positions found are the applied jitter plus those of the unjittered stack (the
    # structure's own apparent slant), to a fraction of a pixel
    if not options:
        base = align_slices_report(_crop())[1]
        assert np.abs(ref_p - base - JITTER_PX).max() < 0.3


def test_align_chunked_on_a_cluster_with_a_mask(cluster, jittered) -> None:
    mask = np.zeros(jittered.shape[1:], dtype=bool)
    mask[4:-4, 6:-6] = True
    ref_a, ref_p, ref_i = align_slices_report(jittered, mask=mask)
    got_a, got_p, got_i = align_slices_report(
        da.from_array(jittered, chunks=(4, -1, -1)), mask=mask, chunks=3
    )
    np.testing.assert_array_equal(got_p, ref_p)
    _equal_reports(got_i, ref_i)
    np.testing.assert_array_equal(np.asarray(got_a.compute()), ref_a)


def test_align_chunked_rejects_what_in_memory_rejects(jittered) -> None:
    bad = jittered.copy()
    bad[3, 5, 5] = np.nan
    with pytest.raises(ValueError, match="stack: contains 1 NaN"):
        align_slices_report(da.from_array(bad))
    with pytest.raises(ValueError, match="neighbors: must be >= 1"):
        align_slices_report(da.from_array(jittered), neighbors=0)
    with pytest.raises(ValueError, match="slices_per_chunk"):
        align_slices_report(da.from_array(jittered), chunks=0)
    with pytest.raises(ValueError, match="3D"):
        align_slices_report(da.from_array(jittered[0]))


def test_align_stage_chunked_equals_in_memory_through_the_runner(
    cluster, jittered, tmp_path, monkeypatch
) -> None:
    """zarr_threshold_bytes = 0: geometry hands a Dask array to align, which runs chunked;
    the stored Zarr, the numbers and the shifts table equal the in-memory run; the figure's
    aligned reslice (computed from bands of rows) equals the in-memory one."""
    from microstructure.pipeline.builtin.preprocess_align import AlignStage
    from microstructure.preprocess._align_chunked import aligned_row

    path = tmp_path / "stack.tif"
    write_volume(path, Volume(jittered, (20.0, 10.0, 10.0), {"tilt_corrected": True}))

    def recipe(extra: dict) -> object:
        return parse_recipe(
            {
                "recipe": {"name": "align-chunked"},
                "stage": [
                    {"name": "geometry", "normalize": False},
                    {"name": "align", "refine": 2, **extra},
                ],
            }
        )

    ref = run_pipeline(recipe({}), path, tmp_path / "mem", progress=False)
    assert "chunked" not in ref["numbers"]["align"]
    seen: list[str] = []
    run = AlignStage.run

    def spy(self, volume, params, ctx):  # the stage receives the stored Zarr lazily
        seen.append(type(volume.data).__module__.split(".")[0])
        return run(self, volume, params, ctx)

    monkeypatch.setattr(AlignStage, "run", spy)
    got = run_pipeline(
        recipe({"chunks": 4}), path, tmp_path / "chk", progress=False, zarr_threshold_bytes=0
    )
    assert seen == ["dask"]
    num = dict(got["numbers"]["align"])
    assert num.pop("chunked") == {"slices_per_chunk": 4}
    assert num == ref["numbers"]["align"]
    mem, chk = tmp_path / "mem" / "02-align", tmp_path / "chk" / "02-align"
    aligned = read_volume(mem / "volume.tif").data
    np.testing.assert_array_equal(np.asarray(read_volume(chk / "volume.zarr").data), aligned)
    assert sorted(p.name for p in chk.glob("*.png")) == ["align.png", "align_shifts.png"]
    assert (chk / "shifts.csv").read_text() == (mem / "shifts.csv").read_text()
    # the reslice helper on its own, against the in-memory aligned stack
    for order in (1, 3):
        a_ref, _, i_ref = align_slices_report(jittered, refine=2, order=order)
        s = -np.asarray(i_ref["applied_shifts_px"])
        row = aligned_row(
            jittered, s, a_ref.shape[1] // 2, order=order, crop=i_ref["crop"], slices_per_chunk=5
        )
        np.testing.assert_allclose(row, a_ref[:, a_ref.shape[1] // 2, :], rtol=0, atol=1e-4)
    assert ref["numbers"]["align"]["crop"]["cropped"]


class Interrupt(RuntimeError):
    pass


def test_interrupted_chunked_align_stage_resumes_at_the_first_unwritten_slab(
    jittered, tmp_path, monkeypatch
) -> None:
    """Interrupted while the align stage's result is written (after 3 of its 6 slabs): the
    rerun neither runs geometry again nor registers again (the registration was kept in the
    stage's chunk folder) and writes only the 3 missing slabs; the result equals in memory."""
    from microstructure.parallel import dask_scheduler, set_chunk_hook
    from microstructure.preprocess import _align_passes as align_module

    path = tmp_path / "stack.tif"
    write_volume(path, Volume(jittered, (20.0, 10.0, 10.0), {"tilt_corrected": True}))
    recipe = parse_recipe(
        {
            "recipe": {"name": "align-resume"},
            "stage": [
                {"name": "geometry", "normalize": False, "chunks": 4},
                {"name": "align", "refine": 1, "chunks": 4},
            ],
        }
    )
    calls: list[str] = []

    def hook(phase: str, block: tuple) -> None:
        calls.append(phase)
        if calls.count("write") == 6 + 3:  # geometry's 6 slabs, then 3 of align's
            raise Interrupt("stop")

    out = tmp_path / "out"
    old = set_chunk_hook(hook)
    try:
        with dask_scheduler("synchronous"), pytest.raises(Interrupt):
            run_pipeline(recipe, path, out, progress=False, zarr_threshold_bytes=0)
        assert (out / ".02-align.chunks" / "align" / "registration.json").is_file()
        assert not (out / "02-align").exists()
        calls.clear()
        set_chunk_hook(lambda phase, block: calls.append(phase))

        def no_registration(*args: object, **kwargs: object) -> None:
            raise AssertionError("registered again")

        monkeypatch.setattr(align_module, "estimate_positions", no_registration)
        with dask_scheduler("synchronous"):
            report = run_pipeline(recipe, path, out, progress=False, zarr_threshold_bytes=0)
    finally:
        set_chunk_hook(old)
    assert calls == ["write"] * 3
    assert [s["status"] for s in report["stages"]] == ["cached", "computed"]
    monkeypatch.undo()
    ref, _, info = align_slices_report(jittered, refine=1, voxel_size_nm=(20, 10, 10))
    got = read_volume(out / "02-align" / "volume.zarr")
    np.testing.assert_array_equal(np.asarray(got.data), ref)
    assert got.voxel_size_nm == (20.0, 10.0, 10.0)
    for key in ("max_applied_shift_px", "total_drift_px", "crop", "passes"):
        assert report["numbers"]["align"][key] == info[key], key
    assert not (out / ".02-align.chunks").exists()
