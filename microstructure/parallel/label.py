"""Chunked connected-component labelling: per-chunk ``scipy.ndimage.label`` + a global merge.

The volume is never labelled as a whole. Every chunk of a (lazy, Dask) boolean mask is labelled
on its own; its component sizes, the labels on its six faces and the labels on the faces of the
volume are kept. Two local components of neighbouring chunks are the same global component when
two of their voxels are neighbours under the connectivity; those contacts only happen between
the boundary layers of chunks that share a face, an edge (18 and 26) or a corner (26 only), and
are found from the face layers (for an edge or a corner, a line or a voxel of them). The contact
graph is merged with ``scipy.sparse.csgraph.connected_components`` (a union-find), and every
local label gets a global id.

Global ids are numbered in the order of each component's first chunk (chunks in C order) and its
first local label there. For chunks of whole slices (only z split) that is the raster order of
each component's first voxel, so the labels equal ``scipy.ndimage.label`` of the whole volume
exactly; with chunks split along y or x as well they are the same components, numbered
differently.

The labels themselves are recomputed per chunk when they are needed (:meth:`ChunkedLabels.labels`,
:meth:`ChunkedLabels.select`): ``ndimage.label`` is deterministic, so a chunk gets the same
local labels every time and only small look-up tables (local label -> global id or a flag) go
into the task graph. Memory of a task: the chunk, its int32 labels and its face layers.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from microstructure.io.tables import atomic_open
from microstructure.parallel.chunked import as_dask

__all__ = ["ChunkedLabels", "label_chunked", "structure_of"]


def structure_of(connectivity: int) -> np.ndarray:
    """The 3x3x3 structuring element of connectivity 6, 18 or 26 (as ``segment.cleanup``)."""
    if connectivity == 26:
        return np.ones((3, 3, 3), dtype=bool)
    if connectivity == 18:
        return ndimage.generate_binary_structure(3, 2)
    if connectivity == 6:
        return ndimage.generate_binary_structure(3, 1)
    raise ValueError(f"connectivity: expected 6, 18 or 26, got {connectivity!r}")


def _label_block(block: np.ndarray, structure: np.ndarray) -> tuple[np.ndarray, int]:
    lab, n = ndimage.label(np.asarray(block, dtype=bool), structure=structure, output=np.int32)
    return lab, int(n)


#: the 13 neighbour directions whose first non-zero component is +1 (each chunk pair once)
_DIRECTIONS: tuple[tuple[int, int, int], ...] = tuple(
    d
    for d in itertools.product((-1, 0, 1), repeat=3)
    if any(d) and next(v for v in d if v != 0) == 1
)


def _summarize(
    block: np.ndarray,
    flags: np.ndarray | None,
    *,
    structure: np.ndarray,
    at_start: tuple[bool, bool, bool],
    at_end: tuple[bool, bool, bool],
) -> tuple[dict[str, Any], dict[tuple[int, int], np.ndarray]]:
    """Per-chunk labelling summary: (small part for the client, face layers for the merge)."""
    lab, n = _label_block(block, structure)
    sizes = np.bincount(lab.ravel(), minlength=n + 1).astype(np.int64)
    faces = {
        (ax, side): np.ascontiguousarray(lab.take(0 if side == 0 else -1, axis=ax))
        for ax in range(3)
        for side in (0, 1)
    }
    outer = [faces[(ax, 0)] for ax in range(3) if at_start[ax]]
    outer += [faces[(ax, 1)] for ax in range(3) if at_end[ax]]
    touch = (
        np.unique(np.concatenate([f.ravel() for f in outer])) if outer else np.zeros(0, np.int32)
    )
    touch = touch[touch > 0]
    flagged = None
    if flags is not None:
        flagged = np.unique(lab[np.asarray(flags, dtype=bool)])
        flagged = flagged[flagged > 0]
    return {"n": n, "sizes": sizes, "touch": touch, "flagged": flagged}, faces


def _summary_file(root: Path, phase: str, idx: tuple[int, ...]) -> Path:
    return root / phase / ("_".join(str(int(i)) for i in idx) + ".npz")


def _save_npz(path: Path, **arrays: Any) -> None:
    """Write an ``.npz`` atomically (temporary file renamed into place)."""
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _summarize_resumable(
    block: np.ndarray,
    flags: np.ndarray | None,
    *,
    root: str,
    phase: str,
    idx: tuple[int, int, int],
    **kwargs: Any,
) -> tuple[dict[str, Any], dict[tuple[int, int], np.ndarray]]:
    """:func:`_summarize`, saved to ``root/phase/Z_Y_X.npz`` and marked finished."""
    from microstructure.parallel.resume import ChunkLedger

    small, faces = _summarize(block, flags, **kwargs)
    arrays = {f"face_{ax}_{side}": f for (ax, side), f in faces.items()}
    arrays.update(n=np.int64(small["n"]), sizes=small["sizes"], touch=small["touch"])
    if small["flagged"] is not None:
        arrays["flagged"] = small["flagged"]
    _save_npz(_summary_file(Path(root), phase, idx), **arrays)
    ChunkLedger(root, phase).mark(idx)
    return small, faces


def _load_summary(
    path: str,
) -> tuple[dict[str, Any], dict[tuple[int, int], np.ndarray]]:
    """A chunk summary saved by :func:`_summarize_resumable`."""
    with np.load(path) as z:
        faces = {(ax, side): z[f"face_{ax}_{side}"] for ax in range(3) for side in (0, 1)}
        small = {
            "n": int(z["n"]),
            "sizes": z["sizes"],
            "touch": z["touch"],
            "flagged": z["flagged"] if "flagged" in z.files else None,
        }
    return small, faces


def _layer(
    faces: dict[tuple[int, int], np.ndarray], d: tuple[int, int, int], first: bool
) -> np.ndarray:
    """The boundary layer of a chunk towards its neighbour in direction ``d`` (``first``: the
    chunk is the one the direction starts from) as an array over the axes where ``d`` is 0."""
    axes = [a for a in range(3) if d[a] != 0]
    a0 = axes[0]  # d[a0] == +1
    arr = faces[(a0, 1 if first else 0)]
    rest = [a for a in range(3) if a != a0]  # the axes of arr, in order
    index: list[Any] = []
    for a in rest:
        if d[a] == 0:
            index.append(slice(None))
        else:  # +1: the chunk's high end if first, its low end if second; -1: the reverse
            high = (d[a] > 0) == first
            index.append(-1 if high else 0)
    return arr[tuple(index)]


def _contacts(
    faces_a: dict[tuple[int, int], np.ndarray],
    faces_b: dict[tuple[int, int], np.ndarray],
    *,
    d: tuple[int, int, int],
    structure: np.ndarray,
) -> np.ndarray:
    """Unique (local label in a, local label in b) pairs of neighbouring voxels, (k, 2) int64."""
    la = _layer(faces_a, d, True)
    lb = _layer(faces_b, d, False)
    base = int(lb.max(initial=0)) + 1
    free = [a for a in range(3) if d[a] == 0]
    found = []
    for o in itertools.product((-1, 0, 1), repeat=len(free)):
        off = list(d)
        for a, v in zip(free, o, strict=True):
            off[a] = v
        if not structure[off[0] + 1, off[1] + 1, off[2] + 1]:
            continue
        sa, sb = [], []
        for v, n in zip(o, la.shape, strict=True):
            sa.append(slice(max(0, -v), n - max(0, v)))
            sb.append(slice(max(0, v), n - max(0, -v)))
        a = la[tuple(sa)].ravel()
        b = lb[tuple(sb)].ravel()
        both = (a > 0) & (b > 0)
        if both.any():
            # one int64 key per pair: a 1D unique is much faster than unique(axis=0)
            found.append(a[both].astype(np.int64) * base + b[both])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    keys = np.unique(np.concatenate(found))
    return np.stack([keys // base, keys % base], axis=1)


def _select_block(
    block: np.ndarray, tables: tuple[np.ndarray, ...], *, structure: np.ndarray
) -> tuple[np.ndarray, ...]:
    lab, _ = _label_block(block, structure)
    return tuple(t[lab] for t in tables)


@dataclass
class ChunkedLabels:
    """Global connected components of a chunked boolean mask (see :func:`label_chunked`).

    Attributes
    ----------
    mask
        The labelled Dask mask (its chunks are the labelling chunks).
    connectivity
        6, 18 or 26.
    count
        Number of components.
    sizes
        int64 (count + 1,): voxels per global id; ``sizes[0]`` = voxels outside the mask.
    touches_boundary
        bool (count + 1,): the component has a voxel on a face of the volume (``[0]`` False).
    flagged
        bool (count + 1,) or None: the component holds a voxel of ``flags``.
    luts
        Per chunk (block index -> int array): local label -> global id (``lut[0] = 0``).
    """

    mask: Any
    connectivity: int
    count: int
    sizes: np.ndarray
    touches_boundary: np.ndarray
    flagged: np.ndarray | None
    luts: dict[tuple[int, ...], np.ndarray] = field(repr=False)

    def _per_block(self, tables: list[np.ndarray], dtypes: list[Any]) -> list[Any]:
        """Lazy arrays ``table[global id]`` of every voxel, one per table, from one labelling
        of each chunk."""
        import dask
        import dask.array as da

        blocks = self.mask.to_delayed(optimize_graph=False)
        structure = structure_of(self.connectivity)
        outs = [np.empty(blocks.shape, dtype=object) for _ in tables]
        for idx in np.ndindex(*blocks.shape):
            local = tuple(
                np.asarray(t)[self.luts[idx]].astype(dt, copy=False)
                for t, dt in zip(tables, dtypes, strict=True)
            )
            shape = tuple(c[i] for c, i in zip(self.mask.chunks, idx, strict=True))
            task = dask.delayed(_select_block, pure=True, nout=len(tables))(
                blocks[idx], local, structure=structure
            )
            for k, dt in enumerate(dtypes):
                outs[k][idx] = da.from_delayed(task[k], shape=shape, dtype=dt)
        return [da.block(o.tolist()) for o in outs]

    def labels(self, dtype: Any = None) -> Any:
        """Lazy global labels (0 outside the mask); int32 unless the count needs int64."""
        if dtype is None:
            dtype = np.int32 if self.count < 2**31 - 1 else np.int64
        return self._per_block([np.arange(self.count + 1)], [dtype])[0]

    def select(self, *keep: np.ndarray) -> Any:
        """Lazy bool mask of the voxels whose component has ``keep[global id]`` True
        (``keep[0]`` is ignored: voxels outside the mask are False). With several ``keep``
        arrays, a list of masks computed from one labelling of each chunk."""
        if not keep:
            raise ValueError("keep: give at least one array of shape (count + 1,)")
        tables = []
        for k in keep:
            k = np.asarray(k, dtype=bool).copy()
            if k.shape != (self.count + 1,):
                raise ValueError(f"keep: expected shape ({self.count + 1},), got {k.shape}")
            k[0] = False
            tables.append(k)
        out = self._per_block(tables, [bool] * len(tables))
        return out[0] if len(keep) == 1 else out


def label_chunked(
    mask: Any,
    *,
    connectivity: int = 26,
    flags: Any = None,
    chunks: Any = None,
    resume_dir: str | os.PathLike[str] | None = None,
    phase: str = "label",
) -> ChunkedLabels:
    """Connected components of a boolean (z, y, x) mask, chunk by chunk with a global merge.

    Parameters
    ----------
    mask
        Boolean (or 0/1) numpy, Zarr or Dask array.
    connectivity
        6 (faces), 18 (faces and edges) or 26 (faces, edges and corners), as
        ``scipy.ndimage.generate_binary_structure``.
    flags
        Optional boolean array of the same shape: :attr:`ChunkedLabels.flagged` then says which
        components hold a flagged voxel (hysteresis seeds).
    chunks
        Rechunk ``mask`` to these chunks first (default: its own).
    resume_dir, phase
        Optional existing work folder (see :mod:`microstructure.parallel.resume`): every
        chunk's summary is saved to ``resume_dir/phase/Z_Y_X.npz`` with a completion marker,
        and the merged result to ``resume_dir/phase/result.npz``; a repeated call with the same
        folder, mask and options loads them instead of labelling again. The caller keeps the
        folder specific to its input (the data is not hashed).

    Returns
    -------
    ChunkedLabels
        Counts, sizes, boundary contact and look-up tables; computed now (one pass over the
        chunks on the current Dask scheduler); the labels themselves stay lazy.
    """
    import dask

    structure = structure_of(connectivity)
    arr, fl = _prepare(mask, flags, chunks)
    grid = arr.numblocks
    root = None
    if resume_dir is not None:
        root = Path(resume_dir)
        result = root / phase / "result.npz"
        if result.is_file():
            return _load_result(result, arr, connectivity, grid)
    small, faces = _summary_tasks(arr, fl, structure, root, phase)
    pairs = _contact_tasks(faces, grid, structure)
    order = list(np.ndindex(*grid))
    got_small, got_pairs = dask.compute([small[i] for i in order], [p[2] for p in pairs])
    info = dict(zip(order, got_small, strict=True))
    offset, final = _merge(info, order, pairs, got_pairs)
    count = int(final.max()) if final.size > 1 else 0
    sizes, touches, flagged, luts = _global_tables(info, order, offset, final, count, fl)
    if root is not None:
        extra = {"flagged": flagged} if flagged is not None else {}
        _save_npz(
            root / phase / "result.npz",
            count=np.int64(count),
            sizes=sizes,
            touches=touches,
            lut_lengths=np.array([luts[i].size for i in order], dtype=np.int64),
            luts=np.concatenate([luts[i] for i in order]),
            **extra,
        )
    return ChunkedLabels(
        mask=arr,
        connectivity=int(connectivity),
        count=count,
        sizes=sizes,
        touches_boundary=touches,
        flagged=flagged,
        luts=luts,
    )


def _prepare(mask: Any, flags: Any, chunks: Any) -> tuple[Any, Any]:
    """The mask as a bool Dask array (rechunked to ``chunks``) and the flags in its chunks."""
    arr = as_dask(mask, chunks)
    if arr.ndim != 3:
        raise ValueError(f"mask: expected a 3D (z, y, x) array, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        arr = arr.astype(bool)
    fl = None
    if flags is not None:
        fl = as_dask(flags)
        if fl.shape != arr.shape:
            raise ValueError(f"flags: shape {fl.shape} does not match the mask shape {arr.shape}")
        fl = fl.astype(bool).rechunk(arr.chunks)
    return arr, fl


def _summary_tasks(
    arr: Any, fl: Any, structure: np.ndarray, root: Path | None, phase: str
) -> tuple[dict[tuple[int, ...], Any], dict[tuple[int, ...], Any]]:
    """Delayed per-chunk summaries (small part, face layers) by block index; with a work
    folder, finished chunks are loaded and the others saved as they finish."""
    import dask

    grid = arr.numblocks
    ledger = None
    if root is not None:
        from microstructure.parallel.resume import ChunkLedger

        ledger = ChunkLedger(root, phase)
    blocks = arr.to_delayed(optimize_graph=False)
    fblocks = fl.to_delayed(optimize_graph=False) if fl is not None else None
    small, faces = {}, {}
    for idx in np.ndindex(*grid):
        kw: dict[str, Any] = dict(
            structure=structure,
            at_start=tuple(i == 0 for i in idx),
            at_end=tuple(i == g - 1 for i, g in zip(idx, grid, strict=True)),
        )
        fb = fblocks[idx] if fblocks is not None else None
        if ledger is None:
            s, f = dask.delayed(_summarize, nout=2, pure=True)(blocks[idx], fb, **kw)
        elif ledger.done(idx):
            path = str(_summary_file(root, phase, idx))  # type: ignore[arg-type]
            s, f = dask.delayed(_load_summary, nout=2, pure=True)(path)
        else:
            s, f = dask.delayed(_summarize_resumable, nout=2, pure=True)(
                blocks[idx], fb, root=str(root), phase=phase, idx=idx, **kw
            )
        small[idx], faces[idx] = s, f
    return small, faces


def _contact_tasks(
    faces: dict[tuple[int, ...], Any], grid: tuple[int, ...], structure: np.ndarray
) -> list[tuple[tuple[int, ...], tuple[int, ...], Any]]:
    """(chunk a, neighbour b, delayed contact pairs) for every neighbouring chunk pair whose
    direction the connectivity joins."""
    import dask

    pairs = []
    for idx in np.ndindex(*grid):
        for d in _DIRECTIONS:
            nb = tuple(i + v for i, v in zip(idx, d, strict=True))
            if not all(0 <= i < g for i, g in zip(nb, grid, strict=True)):
                continue
            if not structure[d[0] + 1, d[1] + 1, d[2] + 1]:
                continue  # e.g. edge/corner neighbours under 6-connectivity
            task = dask.delayed(_contacts, pure=True)(
                faces[idx], faces[nb], d=d, structure=structure
            )
            pairs.append((idx, nb, task))
    return pairs


def _merge(
    info: dict[tuple[int, ...], dict[str, Any]],
    order: list[tuple[int, ...]],
    pairs: list[tuple[tuple[int, ...], tuple[int, ...], Any]],
    got_pairs: list[np.ndarray],
) -> tuple[dict[tuple[int, ...], int], np.ndarray]:
    """Global node offset of each chunk and the global id of every node (0 = background),
    numbered by each component's first node (first chunk, first local label there)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # global node ids: 0 background, then the local labels of the chunks in C order
    offset, start = {}, 1
    for idx in order:
        offset[idx] = start
        start += info[idx]["n"]
    n_nodes = start
    rows = [np.zeros(0, np.int64)]
    cols = [np.zeros(0, np.int64)]
    for (a, b, _), pr in zip(pairs, got_pairs, strict=True):
        if pr.size:
            rows.append(pr[:, 0] + (offset[a] - 1))
            cols.append(pr[:, 1] + (offset[b] - 1))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n_nodes, n_nodes))
    _, comp = connected_components(graph.tocsr(), directed=False)
    final = np.zeros(n_nodes, dtype=np.int64)
    if n_nodes > 1:
        uniq, first = np.unique(comp[1:], return_index=True)
        rank = np.empty(uniq.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(1, uniq.size + 1)
        final[1:] = rank[np.searchsorted(uniq, comp[1:])]
    return offset, final


def _global_tables(
    info: dict[tuple[int, ...], dict[str, Any]],
    order: list[tuple[int, ...]],
    offset: dict[tuple[int, ...], int],
    final: np.ndarray,
    count: int,
    fl: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[tuple[int, ...], np.ndarray]]:
    """Sizes, boundary contact and flags per global id, and each chunk's look-up table."""
    sizes = np.zeros(count + 1, dtype=np.int64)
    touches = np.zeros(count + 1, dtype=bool)
    flagged = np.zeros(count + 1, dtype=bool) if fl is not None else None
    luts = {}
    for idx in order:
        s = info[idx]
        lut = np.zeros(s["n"] + 1, dtype=np.int64)
        lut[1:] = final[offset[idx] : offset[idx] + s["n"]]
        luts[idx] = lut
        sizes[0] += s["sizes"][0]
        np.add.at(sizes, lut[1:], s["sizes"][1:])
        touches[lut[s["touch"]]] = True
        if flagged is not None:
            flagged[lut[s["flagged"]]] = True
    touches[0] = False
    if flagged is not None:
        flagged[0] = False
    return sizes, touches, flagged, luts


def _load_result(path: Path, arr: Any, connectivity: int, grid: tuple[int, ...]) -> ChunkedLabels:
    """The merged result saved by :func:`label_chunked` with a ``resume_dir``."""
    with np.load(path) as z:
        order = list(np.ndindex(*grid))
        lengths = z["lut_lengths"]
        if lengths.size != len(order):
            raise ValueError(f"resume_dir: {path} was written for another chunk grid")
        parts = np.split(z["luts"], np.cumsum(lengths)[:-1])
        return ChunkedLabels(
            mask=arr,
            connectivity=int(connectivity),
            count=int(z["count"]),
            sizes=z["sizes"],
            touches_boundary=z["touches"],
            flagged=z["flagged"] if "flagged" in z.files else None,
            luts=dict(zip(order, parts, strict=True)),
        )
