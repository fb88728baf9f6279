"""Open a stack without reading its voxels: Dask arrays over TIFF, Zarr, OME-Zarr and ``.npy``.

For viewers (napari) and previews of large run folders: only the metadata are read when the
volume is opened; slices are read when they are shown or computed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.ome import is_ome_zarr, read_ome_zarr
from microstructure.io.stacks import (
    _finish_voxel_size,
    _instrument_voxel_size,
    _tiff_attrs,
    read_metadata_voxel_size,
    read_volume,
)
from microstructure.volume import Volume

__all__ = ["open_volume_lazy"]

_KEEP = ("tilt_corrected", "phases", "label_map", "instrument", "stage")


def _lazy_tiff(p: Path) -> tuple[Any, tuple, dict, dict | None]:
    import dask.array as da
    import tifffile
    import zarr

    from microstructure.io.instrument import tiff_instrument

    try:
        with tifffile.TiffFile(p) as tif:
            attrs = _tiff_attrs(tif)
            inst = tiff_instrument(tif, p.name)
        store = tifffile.imread(p, aszarr=True)
        arr = da.from_zarr(zarr.open(store, mode="r"))
    except Exception as exc:  # tifffile / zarr raise many kinds of errors on bad files
        raise ValueError(f"{p}: cannot open as TIFF ({str(exc).splitlines()[0][:160]})") from None
    found = read_metadata_voxel_size(p)
    ours = attrs.get("voxel_size_nm")
    if isinstance(ours, list) and len(ours) == 3:
        found = tuple(float(v) for v in ours)
    elif inst and all(v is None for v in found):
        found = _instrument_voxel_size(inst)
    return arr, found, attrs, inst


def open_volume_lazy(path: str | os.PathLike, *, voxel_size_nm: Any = None) -> Volume:
    """A :class:`~microstructure.volume.Volume` whose ``data`` is a Dask array (not read yet).

    Parameters
    ----------
    path
        TIFF stack, ``.npy``, Zarr array or OME-Zarr image (its full-resolution level). A
        folder of TIFF slices is read into memory (slices are separate files).
    voxel_size_nm
        Overrides the metadata (one number or (z, y, x) in nm).

    Returns
    -------
    Volume
        Lazy data, voxel size from the metadata (as :func:`microstructure.io.read_volume`),
        ``metadata["format"]`` and our stored attributes (``stage``, ``phases``, ...).

    Raises
    ------
    FileNotFoundError, ValueError
        A missing path; an unreadable file or a non-3D array (one line naming the file).
    """
    import dask.array as da

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    attrs: dict = {}
    if is_ome_zarr(p):
        img = read_ome_zarr(p)
        data, found, attrs, fmt = (
            img.levels[0],
            img.voxel_size_nm or (None,) * 3,
            img.attrs,
            "ome-zarr",
        )
    elif p.is_file() and p.suffix.lower() in (".tif", ".tiff"):
        data, found, attrs, _ = _lazy_tiff(p)
        fmt = "tiff"
    elif p.is_file() and p.suffix.lower() == ".npy":
        try:
            data = da.from_array(np.load(p, mmap_mode="r", allow_pickle=False))
        except Exception as exc:
            raise ValueError(f"{p}: cannot read as .npy ({exc})") from None
        found, fmt = (None, None, None), "npy"
    else:
        vol = read_volume(p, voxel_size_nm=voxel_size_nm, lazy=True)
        if not hasattr(vol.data, "compute"):
            vol = Volume(da.from_array(vol.data), vol.voxel_size_nm, vol.metadata)
        return vol
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.size == 0:
        raise ValueError(f"{p}: expected a non-empty 3D array (z, y, x), got shape {data.shape}")
    vs, origin = _finish_voxel_size(tuple(found), voxel_size_nm, str(p))
    meta: dict[str, Any] = {"source": str(p), "format": fmt, "voxel_size_origin": origin}
    meta.update({k: attrs[k] for k in _KEEP if k in attrs})
    return Volume(data=data, voxel_size_nm=vs, metadata=meta)
