"""Resumable chunk-wise phases of the engine (private): work folders, mask, capped distance.

Every phase runs one Dask task per work chunk; a task reads what it needs (its chunk plus a
halo) from Zarr arrays in the work folder, writes its own chunk (Zarr chunks equal the work
chunks, so parallel writes never share a file and each write is atomic) and then marks the
chunk finished (:class:`~microstructure.parallel.resume.ChunkLedger`). Only unfinished chunks
are scheduled, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.tables import atomic_open
from microstructure.parallel.chunked import _edt_block, as_dask
from microstructure.parallel.resume import ChunkLedger, open_work_folder

Block = tuple[int, int, int]


def blocks_of(shape: tuple[int, ...], chunk: tuple[int, ...]) -> list[Block]:
    """All block indices of a chunk grid, in C order."""
    return list(  # type: ignore[arg-type]
        itertools.product(*(range(math.ceil(s / c)) for s, c in zip(shape, chunk, strict=True)))
    )


def box(block, chunk, shape, halo=(0, 0, 0)) -> tuple[list[int], list[int]]:
    """Lower and upper corner of a block grown by ``halo`` (clipped to the array)."""
    lo = [max(0, b * c - h) for b, c, h in zip(block, chunk, halo, strict=True)]
    hi = [min(s, (b + 1) * c + h) for b, c, s, h in zip(block, chunk, shape, halo, strict=True)]
    return lo, hi


def inner(lo, block, chunk, shape) -> tuple[slice, ...]:
    """Slices of the block's own region inside a box starting at ``lo``."""
    out = []
    for ax in range(3):
        a = block[ax] * chunk[ax]
        b = min(shape[ax], a + chunk[ax])
        out.append(slice(a - lo[ax], b - lo[ax]))
    return tuple(out)


def own(block, chunk, shape) -> tuple[slice, ...]:
    """Global slices of a block's own region."""
    return tuple(
        slice(b * c, min(s, (b + 1) * c)) for b, c, s in zip(block, chunk, shape, strict=True)
    )


def sl(lo, hi) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def neighbours(block, n_blocks) -> Iterator[Block]:
    for ax in range(3):
        for step in (-1, 1):
            nb = list(block)
            nb[ax] += step
            if 0 <= nb[ax] < n_blocks[ax]:
                yield tuple(nb)  # type: ignore[misc]


def parse_chunk(chunks: Any, shape: tuple[int, ...]) -> tuple[int, int, int]:
    chunk = (int(chunks),) * 3 if np.isscalar(chunks) else tuple(int(c) for c in chunks)
    if len(chunk) != 3 or min(chunk) < 2:
        raise ValueError(f"chunks: expected one or three sizes >= 2, got {chunks!r}")
    return tuple(min(c, s) for c, s in zip(chunk, shape, strict=True))  # type: ignore[return-value]


def create(root: Path, name: str, shape, chunk, dtype, fill: Any = 0) -> None:
    """Create the Zarr array ``root/name`` unless it exists (kept on resume)."""
    import zarr

    path = root / name
    if (path / "zarr.json").is_file():
        return
    from zarr.codecs import ZstdCodec

    # zstd level 1: as small as Zarr's default on these fields, about twice as fast to read
    # (sharding with half-edge inner chunks, to decode less of the halo, was measured no
    # faster: the distance and bottleneck fields compress well)
    zarr.create_array(
        str(path),
        shape=shape,
        chunks=chunk,
        dtype=dtype,
        fill_value=fill,
        overwrite=True,
        compressors=ZstdCodec(level=1),
    )


def run_tasks(tasks: list[Any]) -> list[Any]:
    """Compute a list of delayed tasks on the current Dask scheduler."""
    import dask

    return list(dask.compute(*tasks)) if tasks else []


@contextmanager
def work_folder(
    resume_dir: str | os.PathLike | None,
    work_dir: str | os.PathLike | None,
    manifest: dict[str, Any],
    prefix: str,
) -> Iterator[Path]:
    """The work folder: ``resume_dir`` (kept on failure, removed on success) or a temporary
    folder in ``work_dir`` (always removed)."""
    if resume_dir is None:
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    root, _ = open_work_folder(resume_dir, manifest)
    yield root
    shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------- phase: mask


def _mask_task(root: str, block: Block, chunk, shape, data: np.ndarray) -> None:
    import zarr

    z = zarr.open_array(str(Path(root) / "mask"), mode="r+")
    z[own(block, chunk, shape)] = np.asarray(data, dtype=bool)
    ChunkLedger(root, "mask").mark(block)


def phase_mask(root: Path, pore_mask: Any, chunk, shape) -> None:
    """Copy the (numpy, Zarr or Dask) pore mask chunk-wise into ``root/mask``."""
    import dask
    import zarr

    create(root, "mask", shape, chunk, "bool", False)
    ledger = ChunkLedger(root, "mask")
    todo = ledger.todo(blocks_of(shape, chunk))
    if not todo:
        return
    if isinstance(pore_mask, np.ndarray):
        # already in this process's memory: written here rather than shipped to workers
        # (a numpy array inside a Dask graph travels whole to the first worker)
        z = zarr.open_array(str(root / "mask"), mode="r+")
        for blk in todo:
            z[own(blk, chunk, shape)] = np.asarray(pore_mask[own(blk, chunk, shape)], bool)
            ledger.mark(blk)
        return
    arr = as_dask(pore_mask).rechunk(chunk)
    parts = arr.to_delayed()
    run_tasks([dask.delayed(_mask_task)(str(root), blk, chunk, shape, parts[blk]) for blk in todo])


# --------------------------------------------------------------------- phase: capped distance


def _save_npy(path: Path, values: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, values)


def _dt_task(root: str, block: Block, chunk, shape, spacing, cap: float, halo) -> None:
    import zarr

    r = Path(root)
    mask = zarr.open_array(str(r / "mask"), mode="r")
    lo, hi = box(block, chunk, shape, halo)
    d = _edt_block(np.asarray(mask[sl(lo, hi)]), spacing=spacing, cap=cap)
    d = np.ascontiguousarray(d[inner(lo, block, chunk, shape)])
    zarr.open_array(str(r / "dt"), mode="r+")[own(block, chunk, shape)] = d
    _save_npy(r / "levels" / ("_".join(map(str, block)) + ".npy"), np.unique(d[d > 0]))
    ChunkLedger(root, "dt").mark(block)


def phase_distance(root: Path, chunk, shape, spacing, cap: float, halo) -> np.ndarray:
    """Capped EDT (nm) per chunk with a halo into ``root/dt``; returns the global level set
    (the distinct positive distances, ascending float32)."""
    import dask

    create(root, "dt", shape, chunk, "float32", 0.0)
    (root / "levels").mkdir(exist_ok=True)
    blocks = blocks_of(shape, chunk)
    todo = ChunkLedger(root, "dt").todo(blocks)
    run_tasks(
        [dask.delayed(_dt_task)(str(root), blk, chunk, shape, spacing, cap, halo) for blk in todo]
    )
    parts = [np.load(root / "levels" / ("_".join(map(str, b)) + ".npy")) for b in blocks]
    levels = np.unique(np.concatenate([np.zeros(0, np.float32), *parts]))
    return levels.astype(np.float32)


def block_name(block: Block) -> str:
    return "_".join(str(int(b)) for b in block)


def finish(root: Path, name: str, out_zarr: str | os.PathLike | None) -> Any:
    """The result array ``root/name``: moved to ``out_zarr`` (returned opened read-only), or
    read into memory."""
    import zarr

    if out_zarr is None:
        return np.asarray(zarr.open_array(str(root / name), mode="r")[...])
    target = Path(out_zarr)
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    shutil.move(str(root / name), str(target))
    return zarr.open_array(str(target), mode="r")


def max_of(root: Path, name: str) -> float:
    import dask.array as da

    return float(da.from_zarr(str(root / name)).max().compute())


# ----------------------------------------------------------------------- labels and results


def check_labels_lazy(labels: Any, name: str = "labels") -> Any:
    """A (z, y, x) integer labels array: numpy stays numpy, Zarr becomes a Dask array."""
    lab = labels if isinstance(labels, np.ndarray) else as_dask(labels)
    if lab.dtype == np.bool_:  # a pore mask, True = pore (PoreSpy's convention): pore 0, AM 1
        lab = (~lab).astype(np.uint8)
    if lab.ndim != 3 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"{name}: expected a 3D integer array, got {lab.dtype} {lab.shape}")
    return lab


def pore_of_labels(lab: Any, pore_phases: Any) -> Any:
    """Boolean pore mask of a labels array (lookup table): numpy for numpy labels (computed
    here, not shipped to workers), else a lazy Dask array (per block)."""
    lut = np.zeros(256, dtype=bool)
    for p in pore_phases:
        if not 0 <= int(p) <= 255:
            raise ValueError(f"pore_phases: expected phase codes 0..255, got {p!r}")
        lut[int(p)] = True
    if isinstance(lab, np.ndarray):
        return lut[np.asarray(lab, dtype=np.uint8)]
    return lab.map_blocks(lambda b: lut[np.asarray(b, dtype=np.uint8)], dtype=bool)


def _bincount_block(block: Any) -> np.ndarray:
    return np.bincount(np.asarray(block, dtype=np.uint8).ravel(), minlength=256)


def phase_counts(lab: Any) -> np.ndarray:
    """Voxels of every label code 0..255 of a labels array (a Dask one block by block)."""
    import dask

    if isinstance(lab, np.ndarray):
        return _bincount_block(lab)
    parts = [dask.delayed(_bincount_block)(b) for b in lab.to_delayed().ravel()]
    return np.sum(run_tasks(parts), axis=0)


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def clear_folder(root: Path, keep: tuple[str, ...]) -> None:
    """Remove everything in ``root`` but the names in ``keep``."""
    for child in root.iterdir():
        if child.name in keep:
            continue
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
