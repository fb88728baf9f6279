"""Worker memory limits: ``dask_scheduler`` makes the limit of one worker known (given for a
local scheduler, read from the cluster for ``local`` and addresses), the chunked stages size
their slabs so that one task fits it and refuse a ``chunks`` option or a halo that cannot fit;
``microstructure run --scheduler local --workers --memory-limit --zarr-threshold``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from microstructure.cli import main
from microstructure.io import read_volume, write_volume
from microstructure.parallel import dask_scheduler
from microstructure.parallel.scheduler import (
    PAUSE_FRACTION,
    WORKER_BASE_BYTES,
    task_budget_bytes,
    worker_memory_bytes,
)
from microstructure.pipeline.builtin.preprocess import chunked_slices
from microstructure.pipeline.stages import StageContext
from microstructure.volume import Volume

MIB = 2**20
SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "phantom"


def test_local_scheduler_memory_limit_is_the_task_budget() -> None:
    with dask_scheduler("threads", memory_limit="1GiB"):
        assert worker_memory_bytes() == 2**30
        assert task_budget_bytes() == int(PAUSE_FRACTION * 2**30) - WORKER_BASE_BYTES
    with pytest.raises(ValueError, match="memory_limit: expected a size"):
        with dask_scheduler("threads", memory_limit="lots"):
            pass
    with pytest.raises(ValueError, match="workers: the number of worker processes"):
        with dask_scheduler("threads", workers=2):
            pass


def test_cluster_workers_limit_is_read_from_the_cluster(cluster) -> None:
    """The session's LocalCluster has 1 GiB workers; inside its dask_scheduler block the
    limit is known without being given."""
    from microstructure.parallel.scheduler import _smallest

    assert _smallest(cluster) == 2**30


def _volume(nz: int, ny: int, nx: int) -> Volume:
    """chunked_slices reads only the shape and the size."""
    return Volume(np.zeros((nz, ny, nx), np.float32), (10.0, 10.0, 10.0))


def test_slabs_are_sized_to_fit_a_task_into_a_worker(tmp_path) -> None:
    """512 x 512 float32 slices (1 MiB): with a 600 MiB worker a task may use
    0.8 x 600 - 300 = 180 MiB; denoise (~4 copies) fits 45 slices, fewer than the automatic
    64 MiB slab of 64 slices; curtaining's robust method (8 copies, a z halo of 4 on each
    side) fits 22 - 8 = 14 output slices; its halo alone does not fit 400 MiB workers."""
    vol = _volume(80, 512, 512)
    ctx = StageContext(work_dir=tmp_path, zarr_threshold_bytes=0)
    assert chunked_slices(vol, None, ctx, copies=4.0) == 64  # no limit known
    with dask_scheduler("threads", memory_limit="600MiB"):
        budget = task_budget_bytes()
        assert budget == int(0.8 * 600 * MIB) - 300 * MIB
        assert chunked_slices(vol, None, ctx, copies=4.0) == budget // (4 * MIB) == 45
        assert chunked_slices(vol, None, ctx, copies=8.0, halo=4, min_slab=4) == 22 - 8
        assert chunked_slices(vol, 10, ctx, copies=8.0, halo=4, min_slab=4) == 10
        with pytest.raises(ValueError, match=r"chunks: slabs of 20 slices .* use chunks <= 14"):
            chunked_slices(vol, 20, ctx, stage="curtaining", copies=8.0, halo=4, min_slab=4)
    with dask_scheduler("threads", memory_limit="400MiB"):
        with pytest.raises(ValueError, match=r"curtaining: one task needs about 96 MiB") as err:
            chunked_slices(vol, None, ctx, stage="curtaining", copies=8.0, halo=4, min_slab=4)
        assert "\n" not in str(err.value)
    # below the runner's threshold and without a chunks option: in memory, limit or not
    small = StageContext(work_dir=tmp_path, zarr_threshold_bytes=2**40)
    with dask_scheduler("threads", memory_limit="400MiB"):
        assert chunked_slices(vol, None, small, copies=8.0, halo=4) is None


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_on_a_local_cluster_with_limited_workers_and_zarr_on_request(
    tmp_path, capsys
) -> None:
    """``--zarr-threshold 0`` stores every stage volume as Zarr and runs geometry and denoise
    chunked on a one-worker LocalCluster limited to 1 GiB; the result equals the in-memory
    run of the same recipe."""
    vol = read_volume(SAMPLE / "fibsem.tif")
    stack = tmp_path / "stack.tif"
    data = np.ascontiguousarray(vol.data[20:36, 50:98, 40:96])
    write_volume(stack, Volume(data, vol.voxel_size_nm, {"tilt_corrected": False}))
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[recipe]\nname = "limits"\n\n[[stage]]\nname = "geometry"\n'
        'tilt_correction = "always"\nangle_deg = 52.0\n\n'
        '[[stage]]\nname = "denoise"\npatch_distance = 2\n'
    )
    code, _, err = _cli(capsys, "run", str(recipe), "--input", str(stack), "--out",
                        str(tmp_path / "mem"), "--no-progress", "--json")
    assert code == 0, err
    code, out, err = _cli(
        capsys, "run", str(recipe), "--input", str(stack), "--out", str(tmp_path / "chk"),
        "--no-progress", "--json", "--scheduler", "local", "--workers", "1",
        "--memory-limit", "1GiB", "--zarr-threshold", "0",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["numbers"]["denoise"]["chunked"]["slices_per_chunk"] >= 1
    got = read_volume(tmp_path / "chk" / "02-denoise" / "volume.zarr").data
    ref = read_volume(tmp_path / "mem" / "02-denoise" / "volume.tif").data
    np.testing.assert_array_equal(np.asarray(got), ref)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--zarr-threshold", "huge"], "--zarr-threshold: expected a size"),
        (["--workers", "2"], "workers: the number of worker processes of scheduler 'local'"),
        (["--memory-limit", "-5"], "memory_limit"),
    ],
)
def test_bad_scheduler_options_are_one_line_errors(tmp_path, capsys, extra, needle) -> None:
    np.save(tmp_path / "labels.npy", np.ones((3, 3, 3), np.uint8))
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "porosity"\n')
    code, out, err = _cli(
        capsys, "run", str(tmp_path / "r.toml"), "--input", str(tmp_path / "labels.npy"),
        "--out", str(tmp_path / "out"), *extra,
    )  # fmt: skip
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err


def _worker_env() -> tuple[str | None, str | None]:
    import os

    return os.environ.get("MALLOC_MMAP_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


def test_local_cluster_workers_are_limited_and_keep_a_fixed_mmap_threshold() -> None:
    """``local``: one-thread workers with the given limit, and glibc's mmap threshold fixed at
    64 MiB (the nanny's MALLOC_TRIM_THRESHOLD_ alone makes every large array a fresh mmap)."""
    with dask_scheduler("local", workers=1, memory_limit="900MiB") as client:
        assert worker_memory_bytes() == 900 * MIB
        info = client.scheduler_info()["workers"]
        assert [w["nthreads"] for w in info.values()] == [1]
        assert list(client.run(_worker_env).values()) == [(str(64 * MIB), "1")]
    assert worker_memory_bytes() is None or worker_memory_bytes() != 900 * MIB
