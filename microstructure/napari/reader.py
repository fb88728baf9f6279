"""napari reader: stacks and labels volumes with their voxel size as layer scale, and whole run
folders (the input stack, every stage's output volume, labels in the phase colours).

:func:`read_layers` is plain Python (no napari import) so it can be used and tested anywhere;
:func:`get_reader` is the npe2 reader contribution.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from microstructure.io import read_volume
from microstructure.plot import PHASE_COLOURS
from microstructure.volume import Volume

__all__ = ["get_reader", "read_layers", "is_run_dir", "phase_colour_dict"]

LayerData = tuple[Any, dict[str, Any], str]
_SUFFIXES = (".tif", ".tiff", ".zarr", ".npy")


def phase_colour_dict() -> dict[int | None, str]:
    """Label -> colour for napari's DirectLabelColormap (unknown labels transparent)."""
    return {None: "transparent", **PHASE_COLOURS}


def is_run_dir(path: str | os.PathLike) -> bool:
    """True for an output folder of ``microstructure run`` (it holds ``report.json``)."""
    p = Path(path)
    return p.is_dir() and (p / "report.json").is_file()


def _layer(volume: Volume, name: str) -> LayerData:
    scale = volume.voxel_size_nm or (1.0, 1.0, 1.0)
    meta: dict[str, Any] = {
        "name": name,
        "scale": tuple(float(s) for s in scale),
        "units": ("nm", "nm", "nm") if volume.voxel_size_nm else None,
        "metadata": {"voxel_size_nm": volume.voxel_size_nm, **volume.metadata},
    }
    if meta["units"] is None:
        del meta["units"]
    if volume.is_labels:
        meta["colormap"] = {"direct": phase_colour_dict()}
        meta["opacity"] = 0.6
        return volume.data, meta, "labels"
    meta["colormap"] = "gray"
    return volume.data, meta, "image"


def _read_run_dir(run: Path) -> list[LayerData]:
    report = json.loads((run / "report.json").read_text())
    layers: list[LayerData] = []
    inp = (report.get("input") or {}).get("path")
    if inp:
        candidates = [Path(inp), run.parent / inp, Path.cwd() / inp]
        src = next((c for c in candidates if c.exists()), None)
        if src is not None:
            vs = (report.get("input") or {}).get("voxel_size_nm")
            vol = read_volume(src, voxel_size_nm=vs)
            layers.append(_layer(vol, f"input: {src.name}"))
    for stage in report.get("stages", []):
        if not stage.get("volume"):
            continue
        path = run / str(stage.get("dir")) / str(stage["volume"])
        if path.exists():
            layers.append(_layer(read_volume(path), f"{stage.get('dir')}"))
    if not layers:
        raise ValueError(f"{run}: run folder without readable volumes (input or stage outputs)")
    return layers


def read_layers(path: str | os.PathLike) -> list[LayerData]:
    """Layer-data tuples for a stack, a labels volume or a run folder.

    Parameters
    ----------
    path
        A TIFF / folder of TIFF slices / ``.npy`` / Zarr stack, or a run output folder.

    Returns
    -------
    list of (data, metadata, layer type)
        ``scale`` is the voxel size in nm (z, y, x) when known; labels volumes come as
        ``labels`` layers with ``colormap={"direct": {label: colour}}`` (turned into a
        napari DirectLabelColormap by :func:`get_reader`).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if is_run_dir(p):
        return _read_run_dir(p)
    vol = read_volume(p)
    return [_layer(vol, p.name)]


def _to_napari(layers: list[LayerData]) -> list[LayerData]:
    from napari.utils.colormaps import DirectLabelColormap

    out = []
    for data, meta, kind in layers:
        meta = dict(meta)
        cmap = meta.get("colormap")
        if kind == "labels" and isinstance(cmap, dict) and "direct" in cmap:
            meta["colormap"] = DirectLabelColormap(color_dict=cmap["direct"])
        out.append((data, meta, kind))
    return out


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader contribution: a reader function for paths we understand, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if not (
        is_run_dir(p)
        or p.suffix.lower() in _SUFFIXES
        or (p.is_dir() and any(q.suffix.lower() in (".tif", ".tiff") for q in p.iterdir()))
    ):
        return None

    def _read(path_: Any) -> list[LayerData]:
        p_ = path_[0] if isinstance(path_, list) else path_
        return _to_napari(read_layers(p_))

    return _read
