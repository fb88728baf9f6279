"""Matplotlib figures shared by the stages and the command line (Agg backend, files only).

Every function writes one PNG and returns its path; none keeps a figure open. Colours of the
phases are fixed so that figures of different stages and runs can be compared at a glance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.volume import Phase, parse_voxel_size

__all__ = ["PHASE_COLOURS", "labels_slice_figure", "labels_3d_figure", "profile_figure"]

#: Colour of each phase in every labels figure (pore, AM, CBD solid, CBD nanopore).
PHASE_COLOURS: dict[int, str] = {
    int(Phase.PORE): "#1b1b3a",
    int(Phase.AM): "#e8c547",
    int(Phase.CBD): "#5c9ead",
    int(Phase.CBD_PORE): "#c0392b",
}
_PHASE_NAMES = {0: "pore", 1: "AM", 2: "CBD", 3: "CBD pore"}
_AXES = "zyx"


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    from microstructure.io.tables import temp_path_beside

    target = Path(path)
    tmp = temp_path_beside(target)
    try:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        os.replace(tmp, target)
    finally:
        _pyplot().close(fig)
        if tmp.exists():
            tmp.unlink()
    return target


def labels_slice_figure(
    path: str | os.PathLike,
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    voxel_size_nm: Any,
    axis: str = "z",
    index: int | None = None,
    title: str | None = None,
) -> Path:
    """Side-by-side slices of labels volumes (or grayscale volumes) in the phase colours.

    Parameters
    ----------
    path
        PNG file to write (atomically).
    panels
        ``(caption, volume)`` pairs, all of one shape (z, y, x). Integer volumes with values
        0..3 are drawn in :data:`PHASE_COLOURS`; anything else in grey levels.
    voxel_size_nm
        Voxel size (z, y, x) in nm; the axes are labelled in micrometres.
    axis
        ``"z"``, ``"y"`` or ``"x"``: the axis normal to the slice.
    index
        Slice index along ``axis``; default the middle.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    if not panels:
        raise ValueError("panels: need at least one (caption, volume) pair")
    if axis not in _AXES:
        raise ValueError(f"axis: expected z, y or x, got {axis!r}")
    vs = parse_voxel_size(voxel_size_nm)
    shape = np.shape(panels[0][1])
    if len(shape) != 3 or any(np.shape(v) != shape for _, v in panels):
        raise ValueError("panels: every volume must be 3D and of the same shape")
    ax_i = _AXES.index(axis)
    idx = shape[ax_i] // 2 if index is None else int(index)
    if not 0 <= idx < shape[ax_i]:
        raise ValueError(f"index: {idx} outside 0..{shape[ax_i] - 1} along {axis}")
    rest = [i for i in range(3) if i != ax_i]
    extent = [0, shape[rest[1]] * vs[rest[1]] / 1000, shape[rest[0]] * vs[rest[0]] / 1000, 0]
    cmap = ListedColormap([PHASE_COLOURS[k] for k in range(4)])
    norm = BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], 4)

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    present: set[int] = set()
    for ax, (caption, vol) in zip(axes[0], panels, strict=True):
        img = np.take(np.asarray(vol), idx, axis=ax_i)
        is_labels = np.issubdtype(img.dtype, np.integer) and img.size and int(img.max()) <= 3
        if is_labels and int(img.min()) >= 0:
            ax.imshow(img, cmap=cmap, norm=norm, extent=extent, interpolation="nearest")
            present.update(int(v) for v in np.unique(img))
        else:
            ax.imshow(img, cmap="gray", extent=extent, interpolation="nearest")
        ax.set_title(caption, fontsize=10)
        ax.set_xlabel(f"{_AXES[rest[1]]} (um)")
        ax.set_ylabel(f"{_AXES[rest[0]]} (um)")
    if present:
        handles = [Patch(color=PHASE_COLOURS[k], label=_PHASE_NAMES[k]) for k in sorted(present)]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title or f"{axis} = {idx}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if present else 0, 1, 1))
    return _save(fig, path)


def profile_figure(
    path: str | os.PathLike,
    position_um: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    xlabel: str = "depth from separator side (um)",
    ylabel: str = "volume fraction",
    title: str | None = None,
) -> Path:
    """Line plot of one or more profiles against a position (e.g. phase fractions vs depth).

    Parameters
    ----------
    path
        PNG file to write (atomically).
    position_um
        Positions (x axis), micrometres.
    curves
        Name -> values, each as long as ``position_um``.
    xlabel, ylabel, title
        Axis labels and title.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    x = np.asarray(position_um, dtype=float).ravel()
    if not curves:
        raise ValueError("curves: need at least one named profile")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for name, values in curves.items():
        y = np.asarray(values, dtype=float).ravel()
        if y.shape != x.shape:
            raise ValueError(f"curves[{name!r}]: {y.size} values for {x.size} positions")
        ax.plot(x, y, label=name, lw=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def labels_3d_figure(
    path: str | os.PathLike,
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    max_voxels_per_axis: int = 56,
    title: str | None = None,
) -> Path:
    """A 3D snapshot of a labels volume: the AM surface (marching cubes), axes in um.

    Parameters
    ----------
    path
        PNG file to write (atomically).
    labels
        Labels volume (z, y, x): 0 pore, 1 AM, 2 CBD, 3 CBD pore.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    max_voxels_per_axis
        The volume is subsampled (nearest) to at most this many voxels per axis, so the
        figure takes about a second whatever the volume size.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    from skimage.measure import marching_cubes

    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"labels: expected a 3D volume, got shape {lab.shape}")
    vs = np.asarray(parse_voxel_size(voxel_size_nm), dtype=float)
    step = np.maximum(1, np.ceil(np.array(lab.shape) / max_voxels_per_axis)).astype(int)
    sub = lab[:: step[0], :: step[1], :: step[2]]
    spacing = tuple(vs * step / 1000.0)  # um
    plt = _pyplot()
    fig = plt.figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot(projection="3d")
    # one surface: matplotlib sorts polygons per collection, so a second phase would be drawn
    # over the first wholesale; the AM (or, without AM, the CBD) reads best alone
    am = sub == Phase.AM
    cbd = (sub == Phase.CBD) | (sub == Phase.CBD_PORE)
    phases = [(Phase.AM, am)] if am.any() else [(Phase.CBD, cbd)]
    drawn = []
    for code, mask in phases:
        if not mask.any() or mask.all():
            continue
        padded = np.pad(mask.astype(np.float32), 1)
        verts, faces, _, _ = marching_cubes(padded, 0.5, spacing=spacing)
        verts -= np.asarray(spacing)  # undo the padding offset
        # plot x horizontally, z (milling) in depth, y (thickness) vertically downwards
        xyz = np.column_stack([verts[:, 2], verts[:, 0], -verts[:, 1]])
        mesh = Poly3DCollection(
            xyz[faces], linewidths=0, shade=True, facecolors=PHASE_COLOURS[int(code)]
        )
        ax.add_collection3d(mesh)
        drawn.append(_PHASE_NAMES[int(code)])
    size = np.array(sub.shape) * np.asarray(spacing)
    ax.set_xlim(0, size[2])
    ax.set_ylim(0, size[0])
    ax.set_zlim(-size[1], 0)
    ax.set_box_aspect((size[2], size[0], size[1]))
    ax.set_xlabel("x (um)")
    ax.set_ylabel("z (um)")
    ax.set_zlabel("-y, depth (um)")
    ax.view_init(elev=22, azim=-58)
    ax.set_title(title or f"surfaces: {', '.join(drawn)}", fontsize=10)
    return _save(fig, path)
