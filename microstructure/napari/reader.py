"""napari reader: stacks, labels volumes, OME-Zarr images and whole run folders, opened lazily.

Layers get axis names ``z, y, x``, the voxel size as scale in micrometres (units ``um``) and
Dask data (slices are read when shown). A run folder (``microstructure run`` output, holding
``report.json``) opens as the input stack, every stage's output volume and the final labels on
top; only the input and the final labels are visible. Labels come in the phase colours.

:func:`read_layers` is plain Python (no napari import) so it can be used and tested anywhere;
:func:`get_reader` is the npe2 reader contribution.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io import is_ome_zarr, open_volume_lazy, read_ome_zarr
from microstructure.plot import PHASE_COLOURS
from microstructure.volume import Volume

__all__ = [
    "get_reader",
    "read_layers",
    "is_run_dir",
    "phase_colour_dict",
    "layer_data",
    "run_input_path",
    "AXES",
]

LayerData = tuple[Any, dict[str, Any], str]
_SUFFIXES = (".tif", ".tiff", ".zarr", ".npy")
#: axis names of every layer
AXES = ("z", "y", "x")


def phase_colour_dict() -> dict[int | None, str]:
    """Label -> colour for napari's DirectLabelColormap (unknown labels transparent)."""
    return {None: "transparent", **PHASE_COLOURS}


def is_run_dir(path: str | os.PathLike) -> bool:
    """True for an output folder of ``microstructure run`` (it holds ``report.json``)."""
    p = Path(path)
    return p.is_dir() and (p / "report.json").is_file()


def _looks_like_labels(data: Any) -> bool:
    """Integer data whose middle slice holds only phase codes 0-3 (reads one slice)."""
    if not np.issubdtype(data.dtype, np.integer):
        return False
    mid = np.asarray(data[data.shape[0] // 2])
    return bool(mid.size and int(mid.min()) >= 0 and int(mid.max()) <= 3)


def layer_data(
    data: Any,
    voxel_size_nm: tuple[float, float, float] | None,
    name: str,
    *,
    labels: bool,
    visible: bool = True,
    metadata: dict[str, Any] | None = None,
) -> LayerData:
    """One layer-data tuple: scale in um with units and axis names, phase colours for labels.

    ``data`` may be one array or a list of resolution levels (a multiscale layer), in which
    case ``voxel_size_nm`` is the voxel size of the first level.
    """
    meta: dict[str, Any] = {
        "name": name,
        "axis_labels": AXES,
        "visible": visible,
        "metadata": {"voxel_size_nm": voxel_size_nm, **(metadata or {})},
    }
    if voxel_size_nm is not None:
        meta["scale"] = tuple(float(v) / 1000.0 for v in voxel_size_nm)
        meta["units"] = ("um", "um", "um")
    if isinstance(data, list):
        meta["multiscale"] = len(data) > 1
        data = data if len(data) > 1 else data[0]
    if labels:
        meta["colormap"] = {"direct": phase_colour_dict()}
        meta["opacity"] = 0.7
        return data, meta, "labels"
    meta["colormap"] = "gray"
    return data, meta, "image"


def _volume_layer(vol: Volume, name: str, *, visible: bool = True) -> LayerData:
    keep = {k: v for k, v in vol.metadata.items() if k in ("source", "stage", "format")}
    return layer_data(
        vol.data,
        vol.voxel_size_nm,
        name,
        labels=_looks_like_labels(vol.data),
        visible=visible,
        metadata=keep,
    )


def run_input_path(run: Path, report: dict[str, Any]) -> Path | None:
    """The run's input stack: the recorded path (absolute since the runner resolves it; a
    relative one of an older run is tried against the run folder's parent and the current
    folder), or ``None`` when it is gone."""
    inp = (report.get("input") or {}).get("path")
    if not inp:
        return None
    p = Path(inp)
    candidates = [p] if p.is_absolute() else [run.parent / p, Path.cwd() / p, run / p]
    return next((c for c in candidates if c.exists()), None)


def _read_run_dir(run: Path) -> list[LayerData]:
    report = json.loads((run / "report.json").read_text())
    layers: list[LayerData] = []
    src = run_input_path(run, report)
    if src is not None:
        vs = (report.get("input") or {}).get("voxel_size_nm")
        vol = open_volume_lazy(src, voxel_size_nm=vs)
        layers.append(_volume_layer(vol, f"input: {src.name}"))
    stages = []
    for stage in report.get("stages", []):
        if stage.get("volume"):
            path = run / str(stage.get("dir")) / str(stage["volume"])
            if path.exists():
                stages.append(_volume_layer(open_volume_lazy(path), f"{stage.get('dir')}"))
    if not layers and not stages:
        raise ValueError(f"{run}: run folder without readable volumes (input or stage outputs)")
    final = max((i for i, ly in enumerate(stages) if ly[2] == "labels"), default=None)
    for i, (data, meta, kind) in enumerate(stages):
        meta["visible"] = i == final  # only the input and the final labels are shown
        layers.append((data, meta, kind))
    if final is not None and final != len(stages) - 1:  # final labels on top
        layers.append(layers.pop(len(layers) - len(stages) + final))
    return layers


def _read_ome_zarr(path: Path) -> list[LayerData]:
    img = read_ome_zarr(path)
    meta = {"source": str(path), "format": "ome-zarr", **img.attrs}
    # a labels volume written by us is stored as image and as image-label: show it once
    labels_image = "phases" in img.labels and _looks_like_labels(img.levels[-1])
    layers = []
    if not labels_image:
        layers.append(
            layer_data(
                img.levels,
                img.voxel_size_nm,
                path.name,
                labels=_looks_like_labels(img.levels[0]),
                metadata=meta,
            )
        )
    for name, lab in img.labels.items():
        layers.append(
            layer_data(lab["levels"], img.voxel_size_nm, name, labels=True, metadata=meta)
        )
    return layers


def read_layers(path: str | os.PathLike) -> list[LayerData]:
    """Layer-data tuples for a stack, a labels volume, an OME-Zarr image or a run folder.

    Parameters
    ----------
    path
        A TIFF / folder of TIFF slices / ``.npy`` / Zarr / OME-Zarr stack, or a run folder.

    Returns
    -------
    list of (data, metadata, layer type)
        Dask data; ``scale`` is the voxel size in micrometres (z, y, x) with ``units`` ``um``
        when known; labels volumes come as ``labels`` layers with
        ``colormap={"direct": {label: colour}}`` (turned into a napari DirectLabelColormap
        by :func:`get_reader`).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if is_run_dir(p):
        return _read_run_dir(p)
    if is_ome_zarr(p):
        return _read_ome_zarr(p)
    return [_volume_layer(open_volume_lazy(p), p.name)]


def to_napari(layers: list[LayerData]) -> list[LayerData]:
    """Layer-data tuples with napari objects (DirectLabelColormap) in place of plain dicts."""
    from napari.utils.colormaps import DirectLabelColormap

    out = []
    for data, meta, kind in layers:
        meta = dict(meta)
        cmap = meta.get("colormap")
        if kind == "labels" and isinstance(cmap, dict) and "direct" in cmap:
            meta["colormap"] = DirectLabelColormap(color_dict=cmap["direct"])
        out.append((data, meta, kind))
    return out


_to_napari = to_napari  # the name used by ``microstructure.cli.commands.open_viewer``


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader contribution: a reader function for paths we understand, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if not (
        is_run_dir(p)
        or is_ome_zarr(p)
        or p.suffix.lower() in _SUFFIXES
        or (p.is_dir() and any(q.suffix.lower() in (".tif", ".tiff") for q in p.iterdir()))
    ):
        return None

    def _read(path_: Any) -> list[LayerData]:
        p_ = path_[0] if isinstance(path_, list) else path_
        return to_napari(read_layers(p_))

    return _read
