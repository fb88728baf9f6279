"""Chunked phases of the porosimetry algorithms (private): ball painting and bottleneck flood.

The engine (:mod:`microstructure.parallel._work`) copies the pore mask and computes the capped
distance transform chunk by chunk into a resumable work folder; the two phases here are the
porosimetry-specific ones, each one Dask task per work chunk reading its chunk plus a halo
from Zarr arrays of the work folder and marking the chunk finished
(:class:`~microstructure.parallel.resume.ChunkLedger`), so an interrupted run resumes at the
first unfinished chunk:

- **painting** (``dst = max over open balls of src``), exact per chunk with an overlap of the
  largest radius painted (every ball that reaches a chunk has its centre in the grown chunk);
- **bottleneck flood** across chunks by relaxation: every pass floods each chunk from its own
  inlet voxels and from the one-voxel halo of its neighbours' current values; values only grow
  and each one is a lower bound, so the passes converge to the exact maximin field (the least
  fixed point of ``b(x) = min(d(x), max_neighbour b)``, Hilpert and Miller 2001). A pass only
  revisits chunks next to a boundary layer that changed.

References
----------
Hilpert, M. and Miller, C. T. (2001). Pore-morphology-based simulation of drainage in totally
wetting porous media. Advances in Water Resources 24, 243-255.
doi:10.1016/S0309-1708(00)00056-7
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.parallel import _work as W
from microstructure.parallel.resume import ChunkLedger, read_state, write_state
from microstructure.porosimetry import _core
from microstructure.porosimetry import _kernels as K

Block = tuple[int, int, int]

# ------------------------------------------------------------------------------ painting


def paint_one_thread(field: np.ndarray, spacing, levels: np.ndarray) -> np.ndarray:
    """:func:`microstructure.porosimetry._core.paint` on one thread: a chunk task is one unit
    of Dask's parallelism (as many run at once as the scheduler has threads or workers), so
    kernels inside it must not start threads of their own (oversubscription)."""
    field = np.ascontiguousarray(field, dtype=np.float32)
    wz, wy, wx = (float(v) for v in spacing)
    table = K.containment_table(levels, wz, wy, wx, K.BALL_TOL, _core.TABLE_POINTS)
    centres = K.select_centres(field, levels, table, wz, wy, wx, K.BALL_TOL, 1)
    slabs = max(1, min(field.shape[0], 8))  # as _core.paint with one thread
    return K.paint_max_balls(
        field, centres, levels, wz, wy, wx, K.BALL_TOL, slabs, _core.PROFILE_BUDGET, 1
    )


def save_counts(root: Path, name: str, block: Block, values: np.ndarray) -> None:
    """Distinct ``values`` of a chunk and their voxel counts, saved as ``root/name/Z_Y_X.npz``."""
    vals, counts = np.unique(values, return_counts=True)
    (root / name).mkdir(exist_ok=True)
    W.save_npz_atomic(
        root / name / (W.block_name(block) + ".npz"), {"values": vals, "counts": counts}
    )


def _paint_task(
    root: str,
    src: str,
    dst: str,
    phase: str,
    block: Block,
    chunk,
    shape,
    spacing,
    levels,
    halo,
    steps=None,
    count: bool = False,
) -> None:
    import zarr

    r = Path(root)
    lo, hi = W.box(block, chunk, shape, halo)
    f = np.asarray(zarr.open_array(str(r / src), mode="r")[W.sl(lo, hi)])
    if steps is not None:
        # floored to the discrete radius list first (elementwise: the box of the quantized
        # field is the quantized box), painted at those radii, as in memory
        f = _core.quantize(f, steps)
    ins = W.inner(lo, block, chunk, shape)
    out = paint_one_thread(f, spacing, levels)[ins] if f.any() else np.zeros_like(f[ins])
    own_sl = W.own(block, chunk, shape)
    zarr.open_array(str(r / dst), mode="r+")[own_sl] = out
    if count:
        # the distribution of the painted values over the pore voxels of the chunk, so the
        # curve never needs the whole volume (zeros included: pore voxels never reached)
        pore = np.asarray(zarr.open_array(str(r / "mask"), mode="r")[own_sl])
        save_counts(r, f"counts-{dst}", block, out[pore])
    ChunkLedger(root, phase).mark(block)


def phase_paint(
    root: Path,
    src: str,
    dst: str,
    chunk,
    shape,
    spacing,
    levels,
    halo,
    *,
    steps: np.ndarray | None = None,
    count: bool = False,
) -> None:
    """``dst = max over balls of src`` (open balls, exact) per chunk with a halo.

    With ``steps`` the source is floored to that radius list first (and ``levels`` should be
    ``steps``); with ``count`` every chunk also saves the distinct painted values over its
    pore voxels and their voxel counts (:func:`summed_counts` of ``counts-DST``).
    """
    import dask

    W.create(root, dst, shape, chunk, "float32", 0.0)
    phase = f"paint-{dst}"
    todo = ChunkLedger(root, phase).todo(W.blocks_of(shape, chunk))
    W.run_tasks(
        [
            dask.delayed(_paint_task)(
                str(root), src, dst, phase, blk, chunk, shape, spacing, levels, halo, steps, count
            )
            for blk in todo
        ]
    )


def summed_counts(root: Path, name: str, shape, chunk) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their voxel counts over the whole volume, from the per-chunk counts
    saved by :func:`save_counts` under ``root/name``."""
    vals, cnts = [np.zeros(0, np.float32)], [np.zeros(0, np.int64)]
    for blk in W.blocks_of(shape, chunk):
        with np.load(root / name / (W.block_name(blk) + ".npz")) as part:
            vals.append(part["values"])
            cnts.append(part["counts"].astype(np.int64))
    values, counts = np.concatenate(vals), np.concatenate(cnts)
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, np.bincount(inverse, weights=counts, minlength=uniq.size).astype(np.int64)


def solid_mass_g(counts: np.ndarray, densities_g_per_cm3: Any, voxel_volume_nm3: float) -> float:
    """Sample mass (g) from the phase voxel counts, as the in-memory
    :func:`microstructure.porosimetry._core.phase_masses` (which is linear in the counts:
    it is evaluated on one voxel of each solid phase present)."""
    mass = 0.0
    for code in (1, 2):
        if counts[code]:
            one = np.full((1, 1, 1), code, dtype=np.uint8)
            try:
                per_voxel = _core.phase_masses(one, densities_g_per_cm3, voxel_volume_nm3)
            except ValueError as exc:  # the message names the phase; give the real count
                raise ValueError(
                    str(exc).replace("in 1 voxels", f"in {int(counts[code])} voxels")
                ) from None
            mass += float(counts[code]) * per_voxel
    if mass <= 0:
        raise ValueError("densities_g_per_cm3: the sample has no solid mass")
    return mass


# ------------------------------------------------------------------------ bottleneck flood


def _seeds(lo, hi, shape, faces) -> np.ndarray:
    """Inlet-face voxels inside the box (global faces only)."""
    mask = np.zeros([h - low for low, h in zip(lo, hi, strict=True)], bool)
    for axis, side in faces:
        idx = 0 if side == 0 else shape[axis] - 1
        if lo[axis] <= idx < hi[axis]:
            s = [slice(None)] * 3
            s[axis] = idx - lo[axis]
            mask[tuple(s)] = True
    return mask


def _faces_path(root: Path, tag: str, block) -> Path:
    return root / f"{tag}-faces" / (W.block_name(block) + ".npy")


def _save_faces(root: Path, tag: str, block, b: np.ndarray) -> None:
    """The six boundary layers of a chunk's bottleneck values (what its neighbours read), in
    the order z-, z+, y-, y+, x-, x+, flattened into one ``.npy`` (written atomically)."""
    (root / f"{tag}-faces").mkdir(exist_ok=True)
    flat = np.concatenate([b.take(idx, axis=ax).ravel() for ax in range(3) for idx in (0, -1)])
    W._save_npy(_faces_path(root, tag, block), flat)


def _face_layer(flat: np.ndarray, shape, ax: int, side: int) -> np.ndarray:
    """Layer ``ax``/``side`` (0: low, 1: high) of a chunk of ``shape`` from :func:`_save_faces`."""
    sizes = [int(np.prod([s for k, s in enumerate(shape) if k != a])) for a in range(3)]
    start = sum(2 * sizes[a] for a in range(ax)) + side * sizes[ax]
    layer_shape = tuple(s for k, s in enumerate(shape) if k != ax)
    return flat[start : start + sizes[ax]].reshape(layer_shape)


def _halo_box(root: Path, tag: str, block, n_blocks, chunk, shape, d, b):
    """The chunk padded by one voxel: field ``D`` (the chunk's own field inside, the face
    neighbours' current bottleneck values in the halo, 0 elsewhere), current values ``B``
    (the chunk's own, 0 in the halo) and the halo voxels to seed from."""
    shp = tuple(s + 2 for s in d.shape)
    D = np.zeros(shp, np.float32)
    B = np.zeros(shp, np.float32)
    core = (slice(1, -1),) * 3
    D[core] = d
    B[core] = b
    for ax in range(3):
        for step, mine, theirs in ((-1, 0, 1), (1, -1, 0)):
            nb = list(block)
            nb[ax] += step
            if not 0 <= nb[ax] < n_blocks[ax]:
                continue
            path = _faces_path(root, tag, nb)
            if not path.is_file():
                continue  # never raised: all zeros
            nb_shape = list(d.shape)
            nb_shape[ax] = min(chunk[ax], shape[ax] - nb[ax] * chunk[ax])
            layer = _face_layer(np.load(path), nb_shape, ax, theirs)
            idx = [slice(1, -1)] * 3
            idx[ax] = 0 if mine == 0 else shp[ax] - 1
            D[tuple(idx)] = layer
    halo = np.ones(shp, bool)
    halo[core] = False
    return D, B, halo & (D > 0), core


def _flood_block(
    root: str, names: tuple[str, str, str], phase: str, block, chunk, shape, faces, levels
) -> None:
    """One relaxation step on one chunk: raise its bottleneck values from its inlet voxels
    and its face neighbours' current boundary values (incremental, exact); its marker says
    which of its boundary layers changed (only the neighbours across those read new values)."""
    import zarr

    from microstructure.porosimetry._flood_kernel import raise_bottleneck

    src, dst, tag = names
    r = Path(root)
    ledger = ChunkLedger(root, phase)
    own = W.own(block, chunk, shape)
    n_blocks = tuple(math.ceil(s / c) for s, c in zip(shape, chunk, strict=True))
    b_z = zarr.open_array(str(r / dst), mode="r+")
    d = np.asarray(zarr.open_array(str(r / src), mode="r")[own])
    b_old = np.asarray(b_z[own])
    D, B, seeds, core = _halo_box(r, tag, block, n_blocks, chunk, shape, d, b_old)
    lo = [s.start for s in own]
    hi = [s.stop for s in own]
    seeds[core] |= _seeds(lo, hi, shape, faces) & (d > 0)
    changed = "000000"
    if seeds.any():
        counts = raise_bottleneck(D, B, levels, seeds)
        if counts[0] > 0:
            # flag first: a rerun after an interruption between the writes and the marker
            # must still publish the faces and wake the neighbours up although it then
            # finds nothing to raise
            changed = "".join("1" if f else "0" for f in counts[1:])
            ledger.flag(block)
            b_z[own] = B[core]
    if ledger.flagged(block):
        _save_faces(r, tag, block, B[core])
        if changed == "000000":
            changed = "111111"
    ledger.mark(block, changed)


def _woken(block, changed: str, n_blocks) -> list[tuple[int, int, int]]:
    """Neighbours across the changed boundary layers of ``block``."""
    out = []
    for k, flag in enumerate(changed):
        if flag != "1":
            continue
        ax, step = divmod(k, 2)
        nb = list(block)
        nb[ax] += 1 if step else -1
        if 0 <= nb[ax] < n_blocks[ax]:
            out.append(tuple(nb))
    return out


def bottleneck_flood(
    root: Path,
    chunk,
    shape,
    faces,
    levels,
    max_passes: int,
    *,
    src: str = "dt",
    dst: str = "b",
    tag: str = "flood",
) -> None:
    """Maximin field of ``src`` from the inlet faces into ``dst``, by relaxation passes until
    no chunk boundary changes; resumable (state in ``TAG.json``, phases ``TAG/K``).

    A chunk is flooded again only when a neighbour's boundary layer next to it changed: its
    result depends on nothing else (its field is fixed), so a chunk whose halo did not change
    is already at its fixed point. The passes end at the exact maximin field: every value is a
    lower bound of it and, at the end, every chunk satisfies the flood equations with its
    neighbours' current values, which only the least such field (the exact one) can do from
    below. ``levels`` (ascending float32) must hold every positive value of ``src``.
    """
    import dask

    W.create(root, dst, shape, chunk, "float32", 0.0)
    n_blocks = tuple(math.ceil(s / c) for s, c in zip(shape, chunk, strict=True))
    state = read_state(root, tag) or {
        "pass": 0,
        "active": [list(b) for b in W.blocks_of(shape, chunk)],
    }
    names = (src, dst, tag)
    while state["active"]:
        k = int(state["pass"])
        if k >= int(max_passes):
            raise RuntimeError(f"bottleneck flood did not converge in {max_passes} passes")
        phase = f"{tag}/{k}"
        active = [tuple(b) for b in state["active"]]
        ledger = ChunkLedger(root, phase)
        W.run_tasks(
            [
                dask.delayed(_flood_block)(
                    str(root), names, phase, blk, chunk, shape, faces, levels
                )
                for blk in ledger.todo(active)
            ]
        )
        nxt = {nb for blk in active for nb in _woken(blk, ledger.value(blk), n_blocks)}
        state = {"pass": k + 1, "active": [list(b) for b in sorted(nxt)]}
        write_state(root, tag, state)
