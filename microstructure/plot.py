"""Matplotlib figures shared by the stages and the command line (files only, no global state).

Every figure is a :class:`matplotlib.figure.Figure` built directly (no state-machine
interface, so no global backend is chosen and nothing is left open) and written with
:func:`save_figure`, an atomic PNG write. Functions named ``*_figure`` that take a ``path``
write one PNG and return its path; :func:`image_panels_figure` returns the figure. Colours of
the phases are fixed so that figures of different stages and runs can be compared at a
glance. Style: units on every axis, labelled colour bars, image axes in micrometres when the
pixel size is known.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from microstructure.volume import Phase, parse_voxel_size

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PHASE_COLOURS",
    "DEFAULT_DPI",
    "new_figure",
    "save_figure",
    "robust_limits",
    "image_panels_figure",
    "labels_slice_figure",
    "labels_3d_figure",
    "profile_figure",
    "mip_curves_axes",
    "plain_log_axis",
    "plain_number",
    "add_scale_bar",
]

#: Colour of each phase in every labels figure (pore, AM, CBD solid, CBD nanopore).
PHASE_COLOURS: dict[int, str] = {
    int(Phase.PORE): "#1b1b3a",
    int(Phase.AM): "#e8c547",
    int(Phase.CBD): "#5c9ead",
    int(Phase.CBD_PORE): "#c0392b",
}
_PHASE_NAMES = {0: "pore", 1: "AM", 2: "CBD", 3: "CBD pore"}
_AXES = "zyx"

#: Resolution of every PNG written by :func:`save_figure` unless told otherwise.
DEFAULT_DPI = 110


def new_figure(figsize: tuple[float, float] = (6.4, 4.8), **kwargs: Any) -> Figure:
    """A :class:`~matplotlib.figure.Figure` with an Agg canvas attached (no global figure manager).

    Parameters
    ----------
    figsize
        Width and height in inches.
    **kwargs
        Passed on to :class:`~matplotlib.figure.Figure`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure that can be drawn, laid out and saved without any global state.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = DEFAULT_DPI) -> Path:
    """Write ``fig`` atomically (temporary file beside the target, then rename).

    Parameters
    ----------
    fig
        A figure built with :class:`~matplotlib.figure.Figure` (or :func:`new_figure`); an
        Agg canvas is attached when it has none; the global backend is never changed.
    path
        File to write: PNG, unless its suffix names another format matplotlib writes
        (``.svg``, ``.pdf``...).
    dpi
        Resolution.

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from microstructure.io.tables import atomic_path

    if getattr(fig, "canvas", None) is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        FigureCanvasAgg(fig)
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in fig.canvas.get_supported_filetypes():
        fmt = "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return target


def robust_limits(*images: np.ndarray) -> tuple[float, float]:
    """Shared 0.5-99.5 percentile grey limits of one or more images (``hi > lo`` always)."""
    vals = np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in images])
    lo, hi = np.percentile(vals, [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def plain_number(value: float) -> str:
    """A tick label without powers of ten: ``0.05``, ``2``, ``300``, ``1000``, ``20000``."""
    v = float(value)
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    if abs(v) >= 1:
        return f"{v:.0f}" if abs(v - round(v)) < 1e-9 * abs(v) else f"{v:.6g}"
    digits = max(0, int(np.ceil(-np.log10(abs(v)))) + 2)
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


def _plain_log_locator() -> Any:
    """Major ticks of a log axis chosen when the axis is drawn: decades over more than four
    decades, 1-3 over three to four, 1-2-5 over one to three, 1-1.5-2-3-4-6-8 within one and
    finer below a factor of three (always a few labels, never crowded)."""
    from matplotlib.ticker import LogLocator

    class PlainLogLocator(LogLocator):
        def tick_values(self, vmin: float, vmax: float) -> Any:
            lo, hi = sorted((abs(vmin), abs(vmax)))
            if lo > 0 and np.isfinite(hi):
                span = hi / lo
                if span > 1e4:
                    subs: tuple[float, ...] = (1.0,)
                elif span > 1e3:
                    subs = (1.0, 3.0)
                elif span > 10.0:
                    subs = (1.0, 2.0, 5.0)
                elif span > 3.0:
                    subs = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
                else:
                    subs = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
                self.set_params(subs=subs)
            ticks = np.asarray(super().tick_values(vmin, vmax))
            return _thin_to_fit(ticks, self.axis, vmin, vmax)

    return PlainLogLocator(base=10.0, subs=(1.0,), numticks=12)


def _tick_label_points(axis: Any) -> float:
    """Font size (pt) of an axis' tick labels, from its tick settings or the rcParams (never
    by asking the axis for its labels, which would call the locator again)."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    size = getattr(axis, "_major_tick_kw", {}).get("labelsize")
    if size is None:
        size = rcParams[f"{axis.axis_name}tick.labelsize"]
    return float(FontProperties(size=size).get_size_in_points())


def _thin_to_fit(ticks: np.ndarray, axis: Any, vmin: float, vmax: float) -> np.ndarray:
    """Keep every k-th visible tick (decades first) so that the plain-number labels fit the
    axis' length in pixels (a narrow napari dock, a small panel): labels never overlap."""
    if axis is None or ticks.size < 3:
        return ticks
    try:
        bbox = axis.axes.get_window_extent()
        horizontal = axis.axis_name == "x"
        length_px = float(bbox.width if horizontal else bbox.height)
        size_pt = _tick_label_points(axis)
    except AttributeError:
        return ticks
    lo, hi = sorted((vmin, vmax))
    visible = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
    if visible.size < 3 or not np.isfinite(length_px) or length_px <= 0:
        return ticks
    dpi = float(axis.figure.dpi) if axis.figure is not None else 100.0
    char_px = 0.62 * size_pt * dpi / 72.0
    if horizontal:
        widest = max(len(plain_number(v)) for v in visible)
        per_label = (widest + 2) * char_px
    else:
        per_label = 2.0 * size_pt * dpi / 72.0
    fits = max(2, int(length_px // per_label))
    if visible.size <= fits:
        return ticks
    decades = visible[np.isclose(np.log10(visible), np.round(np.log10(visible)))]
    pool = decades if decades.size >= 2 else visible
    step = int(np.ceil(pool.size / fits))
    return pool[::step]


def plain_log_axis(ax: Any, which: str = "x") -> None:
    """Logarithmic axis with plain-number labels (``100 200 500 1000``, never ``6x10^2``).

    The major ticks are chosen when the axis is drawn (so later limit changes keep a few
    readable labels); minor ticks stay unlabelled, so labels never overlap.

    Parameters
    ----------
    ax
        A matplotlib Axes.
    which
        ``"x"``, ``"y"`` or ``"both"``.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if which not in ("x", "y", "both"):
        raise ValueError(f"which: expected 'x', 'y' or 'both', got {which!r}")
    if which in ("x", "both") and ax.get_xscale() != "log":
        ax.set_xscale("log")
    if which in ("y", "both") and ax.get_yscale() != "log":
        ax.set_yscale("log")
    axes = {"x": [ax.xaxis], "y": [ax.yaxis], "both": [ax.xaxis, ax.yaxis]}[which]
    for axis in axes:
        axis.set_major_locator(_plain_log_locator())
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: plain_number(v)))
        axis.set_minor_locator(LogLocator(base=10.0, subs=np.arange(2, 10), numticks=12))
        axis.set_minor_formatter(NullFormatter())


def add_scale_bar(ax: Any, width_um: float, *, pixel_units: bool = False) -> None:
    """A scale bar in the lower left corner of an image axes drawn in micrometres.

    Parameters
    ----------
    ax
        Axes whose data coordinates are micrometres (an ``imshow`` with an extent in um).
    width_um
        Width of the field of view (um); the bar is a round length near a fifth of it.
    pixel_units
        Unused by the figures here (kept for images in pixels: nothing is drawn).
    """
    if pixel_units or not (np.isfinite(width_um) and width_um > 0):
        return
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    target = width_um / 5.0
    mag = 10.0 ** np.floor(np.log10(target))
    length = max(m * mag for m in (1.0, 2.0, 5.0) if m * mag <= target)
    label = f"{plain_number(length)} um"
    height_um = abs(float(np.subtract(*ax.get_ylim()))) or width_um
    bar = AnchoredSizeBar(
        ax.transData, length, label, "lower left", pad=0.4, borderpad=0.6, sep=3,
        color="white", frameon=True, size_vertical=min(width_um, height_um) / 120.0,
        fontproperties=FontProperties(size=8),
    )  # fmt: skip
    bar.patch.set_facecolor((0, 0, 0, 0.55))
    bar.patch.set_edgecolor("none")
    ax.add_artist(bar)


def _panel_pixel_sizes(pixel_size_nm: Any, n: int) -> list[tuple[float, float] | None]:
    """``(dy, dx)`` per panel from one pair, one pair per panel, or None."""
    if pixel_size_nm is None:
        return [None] * n
    arr = np.asarray(pixel_size_nm, dtype=float)
    if arr.shape == (2,):
        return [(float(arr[0]), float(arr[1]))] * n
    if arr.shape == (n, 2):
        return [(float(a), float(b)) for a, b in arr]
    raise ValueError(
        f"pixel_size_nm: expected (dy, dx) or one (dy, dx) per panel ({n}), got {pixel_size_nm!r}"
    )


def image_panels_figure(
    panels: Sequence[tuple[str, np.ndarray, bool]],
    title: str,
    *,
    pixel_size_nm: tuple[float, float] | Sequence[tuple[float, float]] | None = None,
    aspect: float = 1.0,
) -> Figure:
    """A row of grey-value image panels, e.g. input, output and what a filter removed.

    Parameters
    ----------
    panels
        ``(title, image, own_limits)`` per panel, each image 2D (y, x). Panels with
        ``own_limits`` are drawn in a symmetric diverging map (``RdBu_r``, limits +-99.5th
        percentile of ``|image|``) with a labelled colour bar of their own; the others share
        robust grey limits (0.5-99.5th percentile of all of them together).
    title
        Figure title.
    pixel_size_nm
        ``(dy, dx)`` in nm, or one such pair per panel (e.g. before and after a resampling):
        the axes are in micrometres and each panel has a scale bar. Without it the axes
        count pixels.
    aspect
        Aspect ratio of the drawn image (y unit over x unit), as in ``imshow``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (constrained layout: titles and colour bars are never clipped); write it
        with :func:`save_figure`.
    """
    if not panels:
        raise ValueError("panels: need at least one (title, image, own_limits) panel")
    shared = robust_limits(*[img for _, img, own in panels if not own] or [panels[0][1]])
    fig = new_figure((4.3 * len(panels) + 0.6, 4.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    sizes = _panel_pixel_sizes(pixel_size_nm, len(panels))
    for ax, (name, img, own), size in zip(axes, panels, sizes, strict=True):
        img = np.asarray(img)
        extent = None
        unit = "px"
        if size is not None:
            dy, dx = size
            extent = (0.0, img.shape[1] * dx / 1000.0, img.shape[0] * dy / 1000.0, 0.0)
            unit = "um"
        if own:
            m = float(np.percentile(np.abs(img), 99.5)) or 1.0
            im = ax.imshow(img, cmap="RdBu_r", vmin=-m, vmax=m, aspect=aspect, extent=extent)
            cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            cbar.set_label(f"{name} (grey value)")
        else:
            ax.imshow(
                img, cmap="gray", vmin=shared[0], vmax=shared[1], aspect=aspect, extent=extent
            )
        if extent is not None:
            add_scale_bar(ax, extent[1])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"x ({unit})")
        ax.set_ylabel(f"y ({unit})")
    fig.suptitle(title, fontsize=10)
    return fig


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

    fig = new_figure((4.2 * len(panels), 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)
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
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title or f"{axis} = {idx}", fontsize=11)
    return save_figure(fig, path)


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
    fig = new_figure((7.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for name, values in curves.items():
        y = np.asarray(values, dtype=float).ravel()
        if y.shape != x.shape:
            raise ValueError(f"curves[{name!r}]: {y.size} values for {x.size} positions")
        ax.plot(x, y, label=name, lw=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", frameon=False)  # never over the curves
    if title:
        ax.set_title(title, fontsize=11)
    return save_figure(fig, path)


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
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3d projection)
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    from skimage.measure import marching_cubes

    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"labels: expected a 3D volume, got shape {lab.shape}")
    vs = np.asarray(parse_voxel_size(voxel_size_nm), dtype=float)
    step = np.maximum(1, np.ceil(np.array(lab.shape) / max_voxels_per_axis)).astype(int)
    sub = lab[:: step[0], :: step[1], :: step[2]]
    spacing = tuple(vs * step / 1000.0)  # um
    fig = new_figure((6.4, 5.6))
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
    return save_figure(fig, path)


def mip_curves_axes(curves: Sequence[tuple[Any, str]], ax_cum: Any, ax_psd: Any) -> None:
    """Draw MIP-type curves: cumulative intrusion and dV/dlogD against the throat diameter.

    Parameters
    ----------
    curves
        ``(curve, line style)`` pairs; each curve is a
        :class:`~microstructure.porosimetry.MipCurve` (``diameter_nm``, ``normalized()``,
        ``d_values()``, ``psd()``, ``total_saturation``, ``label``). Each curve's D50 is
        marked.
    ax_cum, ax_psd
        Matplotlib ``Axes`` (cleared first): the normalised cumulative intrusion and the
        normalised dV/dlogD, both on a reversed logarithmic diameter axis, as porosimeters
        plot them.
    """
    a, b = ax_cum, ax_psd
    a.clear()
    b.clear()
    for i, (curve, style) in enumerate(curves):
        colour = f"C{i % 10}"
        order = np.argsort(curve.diameter_nm)[::-1]
        d = curve.diameter_nm[order]
        s = curve.normalized()[order]
        a.plot(d, s, style, color=colour, label=curve.label, lw=1.5)
        d50 = curve.d_values().get("d50_nm", float("nan"))
        if np.isfinite(d50):
            a.axvline(d50, color=colour, lw=0.8, ls=":")
        psd = curve.psd(quantity="saturation")
        total = curve.total_saturation
        y = psd.dv_dlogd / total if total > 0 else psd.dv_dlogd
        b.plot(psd.diameter_nm, y, style, color=colour, marker=".", label=curve.label)
    for ax in (a, b):
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
        ax.set_xlabel("throat diameter D (nm)")
        ax.grid(alpha=0.3, which="both")
        if curves:
            ax.invert_xaxis()
            ax.legend(fontsize=7, frameon=False)
    a.set_ylabel("cumulative intrusion / total (fraction)")
    b.set_ylabel("dV/dlogD / total (1/decade)")
