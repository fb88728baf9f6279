"""Resumable writing of a lazy (Dask) volume to Zarr, block by block.

``dask.array.to_zarr`` writes every block again after an interruption. Here each block is
written by its own task into a Zarr store inside a work folder and then marked finished
(:class:`~microstructure.parallel.resume.ChunkLedger`), so a rerun with the same folder
computes and writes only the blocks without a marker. When all blocks are there, the store gets
its attributes and is renamed to the target: the target appears whole or not at all.

The pipeline runner writes the lazy result of a chunked stage this way into the stage's
``chunk_dir``, so an interrupted slab-wise stage (geometry, curtaining, denoise, align)
resumes at the first unfinished slab.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from microstructure.parallel.chunked import as_dask
from microstructure.parallel.resume import ChunkLedger, open_work_folder
from microstructure.volume import Volume

__all__ = ["write_volume_resumable"]

STORE = "store.zarr"
PHASE = "write"


def _write_block(block: np.ndarray, store: str, index: tuple[int, ...], chunks, root: str) -> int:
    import zarr

    region = tuple(
        slice(i * c, i * c + n) for i, c, n in zip(index, chunks, block.shape, strict=True)
    )
    zarr.open_array(store, mode="r+")[region] = block
    ChunkLedger(root, PHASE).mark(index)  # type: ignore[arg-type]
    return 1


def write_volume_resumable(
    path: str | os.PathLike, volume: Volume, *, resume_dir: str | os.PathLike
) -> tuple[Path, dict[str, int]]:
    """Write a (lazy) volume as ``.zarr`` at ``path``, resumably through ``resume_dir``.

    Parameters
    ----------
    path
        The target ``.zarr`` (must not exist; its folder must).
    volume
        The volume; its data a Dask (or numpy/Zarr) array. Blocks are the Dask chunks, made
        regular (the first chunk size along each axis) if they are not.
    resume_dir
        Work folder kept between attempts: the partial store and one marker per written
        block. A folder holding another shape, dtype or chunking is emptied first. The input
        itself is not hashed: reuse a folder only for the same volume.

    Returns
    -------
    (Path, dict)
        The target and ``{"blocks": total, "written": this call, "resumed": earlier}``.
    """
    import dask
    import zarr

    from microstructure.io.stacks import volume_attrs

    target = Path(path)
    if target.suffix.lower() != ".zarr":
        raise ValueError(f"{target}: write_volume_resumable writes .zarr only")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent}: output folder does not exist")
    if target.exists():
        raise ValueError(f"{target}: exists already; write_volume_resumable does not overwrite")
    arr = as_dask(volume.data)
    chunks = tuple(int(c[0]) for c in arr.chunks)
    arr = arr.rechunk(chunks)
    manifest = {"shape": [int(s) for s in arr.shape], "dtype": arr.dtype.str, "chunks": chunks}
    root, resumed = open_work_folder(resume_dir, manifest)
    store = root / STORE
    if not (resumed and store.is_dir()):
        if store.exists():
            shutil.rmtree(store)
        shutil.rmtree(root / PHASE, ignore_errors=True)
        zarr.create_array(str(store), shape=arr.shape, chunks=chunks, dtype=arr.dtype)
    ledger = ChunkLedger(root, PHASE)
    blocks = [tuple(int(i) for i in b) for b in np.ndindex(*arr.numblocks)]
    todo = ledger.todo(blocks)  # type: ignore[arg-type]
    parts = arr.to_delayed()
    tasks = [dask.delayed(_write_block)(parts[b], str(store), b, chunks, str(root)) for b in todo]
    dask.compute(*tasks)
    z = zarr.open_array(str(store), mode="r+")
    z.attrs.update(volume_attrs(volume))
    os.replace(store, target)
    shutil.rmtree(root, ignore_errors=True)
    return target, {"blocks": len(blocks), "written": len(todo), "resumed": len(blocks) - len(todo)}
